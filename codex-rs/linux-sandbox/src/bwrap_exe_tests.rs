use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use pretty_assertions::assert_eq;

use super::TrustedBwrap;
use crate::LinuxSandboxError;

/// A copy of an executable at `dir/bwrap` with `mode`.
fn plant(dir: &Path, mode: u32) -> std::path::PathBuf {
    let path = dir.join("bwrap");
    std::fs::write(&path, "#!/bin/sh\n").expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

#[test]
fn the_system_bwrap_is_trusted_and_verified() {
    let bwrap = TrustedBwrap::locate(Some(Path::new("/usr/bin/bwrap")), /*path_env*/ None)
        .expect("trusted");
    assert_eq!(
        bwrap.verify().expect("unchanged"),
        Path::new("/usr/bin/bwrap")
    );
}

#[test]
fn a_bwrap_in_a_directory_others_may_write_is_refused() {
    // Under /tmp (world-writable), as a sandboxed command could plant it.
    let dir = tempfile::tempdir_in("/tmp").expect("tempdir");
    let planted = plant(dir.path(), /*mode*/ 0o755);

    let err = TrustedBwrap::locate(Some(&planted), /*path_env*/ None).expect_err("refused");

    match err {
        LinuxSandboxError::BwrapUntrusted { path, reason } => {
            assert_eq!(path, Path::new("/tmp"));
            assert!(
                reason.contains("writable by its group or by everyone"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_group_writable_bwrap_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let planted = plant(dir.path(), /*mode*/ 0o775);
    let canonical = planted.canonicalize().expect("canonical");

    let err = TrustedBwrap::locate(Some(&planted), /*path_env*/ None).expect_err("refused");

    assert!(
        matches!(&err, LinuxSandboxError::BwrapUntrusted { path, .. } if *path == canonical),
        "{err:?}"
    );
}

/// A `bwrap` trusted in a directory only root may write (`None`, after saying why, where
/// none can be made: not root, and the temp dir below one others may write), with the
/// directory.
fn trusted_in_a_root_directory() -> Option<(tempfile::TempDir, std::path::PathBuf, TrustedBwrap)> {
    // `/run` where this process may write it (root), a directory only root may write.
    let dir = tempfile::tempdir_in("/run")
        .or_else(|_| tempfile::tempdir())
        .expect("tempdir");
    let real = dir.path().canonicalize().expect("canonical");
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let ancestors_trusted = real.ancestors().skip(1).all(|dir| {
        std::fs::metadata(dir).is_ok_and(|meta| {
            use std::os::unix::fs::MetadataExt;
            meta.uid() == 0 && meta.mode() & 0o022 == 0
        })
    });
    if !ancestors_trusted {
        eprintln!("skipped: the temp dir is below a directory others may write");
        return None;
    }
    let planted = plant(&real, /*mode*/ 0o755);
    let trusted = TrustedBwrap::locate(Some(&planted), /*path_env*/ None).expect("trusted");
    Some((dir, real, trusted))
}

#[test]
fn a_replaced_bwrap_is_noticed_before_it_runs() {
    // Trusted in a root-only directory, then replaced by another file (new inode).
    let Some((_dir, real, trusted)) = trusted_in_a_root_directory() else {
        return;
    };
    std::fs::remove_file(real.join("bwrap")).expect("remove");
    // Freed, its inode number may well be the new file's (tmpfs reuses them).
    plant(&real, /*mode*/ 0o755);

    assert!(matches!(
        trusted.verify(),
        Err(LinuxSandboxError::BwrapChanged { .. })
    ));
}

#[test]
fn a_bwrap_made_writable_by_others_is_refused_before_it_runs() {
    // As a root server's sandboxed command could through `/proc/1/exe` of bubblewrap's
    // PID 1: the same file, its mode changed.
    let Some((_dir, real, trusted)) = trusted_in_a_root_directory() else {
        return;
    };
    std::fs::set_permissions(real.join("bwrap"), std::fs::Permissions::from_mode(0o757))
        .expect("chmod");

    let err = trusted.verify().expect_err("refused");

    match err {
        LinuxSandboxError::BwrapUntrusted { reason, .. } => {
            assert!(reason.contains("became writable"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
