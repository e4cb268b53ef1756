use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;

use pretty_assertions::assert_eq;

use super::*;

fn write_file(path: &Path, mode: u32) {
    std::fs::write(path, "#!/bin/sh\n").expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn find_program_searches_path_in_order_and_skips_non_executables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (first, second) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&first).expect("mkdir");
    std::fs::create_dir_all(&second).expect("mkdir");
    write_file(&first.join("tool"), 0o644);
    write_file(&second.join("tool"), 0o755);
    let path_env = std::env::join_paths([&first, &second]).expect("join");

    let found = find_program(OsStr::new("tool"), Some(&path_env), Path::new("/"));

    assert_eq!(found.expect("found"), second.join("tool"));
}

#[test]
fn find_program_takes_a_name_with_a_slash_relative_to_cwd() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("bin")).expect("mkdir");
    write_file(&dir.path().join("bin/run"), 0o755);

    let found = find_program(OsStr::new("bin/run"), None, dir.path());

    assert_eq!(found.expect("found"), dir.path().join("bin/run"));
}

#[test]
fn find_program_reports_enoent_or_eacces_like_execvp() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(&dir.path().join("plain"), 0o644);
    let path_env = dir.path().as_os_str();

    let errno = |program: &str| {
        find_program(OsStr::new(program), Some(path_env), dir.path())
            .expect_err("must fail")
            .raw_os_error()
    };

    assert_eq!(
        (
            errno("missing"),
            errno("plain"),
            errno("./missing"),
            errno("./plain")
        ),
        (
            Some(libc::ENOENT),
            Some(libc::EACCES),
            Some(libc::ENOENT),
            Some(libc::EACCES)
        )
    );
}

#[test]
fn placeholders_are_removed_by_the_last_sandbox_that_mounts_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = AbsolutePathBuf::try_from_absolute(dir.path()).expect("absolute");
    let git = root.join(".git");
    let codex = root.join(".codex");
    std::fs::create_dir(codex.as_path()).expect("mkdir");

    // The first sandbox creates `.git` as a placeholder; `.codex` is a real directory.
    let first = PlaceholderLease::take(
        &mut live_placeholders(),
        std::slice::from_ref(&git),
        &[codex.clone(), git.clone()],
    );
    std::fs::create_dir(git.as_path()).expect("bubblewrap's mount point");
    // The second finds `.git` existing, but it is the first one's placeholder.
    let second =
        PlaceholderLease::take(&mut live_placeholders(), &[], &[codex.clone(), git.clone()]);
    assert_eq!(second.paths, vec![git.clone()]);

    drop(first);
    assert!(
        git.as_path().is_dir(),
        "still mounted by the second sandbox"
    );
    drop(second);
    assert!(!git.as_path().exists());
    assert!(codex.as_path().is_dir(), "never a placeholder");
}

#[test]
fn sandboxes_reaching_a_root_through_a_symlink_share_its_placeholders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let real = AbsolutePathBuf::try_from_absolute(dir.path().canonicalize().expect("canonical"))
        .expect("absolute")
        .join("real");
    std::fs::create_dir(real.as_path()).expect("mkdir");
    let link = AbsolutePathBuf::try_from_absolute(dir.path().join("link")).expect("absolute");
    std::os::unix::fs::symlink(real.as_path(), link.as_path()).expect("symlink");
    let (via_link, via_real) = (link.join(".git"), real.join(".git"));

    let first = PlaceholderLease::take(
        &mut live_placeholders(),
        std::slice::from_ref(&via_link),
        std::slice::from_ref(&via_link),
    );
    std::fs::create_dir(via_real.as_path()).expect("bubblewrap's mount point");
    let second = PlaceholderLease::take(
        &mut live_placeholders(),
        &[],
        std::slice::from_ref(&via_real),
    );

    drop(first);
    assert!(
        via_real.as_path().is_dir(),
        "still mounted by the second sandbox"
    );
    drop(second);
    assert!(!via_real.as_path().exists());
}
