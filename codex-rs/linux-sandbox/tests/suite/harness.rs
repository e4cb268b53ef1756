//! Running the real `codex-linux-sandbox` binary with a policy, in a fresh temp dir, as
//! the caller or as `nobody`.

use std::ffi::OsStr;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::process::Output;

use codex_utils_test_support::Who;
use serde_json::Value;

/// Exit status of the binary when the sandbox could not be set up.
pub const SANDBOX_SETUP_FAILED: i32 = 125;

/// The binary under test.
pub fn sandbox_bin() -> PathBuf {
    codex_utils_cargo_bin::cargo_bin("codex-linux-sandbox").expect("codex-linux-sandbox binary")
}

/// A directory owned by a [`Who`] (see `codex-utils-test-support`), and the ways to run
/// the binary (or anything else) as that user: the built binary for the caller, a
/// world-readable copy for `nobody` (the build's own directory may not be reachable:
/// `/root` is mode 0700).
pub struct UserDir {
    dir: codex_utils_test_support::UserDir,
    who: Who,
    bin: PathBuf,
    _copy: Option<codex_utils_test_support::InstalledCopy>,
}

impl std::ops::Deref for UserDir {
    type Target = codex_utils_test_support::UserDir;

    fn deref(&self) -> &Self::Target {
        &self.dir
    }
}

/// A fresh [`UserDir`] of `who`.
pub fn user_dir(who: Who) -> UserDir {
    let (bin, copy) = match who {
        Who::Caller => (sandbox_bin(), None),
        Who::Nobody => {
            let copy = codex_utils_test_support::installed_copy(&sandbox_bin());
            (copy.path.clone(), Some(copy))
        }
    };
    UserDir {
        dir: who.dir(),
        who,
        bin,
        _copy: copy,
    }
}

impl UserDir {
    /// The `codex-linux-sandbox` binary this user runs.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// `program` run by the user (see [`Who::command`]).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        self.who.command(program)
    }

    /// The binary's command line for `policy`, `cwd` and `command`, run by the user.
    pub fn sandbox_command(&self, policy: &Value, cwd: &Path, command: &[&str]) -> Command {
        let mut cmd = self.command(&self.bin);
        cmd.arg("--sandbox-policy-json")
            .arg(policy.to_string())
            .arg("--cwd")
            .arg(cwd)
            .arg("--")
            .args(command);
        cmd
    }

    /// Runs `sh -c script` under `policy` in `cwd`, as the user, and returns what
    /// happened.
    pub fn run_sh(&self, policy: &Value, cwd: &Path, script: &str) -> Output {
        self.sandbox_command(policy, cwd, &["/bin/sh", "-c", script])
            .output()
            .expect("run codex-linux-sandbox")
    }
}

/// Stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
