//! Policies and hosts the sandbox refuses: a clear error, exit status 125, and the
//! command never runs.

use pretty_assertions::assert_eq;
use serde_json::json;

use super::harness::SANDBOX_SETUP_FAILED;
use super::harness::TestDir;
use super::harness::run_sh;
use super::harness::stderr;
use super::harness::stdout;
use super::harness::workspace_write;

#[test]
fn nonexistent_writable_root_is_refused_before_the_command_runs() {
    let dir = TestDir::new();
    let ws = dir.mkdir("ws");
    let missing = dir.path("no-such-root");
    let policy = workspace_write(&[&missing], /*network_access*/ false);

    let output = run_sh(&policy, &ws, "touch ran");

    assert_eq!(output.status.code(), Some(SANDBOX_SETUP_FAILED));
    assert_eq!(
        stderr(&output),
        format!(
            "codex-linux-sandbox: writable root `{}` does not exist; create it or remove it \
             from the policy (`/tmp` and `$TMPDIR` can be left out with `excludeSlashTmp` / \
             `excludeTmpdirEnvVar`)\n",
            missing.display()
        )
    );
    assert!(!ws.join("ran").exists());
}

#[test]
fn cwd_outside_the_readable_roots_is_refused() {
    let dir = TestDir::new();
    let ws = dir.mkdir("ws");
    let docs = dir.mkdir("docs");
    let policy = json!({
        "type": "readOnly",
        "access": {"type": "restricted", "includePlatformDefaults": false, "readableRoots": [docs]},
    });

    let output = run_sh(&policy, &ws, "echo ran");

    assert_eq!(output.status.code(), Some(SANDBOX_SETUP_FAILED));
    assert_eq!(stdout(&output), "");
    assert!(
        stderr(&output).contains(&format!(
            "the working directory `{}` is not readable",
            ws.display()
        )),
        "{}",
        stderr(&output)
    );
}

#[test]
fn invalid_policy_json_names_the_field() {
    let dir = TestDir::new();
    let ws = dir.mkdir("ws");
    let policy = json!({"type": "readOnly"});

    let output = run_sh(&policy, &ws, "echo ran");

    assert_eq!(output.status.code(), Some(SANDBOX_SETUP_FAILED));
    assert_eq!(stdout(&output), "");
    assert!(
        stderr(&output).contains("missing field `access`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn missing_bwrap_is_reported_with_what_was_searched() {
    let dir = TestDir::new();
    let ws = dir.mkdir("ws");
    let policy = json!({"type": "readOnly", "access": {"type": "fullAccess"}});
    let missing = dir.path("no-bwrap-here");

    let output = std::process::Command::new(super::harness::sandbox_bin())
        .arg("--bwrap")
        .arg(&missing)
        .arg("--sandbox-policy-json")
        .arg(policy.to_string())
        .arg("--cwd")
        .arg(&ws)
        .args(["--", "/bin/sh", "-c", "echo ran"])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(SANDBOX_SETUP_FAILED));
    assert_eq!(stdout(&output), "");
    assert_eq!(
        stderr(&output),
        format!(
            "codex-linux-sandbox: bubblewrap (`bwrap`) was not found (searched: {}); install it \
             (Debian/Ubuntu: `apt-get install bubblewrap`) or pass its path with `--bwrap`\n",
            missing.display()
        )
    );
}

#[test]
fn bwrap_that_cannot_create_namespaces_is_reported_before_the_command_runs() {
    // An outer bwrap runs the sandbox as uid 1000 without capabilities and with user
    // namespaces disabled, so the sandbox's own bwrap cannot create any namespace.
    let policy = json!({"type": "readOnly", "access": {"type": "fullAccess"}});
    let output = std::process::Command::new("bwrap")
        .args([
            "--unshare-user",
            "--uid",
            "1000",
            "--gid",
            "1000",
            "--disable-userns",
        ])
        .args([
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--unshare-pid",
        ])
        .arg("--")
        .arg(super::harness::sandbox_bin())
        .arg("--sandbox-policy-json")
        .arg(policy.to_string())
        .args(["--cwd", "/", "--", "/bin/echo", "ran"])
        .output()
        .unwrap();

    assert_eq!(
        output.status.code(),
        Some(SANDBOX_SETUP_FAILED),
        "{}",
        stderr(&output)
    );
    assert_eq!(stdout(&output), "");
    assert!(
        stderr(&output).starts_with(
            "codex-linux-sandbox: bubblewrap cannot create the sandbox on this host: bwrap: "
        ),
        "{}",
        stderr(&output)
    );
}

#[test]
fn help_describes_the_command_line() {
    let output = std::process::Command::new(super::harness::sandbox_bin())
        .arg("--help")
        .output()
        .unwrap();

    let help = stdout(&output);
    assert!(output.status.success());
    for expected in [
        "--sandbox-policy-json <JSON>",
        "--cwd <DIR>",
        "--bwrap <PATH>",
        "125",
    ] {
        assert!(help.contains(expected), "{expected} missing from:\n{help}");
    }
    assert!(!help.contains("apply-seccomp-then-exec"), "{help}");
}

#[test]
fn command_not_found_inside_the_sandbox_exits_127() {
    let dir = TestDir::new();
    let ws = dir.mkdir("ws");
    let policy = workspace_write(&[], /*network_access*/ false);

    let output = super::harness::sandbox_command(&policy, &ws, &["no-such-command-anywhere"])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(127), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "codex-linux-sandbox: cannot execute `no-such-command-anywhere`: No such file or \
         directory (os error 2)\n"
    );
}
