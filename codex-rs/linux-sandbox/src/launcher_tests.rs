use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;

use pretty_assertions::assert_eq;

use super::BwrapOutcome;
use super::SetupFailure;
use super::classify_bwrap_run;
use super::find_bwrap;
use crate::LinuxSandboxError;

fn exited(code: i32) -> ExitStatus {
    ExitStatus::from_raw(code << 8)
}

/// What bubblewrap 0.8 writes to `--json-status-fd` right after `clone`, before the
/// child sets anything up.
const CHILD_PID: &str = "{ \"child-pid\": 7, \"cgroup-namespace\": 4026531835, \"ipc-namespace\": 4026531839, \"mnt-namespace\": 4026532405, \"net-namespace\": 4026531840, \"pid-namespace\": 4026532406, \"uts-namespace\": 4026531838 }\n";
/// ... and when the child exits, only if it got as far as executing the command.
const EXIT_CODE_1: &str = "{ \"exit-code\": 1 }\n";

#[test]
fn set_up_failures_from_real_bwrap_messages() {
    // Messages as bubblewrap 0.8 prints them.
    let proc_denied = "bwrap: Can't mount proc on /newroot/proc: Operation not permitted\n";
    let no_userns = "bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces.\n";
    let exec_failed = "bwrap: execvp /opt/codex-linux-sandbox: No such file or directory\n";
    let cases = [
        (proc_denied, SetupFailure::ProcMountDenied),
        (
            no_userns,
            SetupFailure::NotPermitted {
                stderr: no_userns.to_string(),
            },
        ),
        (
            exec_failed,
            SetupFailure::HelperNotRunnable {
                stderr: exec_failed.to_string(),
            },
        ),
        (
            "",
            SetupFailure::NotPermitted {
                stderr: String::new(),
            },
        ),
    ];
    for (stderr, expected) in cases {
        // The child-pid report comes before the set-up, so it proves nothing; with no
        // report at all (bubblewrap failed before `clone`) it is the same.
        for json_status in [CHILD_PID, ""] {
            assert_eq!(
                classify_bwrap_run(exited(1), json_status.as_bytes(), stderr),
                BwrapOutcome::SetupFailed(expected.clone()),
                "{json_status} {stderr}"
            );
        }
    }
}

#[test]
fn a_run_that_may_have_executed_the_command_is_never_a_set_up_failure() {
    let proc_denied = "bwrap: Can't mount proc on /newroot/proc: Operation not permitted\n";
    let exit_code_reported = format!("{CHILD_PID}{EXIT_CODE_1}");
    let cases = [
        // The command itself failed (and happened to print bubblewrap's message).
        (exited(/*code*/ 1), exit_code_reported.as_str()),
        // Success, whatever was reported.
        (exited(/*code*/ 0), CHILD_PID),
        (exited(/*code*/ 0), ""),
        // Killed by a signal (forwarded, or from elsewhere) with nothing reported.
        (ExitStatus::from_raw(libc::SIGTERM), CHILD_PID),
        (ExitStatus::from_raw(libc::SIGKILL), ""),
        // A status stream we cannot read: assume the command ran.
        (exited(/*code*/ 1), "{ \"child-pid\": 7 }\n{ \"exit-co"),
        (exited(/*code*/ 1), "not json"),
    ];
    for (status, json_status) in cases {
        assert_eq!(
            classify_bwrap_run(status, json_status.as_bytes(), proc_denied),
            BwrapOutcome::Finished(status),
            "{status:?} {json_status}"
        );
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

    let found = find_bwrap(/*explicit*/ None, Some(&path_env)).expect("found");

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
    let err_or_found = find_bwrap(/*explicit*/ None, /*path_env*/ None);

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

#[test]
fn refused_user_namespaces_come_with_what_to_do() {
    let message = |stderr: &str| {
        LinuxSandboxError::BwrapNotPermitted {
            stderr: stderr.to_string(),
        }
        .to_string()
    };
    let uid_map = message("bwrap: setting up uid map: Permission denied\n");
    let other = message("bwrap: Can't mount tmpfs: No space left on device\n");

    assert!(
        uid_map.contains("apparmor_restrict_unprivileged_userns=0"),
        "{uid_map}"
    );
    assert_eq!(
        other,
        "bubblewrap cannot create the sandbox on this host: bwrap: Can't mount tmpfs: No space \
         left on device"
    );
}
