//! Where a fresh `/proc` cannot be mounted, the sandbox retries once without it and says
//! so. Provoked for real: an outer bwrap (in the initial user namespace) over-mounts part
//! of its `/proc`, then `unshare --user` enters a new user namespace; there the kernel
//! refuses a new proc mount because the existing one is not fully visible
//! (`mnt_too_revealing`), exactly as in containers that mask `/proc` paths.
//!
//! The retry happens only when bubblewrap failed before executing anything, so a
//! command that fails with bubblewrap's message on its own stderr is not run again.

use pretty_assertions::assert_eq;
use serde_json::json;

use super::harness::sandbox_bin;
use super::harness::stderr;
use super::harness::stdout;
use super::harness::user_dir;
use codex_utils_test_support::Who;
use codex_utils_test_support::both_users;
use codex_utils_test_support::workspace_write;

both_users!(
    proc_is_mounted_where_it_is_allowed,
    a_command_that_prints_bubblewraps_message_and_fails_runs_once,
    the_command_writes_to_the_callers_stderr_itself,
);

// Root only: the outer bubblewrap must run in the initial user namespace, which only root can.
#[test]
fn proc_mount_refused_retries_without_proc_and_logs_it() {
    let policy = json!({"type": "readOnly", "access": {"type": "fullAccess"}});
    let output = std::process::Command::new("bwrap")
        .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"])
        .args(["--tmpfs", "/proc/bus", "--unshare-pid", "--"])
        .args(["unshare", "--user", "--map-root-user"])
        .arg(sandbox_bin())
        .arg("--sandbox-policy-json")
        .arg(policy.to_string())
        .args(["--cwd", "/", "--"])
        .args(["/bin/sh", "-c", "echo ran; ls -A /proc | wc -l"])
        .output()
        .unwrap();

    // The command ran once, with an empty `/proc` rather than the outer one.
    assert_eq!(stdout(&output), "ran\n0\n", "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        " WARN codex_linux_sandbox::cli: bubblewrap may not mount /proc on this host; retrying \
         without --proc /proc (the sandboxed command will have no /proc)\n"
    );
    assert!(output.status.success());
}

fn proc_is_mounted_where_it_is_allowed(who: Who) {
    let dir = user_dir(who);
    let policy = json!({"type": "readOnly", "access": {"type": "fullAccess"}});
    let output = dir
        .command(dir.bin())
        .arg("--sandbox-policy-json")
        .arg(policy.to_string())
        .args(["--cwd", "/", "--"])
        .args([
            "/bin/sh",
            "-c",
            "readlink /proc/self/ns/pid >/dev/null && echo $$",
        ])
        .output()
        .unwrap();

    // In the sandbox's own PID namespace the shell is a low pid (bwrap's init is 1).
    let pid: u32 = stdout(&output)
        .trim()
        .parse()
        .unwrap_or_else(|err| panic!("{err}: {}", stderr(&output)));
    assert!(pid < 10, "pid {pid}: not in a fresh PID namespace");
    assert_eq!(stderr(&output), "");
}

fn a_command_that_prints_bubblewraps_message_and_fails_runs_once(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let policy = workspace_write(&[], /*network_access*/ false);

    let output = dir.run_sh(
        &policy,
        &ws,
        "echo ran >> runs; echo \"bwrap: Can't mount proc on /newroot/proc: Operation not \
         permitted\" >&2; exit 1",
    );

    assert_eq!(output.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(ws.join("runs")).unwrap(), "ran\n");
    assert_eq!(
        stderr(&output),
        "bwrap: Can't mount proc on /newroot/proc: Operation not permitted\n"
    );
}

fn the_command_writes_to_the_callers_stderr_itself(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let log = dir.path("stderr.log");
    let policy = workspace_write(&[], /*network_access*/ false);

    // Not through a pipe of the outer stage: the command's fd 2 is the caller's file.
    let status = dir
        .sandbox_command(
            &policy,
            &ws,
            &["/bin/sh", "-c", "readlink /proc/self/fd/2 >&2"],
        )
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();

    assert!(status.success());
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!("{}\n", log.display())
    );
}
