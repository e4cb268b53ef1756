use std::path::Path;

use codex_protocol::ReadOnlyAccess;
use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;
use pretty_assertions::assert_eq;

use super::Guard;
use super::resolve;
use super::write_resolved;
use crate::file_system::FileSystemError;

fn abs(path: impl AsRef<Path>) -> AbsolutePathBuf {
    AbsolutePathBuf::try_from_absolute(path.as_ref()).unwrap()
}

fn workspace(root: &AbsolutePathBuf) -> SandboxPolicy {
    SandboxPolicy::WorkspaceWrite {
        writable_roots: vec![root.clone()],
        read_only_access: ReadOnlyAccess::Restricted {
            include_platform_defaults: false,
            readable_roots: Vec::new(),
        },
        network_access: false,
        exclude_tmpdir_env_var: true,
        exclude_slash_tmp: true,
    }
}

/// root/ and outside/ (with outside/secret) in a fresh temp dir.
fn fixture() -> (tempfile::TempDir, AbsolutePathBuf, AbsolutePathBuf) {
    let base = tempfile::tempdir().unwrap();
    let canonical = std::fs::canonicalize(base.path()).unwrap();
    let root = abs(canonical.join("root"));
    let outside = abs(canonical.join("outside"));
    std::fs::create_dir(&root).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), "secret").unwrap();
    (base, root, outside)
}

fn kind(result: Result<(), FileSystemError>) -> Option<&'static str> {
    result.err().and_then(|err| err.kind())
}

/// A real check/use race cannot be produced deterministically, so this runs the two
/// halves of `write_file` by hand and swaps the directory in between.
#[test]
fn a_directory_swapped_for_a_symlink_between_check_and_use_is_refused() {
    let (_base, root, outside) = fixture();
    std::fs::create_dir(root.join("sub")).unwrap();
    let guard = Guard::new(
        Some(&workspace(&root)),
        /*env_tmpdir*/ None,
        Vec::new(),
        /*root_pins*/ None,
    )
    .unwrap();
    let target = root.join("sub/new.txt");
    let resolved = resolve(&target).unwrap().path();
    assert_eq!(guard.check_write(&resolved), Ok(()));

    std::fs::remove_dir(root.join("sub")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("sub")).unwrap();

    assert_eq!(
        kind(write_resolved(&resolved, &target, b"pwned")),
        Some("sandboxDenied")
    );
    assert!(!outside.join("new.txt").as_path().exists());
}

#[test]
fn a_file_swapped_for_a_symlink_between_check_and_use_is_refused() {
    let (_base, root, outside) = fixture();
    std::fs::write(root.join("file"), "mine").unwrap();
    let guard = Guard::new(
        Some(&workspace(&root)),
        /*env_tmpdir*/ None,
        Vec::new(),
        /*root_pins*/ None,
    )
    .unwrap();
    let target = root.join("file");
    let resolved = resolve(&target).unwrap().path();
    assert_eq!(guard.check_write(&resolved), Ok(()));

    std::fs::remove_file(root.join("file")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), root.join("file")).unwrap();

    assert_eq!(
        kind(write_resolved(&resolved, &target, b"pwned")),
        Some("sandboxDenied")
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("secret")).unwrap(),
        "secret"
    );
}

#[test]
fn resolve_follows_symlinks_of_the_existing_prefix_and_keeps_the_missing_rest() {
    let (_base, root, outside) = fixture();
    std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
    let resolved = resolve(&root.join("link/a/b")).unwrap();
    assert_eq!(
        (resolved.existing, resolved.missing),
        (outside.into_path_buf(), vec!["a".into(), "b".into()])
    );
}

#[test]
fn the_policy_binds_no_cwd() {
    let (_base, root, _outside) = fixture();
    // Without writable roots or temp dirs nothing is writable: the absent cwd grants nothing.
    let policy = SandboxPolicy::WorkspaceWrite {
        writable_roots: Vec::new(),
        read_only_access: ReadOnlyAccess::FullAccess,
        network_access: false,
        exclude_tmpdir_env_var: true,
        exclude_slash_tmp: true,
    };
    let guard = Guard::new(
        Some(&policy),
        /*env_tmpdir*/ None,
        Vec::new(),
        /*root_pins*/ None,
    )
    .unwrap();
    assert_eq!(
        (
            guard.check_read(root.as_path()).is_ok(),
            guard.check_write(root.as_path()).is_ok(),
            guard.check_write(Path::new("/")).is_ok(),
        ),
        (true, false, false)
    );
}
