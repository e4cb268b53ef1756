//! The `codex` binary's subcommands, run as a user would.

use std::io::BufRead;
use std::io::BufReader;
use std::process::Command;
use std::process::Output;
use std::process::Stdio;

use pretty_assertions::assert_eq;

fn codex() -> Command {
    Command::new(codex_utils_cargo_bin::cargo_bin!("codex").expect("codex"))
}

/// `codex` with an empty `$CODEX_HOME` (no user config), so only the defaults and `-c`
/// decide.
fn codex_at_home(home: &std::path::Path) -> Command {
    let mut command = codex();
    command.env("CODEX_HOME", home);
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// (stdout, stderr, exit status) of a finished command.
fn outcome(output: &Output) -> (String, String, Option<i32>) {
    (
        text(&output.stdout),
        text(&output.stderr),
        output.status.code(),
    )
}

#[test]
fn help_lists_every_subcommand() {
    let output = codex().arg("--help").output().unwrap();
    let help = text(&output.stdout);
    assert!(output.status.success());
    for subcommand in [
        "exec-server",
        "sandbox",
        "apply-patch",
        "debug",
        "execpolicy",
    ] {
        assert!(help.contains(subcommand), "{help}");
    }
}

#[test]
fn sandbox_runs_the_command_and_exits_with_its_status() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let script = "echo out; echo err >&2; touch made; exit 3";
    // The default mode is the most restrictive one: read-only.
    let output = codex_at_home(home.path())
        .args(["sandbox", "-C"])
        .arg(dir.path())
        .args(["--", "/bin/sh", "-c", script])
        .output()
        .unwrap();
    assert_eq!(outcome(&output).2, Some(3));
    assert!(!dir.path().join("made").exists());
    // workspace-write (here from `-c`) writes in the working directory.
    let output = codex_at_home(home.path())
        .args(["sandbox", "-c", "sandbox_mode=workspace-write", "-C"])
        .arg(dir.path())
        .args(["--", "/bin/sh", "-c", script])
        .output()
        .unwrap();
    assert_eq!(
        outcome(&output),
        ("out\n".to_string(), "err\n".to_string(), Some(3))
    );
    assert!(dir.path().join("made").exists());
}

#[test]
fn sandbox_enforces_the_policy_and_refuses_a_bad_one() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let read_only = r#"{"type":"readOnly","access":{"type":"fullAccess"}}"#;
    let output = codex_at_home(home.path())
        .args(["sandbox", "-C"])
        .arg(dir.path())
        .args(["--policy", read_only, "--", "/bin/sh", "-c", "touch made"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(!dir.path().join("made").exists());

    let output = codex_at_home(home.path())
        .args([
            "sandbox",
            "--policy",
            "{\"type\":\"nonsense\"}",
            "--",
            "/bin/true",
        ])
        .output()
        .unwrap();
    let (stdout, stderr, status) = outcome(&output);
    assert_eq!((stdout.as_str(), status), ("", Some(125)));
    assert!(
        stderr.starts_with("codex sandbox: --policy is not a sandbox policy"),
        "{stderr}"
    );
}

#[test]
fn apply_patch_by_subcommand_and_by_its_arg0_alias() {
    let dir = tempfile::tempdir().unwrap();
    let patch = "*** Begin Patch\n*** Add File: a.txt\n+one\n*** End Patch\n";
    let output = codex()
        .args(["apply-patch", patch])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        outcome(&output),
        (
            "Success. Updated the following files:\nA a.txt\n".to_string(),
            String::new(),
            Some(0)
        )
    );
    let alias = dir.path().join("apply_patch");
    std::os::unix::fs::symlink(codex_utils_cargo_bin::cargo_bin!("codex").unwrap(), &alias)
        .unwrap();
    let update = "*** Begin Patch\n*** Update File: a.txt\n@@\n-one\n+two\n*** End Patch\n";
    let output = Command::new(&alias)
        .arg(update)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(outcome(&output).2, Some(0), "{}", text(&output.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "two\n"
    );
}

#[test]
fn exec_server_prints_the_url_to_connect_to() {
    let mut child = codex()
        .args(["exec-server", "--listen", "ws://127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    assert!(
        line.starts_with("ws://127.0.0.1:"),
        "{line:?}; stderr: {}",
        text(&output.stderr)
    );
    assert!(line.contains("/?token="), "{line}");
}
