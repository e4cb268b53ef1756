//! A directory tree as a value, to compare whole trees (byte for byte) in one assertion.

use std::collections::BTreeMap;
use std::path::Path;
use std::path::PathBuf;

/// What is at one path of a tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A directory.
    Dir,
    /// A regular file, shown as text when it is UTF-8 (readable diffs), else as bytes.
    Text(String),
    Bytes(Vec<u8>),
    /// A symbolic link and its target.
    Link(PathBuf),
}

/// Every path below `root` (relative), sorted; symlinks are not followed.
pub fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    walk(root, root, /*follow*/ false, &mut out);
    out
}

/// [`snapshot`] of a fixture, following symlinks: under Bazel the files of a test's
/// runfiles tree are links to the sources.
pub fn snapshot_fixture(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    walk(root, root, /*follow*/ true, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, follow: bool, out: &mut BTreeMap<String, Node>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let entry = entry.expect("entry");
        let path = entry.path();
        let relative = path
            .strip_prefix(root)
            .expect("below root")
            .to_string_lossy()
            .into_owned();
        let kind = if follow {
            std::fs::metadata(&path).expect("metadata").file_type()
        } else {
            entry.file_type().expect("file type")
        };
        if kind.is_symlink() {
            let target = std::fs::read_link(&path).expect("link");
            out.insert(relative, Node::Link(target));
        } else if kind.is_dir() {
            out.insert(relative, Node::Dir);
            walk(root, &path, follow, out);
        } else {
            let bytes = std::fs::read(&path).expect("read");
            let node = match String::from_utf8(bytes) {
                Ok(text) => Node::Text(text),
                Err(err) => Node::Bytes(err.into_bytes()),
            };
            out.insert(relative, node);
        }
    }
}

/// Copies the tree at `from` (files and directories, symlinks followed) into `to`, which
/// must exist.
pub fn copy_tree(from: &Path, to: &Path) {
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    for entry in entries {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
