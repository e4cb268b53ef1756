use std::os::unix::fs::PermissionsExt;

use codex_utils_absolute_path::AbsolutePathBuf;
use pretty_assertions::assert_eq;

use super::PlaceholderLease;
use crate::bwrap_argv::PLACEHOLDER_MODE;

fn fixture() -> (tempfile::TempDir, AbsolutePathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = AbsolutePathBuf::try_from_absolute(dir.path().canonicalize().expect("canonical"))
        .expect("absolute");
    (dir, root)
}

fn mode(path: &AbsolutePathBuf) -> Option<u32> {
    std::fs::symlink_metadata(path.as_path())
        .ok()
        .map(|meta| meta.permissions().mode() & 0o7777)
}

#[test]
fn a_placeholder_is_created_with_its_mode_and_removed_by_the_last_holder() {
    let (_dir, root) = fixture();
    let git = root.join(".git");

    let first = PlaceholderLease::acquire(std::slice::from_ref(&git)).expect("first");
    let created = mode(&git);
    // A second sandbox (another process, as far as the lock is concerned: every lease
    // opens its own descriptor) holds the same placeholder.
    let second = PlaceholderLease::acquire(std::slice::from_ref(&git)).expect("second");
    first.release();
    let after_first = mode(&git);
    second.release();

    assert_eq!(
        (created, after_first, mode(&git)),
        (Some(PLACEHOLDER_MODE), Some(PLACEHOLDER_MODE), None)
    );
}

#[test]
fn a_placeholder_held_by_another_process_survives_our_release() {
    // The cross-process case: a child process holds the lock (as a second server's
    // sandbox would) while this one releases.
    let (_dir, root) = fixture();
    let git = root.join(".git");
    // A placeholder the other process holds first.
    std::fs::create_dir(git.as_path()).expect("mkdir");
    std::fs::set_permissions(
        git.as_path(),
        std::fs::Permissions::from_mode(PLACEHOLDER_MODE),
    )
    .expect("chmod");
    // `--no-fork`: the holder is `sleep` itself, so killing it leaves nothing behind.
    let mut other = std::process::Command::new("flock")
        .args(["--shared", "--no-fork"])
        .arg(git.as_path())
        .args(["sleep", "30"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("flock(1) from util-linux");
    // Wait until the child holds its lock: then an exclusive try-lock fails.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::process::Command::new("flock")
        .args(["--exclusive", "--nonblock"])
        .arg(git.as_path())
        .arg("true")
        .status()
        .expect("flock")
        .success()
    {
        assert!(std::time::Instant::now() < deadline, "child never locked");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let ours = PlaceholderLease::acquire(std::slice::from_ref(&git)).expect("ours");

    ours.release();
    let kept = mode(&git);
    other.kill().expect("kill");
    other.wait().expect("wait");

    assert_eq!(kept, Some(PLACEHOLDER_MODE));
}

#[test]
fn a_directory_that_is_no_longer_empty_is_left_alone() {
    let (_dir, root) = fixture();
    let codex = root.join(".codex");
    let lease = PlaceholderLease::acquire(std::slice::from_ref(&codex)).expect("lease");
    // Someone outside the sandbox made it real meanwhile.
    std::fs::set_permissions(codex.as_path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    std::fs::write(codex.join("config.toml").as_path(), "x").expect("write");
    lease.release();

    assert!(codex.join("config.toml").as_path().is_file());
}

#[test]
fn an_unreleased_lease_keeps_its_placeholders() {
    // Dropped without release (bubblewrap may still run): nothing is removed, and the
    // lock is kept, so no other sandbox removes it either.
    let (_dir, root) = fixture();
    let agents = root.join(".agents");
    drop(PlaceholderLease::acquire(std::slice::from_ref(&agents)).expect("lease"));
    let other = PlaceholderLease::acquire(std::slice::from_ref(&agents)).expect("other");
    other.release();

    assert_eq!(mode(&agents), Some(PLACEHOLDER_MODE));
}
