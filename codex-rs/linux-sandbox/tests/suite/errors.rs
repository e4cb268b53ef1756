//! Policies and hosts the sandbox refuses: a clear error, exit status 125, and the
//! command never runs.

use pretty_assertions::assert_eq;
use serde_json::json;

use super::harness::SANDBOX_SETUP_FAILED;
use super::harness::stderr;
use super::harness::stdout;
use super::harness::user_dir;
use codex_utils_test_support::Who;
use codex_utils_test_support::both_users;
use codex_utils_test_support::workspace_write;

both_users!(
    nonexistent_writable_root_is_refused_before_the_command_runs,
    cwd_outside_the_readable_roots_is_refused,
    invalid_policy_json_names_the_field,
    missing_bwrap_is_reported_with_what_was_searched,
    bwrap_that_cannot_create_namespaces_is_reported_before_the_command_runs,
    help_describes_the_command_line,
    command_not_found_inside_the_sandbox_exits_127,
);

fn nonexistent_writable_root_is_refused_before_the_command_runs(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let missing = dir.path("no-such-root");
    let policy = workspace_write(&[&missing], /*network_access*/ false);

    let output = dir.run_sh(&policy, &ws, "touch ran");

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

fn cwd_outside_the_readable_roots_is_refused(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let docs = dir.mkdir("docs");
    let policy = json!({
        "type": "readOnly",
        "access": {"type": "restricted", "includePlatformDefaults": false, "readableRoots": [docs]},
    });

    let output = dir.run_sh(&policy, &ws, "echo ran");

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

fn invalid_policy_json_names_the_field(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let policy = json!({"type": "readOnly"});

    let output = dir.run_sh(&policy, &ws, "echo ran");

    assert_eq!(output.status.code(), Some(SANDBOX_SETUP_FAILED));
    assert_eq!(stdout(&output), "");
    assert!(
        stderr(&output).contains("missing field `access`"),
        "{}",
        stderr(&output)
    );
}

fn missing_bwrap_is_reported_with_what_was_searched(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let policy = json!({"type": "readOnly", "access": {"type": "fullAccess"}});
    let missing = dir.path("no-bwrap-here");

    let output = dir
        .command(dir.bin())
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

fn bwrap_that_cannot_create_namespaces_is_reported_before_the_command_runs(who: Who) {
    // An outer bwrap runs the sandbox as uid 1000 without capabilities and with user
    // namespaces disabled, so the sandbox's own bwrap cannot create any namespace.
    // (As nobody this fails today: `is_root` in `src/bwrap_exe.rs` takes the outer
    // bwrap's intermediate root, nobody, for root and refuses the real root's `bwrap`.)
    let dir = user_dir(who);
    let policy = json!({"type": "readOnly", "access": {"type": "fullAccess"}});
    let output = dir
        .command("bwrap")
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
        .arg(dir.bin())
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
    // Where the host's mounts propagate, the trampoline that would hide them (it needs a
    // user namespace too) is refused first.
    let refused_by = |who: &str| {
        stderr(&output).starts_with(&format!(
            "codex-linux-sandbox: bubblewrap cannot create the sandbox on this host: {who}: "
        ))
    };
    assert!(
        refused_by("bwrap") || refused_by("codex-bwrap-trampoline"),
        "{}",
        stderr(&output)
    );
}

fn help_describes_the_command_line(who: Who) {
    let dir = user_dir(who);
    let output = dir.command(dir.bin()).arg("--help").output().unwrap();

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

fn command_not_found_inside_the_sandbox_exits_127(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let policy = workspace_write(&[], /*network_access*/ false);

    let output = dir
        .sandbox_command(&policy, &ws, &["no-such-command-anywhere"])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(127), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "codex-linux-sandbox: cannot execute `no-such-command-anywhere`: No such file or \
         directory (os error 2)\n"
    );
}

/// The trial run binds the root by descriptor (`--ro-bind-fd`), as every sandbox binds its
/// roots: a bubblewrap without it is refused by the trial run, before anything runs, not
/// at every start. The fake bubblewrap logs the options it was given (on its command line
/// and in its `--args` descriptor) and fails as an old bubblewrap would.
#[test]
fn the_trial_run_binds_by_descriptor() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("bwrap");
    let log = dir.path().join("bwrap.log");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {log}\nprev=\nfor a; do\n  \
             if [ \"$prev\" = --args ]; then tr '\\0' '\\n' < /proc/self/fd/$a >> {log}; fi\n  \
             prev=$a\ndone\necho 'bwrap: Unknown option --ro-bind-fd' >&2\nexit 1\n",
            log = log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let err = codex_linux_sandbox::probe_proc_mount(&fake).unwrap_err();

    assert!(
        err.to_string().contains("Unknown option --ro-bind-fd"),
        "{err}"
    );
    let options = std::fs::read_to_string(&log).unwrap();
    assert!(
        options.lines().any(|line| line == "--ro-bind-fd"),
        "{options}"
    );
}
