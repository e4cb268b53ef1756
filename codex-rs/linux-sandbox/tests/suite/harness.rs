//! Running the real `codex-linux-sandbox` binary with a policy, in a fresh temp dir.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::process::Output;

use serde_json::Value;
use serde_json::json;

/// Exit status of the binary when the sandbox could not be set up.
pub const SANDBOX_SETUP_FAILED: i32 = 125;

/// The binary under test.
pub fn sandbox_bin() -> PathBuf {
    codex_utils_cargo_bin::cargo_bin("codex-linux-sandbox").expect("codex-linux-sandbox binary")
}

/// A fresh directory (canonical, as policies want resolved paths) for one test,
/// removed on drop. Under Bazel it lives under the test's private `TMPDIR`.
pub struct TestDir {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl TestDir {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonicalize");
        Self { _dir: dir, root }
    }

    /// `root/relative`, created as a directory.
    pub fn mkdir(&self, relative: &str) -> PathBuf {
        let path = self.root.join(relative);
        std::fs::create_dir_all(&path).expect("mkdir");
        path
    }

    /// `root/relative`, not created.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }
}

/// `workspaceWrite` with full reads and neither `/tmp` nor `$TMPDIR` writable (test
/// dirs live there, so those would make everything writable).
pub fn workspace_write(writable_roots: &[&Path], network_access: bool) -> Value {
    json!({
        "type": "workspaceWrite",
        "writableRoots": writable_roots,
        "readOnlyAccess": {"type": "fullAccess"},
        "networkAccess": network_access,
        "excludeTmpdirEnvVar": true,
        "excludeSlashTmp": true,
    })
}

/// The binary's command line for `policy`, `cwd` and `command`.
pub fn sandbox_command(policy: &Value, cwd: &Path, command: &[&str]) -> Command {
    let mut cmd = Command::new(sandbox_bin());
    cmd.arg("--sandbox-policy-json")
        .arg(policy.to_string())
        .arg("--cwd")
        .arg(cwd)
        .arg("--")
        .args(command);
    cmd
}

/// Runs `sh -c script` under `policy` in `cwd` and returns what happened.
pub fn run_sh(policy: &Value, cwd: &Path, script: &str) -> Output {
    sandbox_command(policy, cwd, &["/bin/sh", "-c", script])
        .output()
        .expect("run codex-linux-sandbox")
}

/// Stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
