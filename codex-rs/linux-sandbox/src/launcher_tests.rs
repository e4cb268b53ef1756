use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;

use pretty_assertions::assert_eq;

use super::PreflightOutcome;
use super::classify_preflight;
use super::find_bwrap;
use crate::LinuxSandboxError;

fn exited(code: i32) -> ExitStatus {
    ExitStatus::from_raw(code << 8)
}

#[test]
fn preflight_outcomes_from_real_bwrap_messages() {
    // Messages as bubblewrap 0.8 prints them.
    let proc_denied = "bwrap: Can't mount proc on /newroot/proc: Operation not permitted\n";
    let no_userns = "bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces.\n";
    let exec_failed = "bwrap: execvp /opt/codex-linux-sandbox: No such file or directory\n";
    let cases = [
        (exited(0), "", PreflightOutcome::Ready),
        (exited(1), proc_denied, PreflightOutcome::ProcMountDenied),
        (
            exited(1),
            no_userns,
            PreflightOutcome::NotPermitted {
                stderr: no_userns.to_string(),
            },
        ),
        (
            exited(1),
            exec_failed,
            PreflightOutcome::HelperNotRunnable {
                stderr: exec_failed.to_string(),
            },
        ),
        // Killed by a signal with nothing printed: not something to retry.
        (
            ExitStatus::from_raw(libc::SIGKILL),
            "",
            PreflightOutcome::NotPermitted {
                stderr: String::new(),
            },
        ),
    ];
    for (status, stderr, expected) in cases {
        assert_eq!(classify_preflight(status, stderr), expected, "{stderr}");
    }
}

fn executable(dir: &std::path::Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, "#!/bin/sh\n").expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

#[test]
fn find_bwrap_takes_the_first_executable_on_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty");
    let with_bwrap = dir.path().join("with");
    std::fs::create_dir_all(&empty).expect("mkdir");
    std::fs::create_dir_all(&with_bwrap).expect("mkdir");
    let expected = executable(&with_bwrap, "bwrap");
    let path_env = std::env::join_paths([&empty, &with_bwrap]).expect("join");

    let found = find_bwrap(None, Some(&path_env)).expect("found");

    assert_eq!(found, expected);
}

#[test]
fn find_bwrap_skips_non_executable_files_and_reports_what_it_searched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let not_executable = dir.path().join("bwrap");
    std::fs::write(&not_executable, "").expect("write");

    let err = find_bwrap(Some(&not_executable), Some(&OsString::from("/ignored")))
        .expect_err("not executable");

    match err {
        LinuxSandboxError::BwrapMissing { searched } => {
            assert_eq!(searched, vec![not_executable]);
        }
        other => panic!("unexpected error: {other:?}"),
    }
}

#[test]
fn find_bwrap_without_path_tries_the_usual_places() {
    let err_or_found = find_bwrap(None, None);

    match err_or_found {
        Ok(found) => assert!(
            [PathBuf::from("/usr/bin/bwrap"), PathBuf::from("/bin/bwrap")].contains(&found),
            "{found:?}"
        ),
        Err(LinuxSandboxError::BwrapMissing { searched }) => assert_eq!(
            searched,
            vec![PathBuf::from("/usr/bin/bwrap"), PathBuf::from("/bin/bwrap")]
        ),
        Err(other) => panic!("unexpected error: {other:?}"),
    }
}
