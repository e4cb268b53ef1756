//! Reached through a symlink named `codex-linux-sandbox` (how a binary dispatches on
//! `arg0`), the seccomp stage inside the sandbox is started under that name too, even
//! where the policy hides both the link and its target.

use pretty_assertions::assert_eq;
use serde_json::json;

use super::harness::stderr;
use super::harness::stdout;
use super::harness::user_dir;
use codex_utils_test_support::Who;
use codex_utils_test_support::both_users;

both_users!(symlinked_binary_runs_its_seccomp_stage_under_restricted_reads,);

fn symlinked_binary_runs_its_seccomp_stage_under_restricted_reads(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let alias = dir.mkdir("alias").join("codex-linux-sandbox");
    std::os::unix::fs::symlink(dir.bin(), &alias).unwrap();
    let policy = json!({
        "type": "readOnly",
        "access": {"type": "restricted", "includePlatformDefaults": true, "readableRoots": []},
    });

    let output = dir
        .command(&alias)
        .arg("--sandbox-policy-json")
        .arg(policy.to_string())
        .arg("--cwd")
        .arg(&ws)
        .args([
            "--",
            "/bin/sh",
            "-c",
            "grep -c '^Seccomp:.2' /proc/self/status",
        ])
        .output()
        .unwrap();

    assert_eq!(stdout(&output), "1\n", "{}", stderr(&output));
    assert!(output.status.success());
}
