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
    write_file(&first.join("tool"), /*mode*/ 0o644);
    write_file(&second.join("tool"), /*mode*/ 0o755);
    let path_env = std::env::join_paths([&first, &second]).expect("join");

    let found = find_program(OsStr::new("tool"), Some(&path_env), Path::new("/"));

    assert_eq!(found.expect("found"), second.join("tool"));
}

#[test]
fn find_program_takes_a_name_with_a_slash_relative_to_cwd() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("bin")).expect("mkdir");
    write_file(&dir.path().join("bin/run"), /*mode*/ 0o755);

    let found = find_program(OsStr::new("bin/run"), /*path_env*/ None, dir.path());

    assert_eq!(found.expect("found"), dir.path().join("bin/run"));
}

#[test]
fn find_program_reports_enoent_or_eacces_like_execvp() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_file(&dir.path().join("plain"), /*mode*/ 0o644);
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
