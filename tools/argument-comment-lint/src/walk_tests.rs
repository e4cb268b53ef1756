use std::path::PathBuf;

use pretty_assertions::assert_eq;

use super::rust_files;

#[test]
fn walks_rust_files_skipping_build_output_and_hidden_directories() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for file in [
        "a.rs",
        "notes.txt",
        "sub/c.rs",
        "sub/deeper/d.rs",
        "target/debug/x.rs",
        "bazel-out/y.rs",
        ".git/z.rs",
    ] {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "").unwrap();
    }
    // A link to a file is followed; a link back up the tree is walked once.
    std::os::unix::fs::symlink(root.join("a.rs"), root.join("sub/linked.rs")).unwrap();
    std::os::unix::fs::symlink(root, root.join("sub/loop")).unwrap();
    std::os::unix::fs::symlink(root.join("missing.rs"), root.join("dangling.rs")).unwrap();

    let found: Vec<PathBuf> = rust_files(root)
        .unwrap()
        .into_iter()
        .map(|path| path.strip_prefix(root).unwrap().to_path_buf())
        .collect();
    assert_eq!(
        found,
        ["a.rs", "sub/c.rs", "sub/deeper/d.rs", "sub/linked.rs"]
            .map(PathBuf::from)
            .to_vec()
    );
    // A file named directly is checked whatever its name.
    assert_eq!(
        rust_files(&root.join("notes.txt")).unwrap(),
        vec![root.join("notes.txt")]
    );
    assert_eq!(
        rust_files(&root.join("nothing-here")).map_err(|err| err.kind()),
        Err(std::io::ErrorKind::NotFound)
    );
}
