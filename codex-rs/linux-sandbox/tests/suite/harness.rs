//! Running the real `codex-linux-sandbox` binary with a policy, in a fresh temp dir, as
//! the caller or as `nobody`.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
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

/// The id of `nobody`.
pub const NOBODY_ID: u32 = 65534;

/// `setpriv` arguments that run a command as `nobody` (uid and gid 65534, no groups).
pub const NOBODY: [&str; 4] = [
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
];

/// The `PATH` of `nobody`'s commands.
const NOBODY_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Who runs the binary under test. Sandbox tests run for both (see [`both_users!`]): the
/// user running the tests (root on CI, as in most containers; bubblewrap run by root
/// keeps every capability unless told otherwise) and the unprivileged `nobody` (what a
/// user namespace gives an ordinary user).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// The user running the tests.
    Caller,
    /// `nobody` (uid and gid 65534, no groups), through `setpriv`; needs root.
    Nobody,
}

impl Who {
    /// Whether this user can be had here (`nobody` needs root to switch to).
    pub fn available(self) -> bool {
        match self {
            Who::Caller => true,
            // SAFETY: geteuid has no preconditions.
            Who::Nobody => (unsafe { libc::geteuid() }) == 0,
        }
    }

    /// The uid this user's processes have on the host.
    pub fn uid(self) -> u32 {
        match self {
            // SAFETY: geteuid has no preconditions.
            Who::Caller => unsafe { libc::geteuid() },
            Who::Nobody => NOBODY_ID,
        }
    }

    /// A fresh directory this user owns (in `/tmp` for `nobody`: a test's private
    /// `TMPDIR` under Bazel is below `/root`, which it cannot reach), and the binary it
    /// runs: the built one, or for `nobody` a copy in a world-readable directory of
    /// root's (the build's own directory may not be readable: `/root` is mode 0700).
    pub fn dir(self) -> UserDir {
        let (dir, bin, bin_dir) = match self {
            Who::Caller => (tempfile::tempdir().expect("tempdir"), sandbox_bin(), None),
            Who::Nobody => {
                let bin_dir = tempfile::Builder::new()
                    .prefix("linux-sandbox-nobody")
                    .tempdir_in("/tmp")
                    .expect("tempdir");
                chmod(bin_dir.path(), 0o755);
                let bin = bin_dir.path().join("codex-linux-sandbox");
                // In a child process: a descriptor of this one writing the copy could be
                // inherited by a child another test thread forks meanwhile, and running
                // the copy would then fail with `ETXTBSY` ("Text file busy").
                let status = Command::new("install")
                    .arg("--mode=0755")
                    .arg(sandbox_bin())
                    .arg(&bin)
                    .status()
                    .expect("run install");
                assert!(status.success(), "install {bin:?}: {status}");
                let dir = tempfile::tempdir_in("/tmp").expect("tempdir");
                (dir, bin, Some(bin_dir))
            }
        };
        let root = dir.path().canonicalize().expect("canonicalize");
        let made = UserDir {
            _dir: dir,
            root,
            who: self,
            bin,
            _bin_dir: bin_dir,
        };
        made.own(&made.root);
        made
    }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A directory owned by a [`Who`] (canonical, as policies want resolved paths), removed
/// on drop, and the ways to run the binary (or anything else) as that user.
pub struct UserDir {
    _dir: tempfile::TempDir,
    root: PathBuf,
    who: Who,
    bin: PathBuf,
    _bin_dir: Option<tempfile::TempDir>,
}

impl UserDir {
    /// `root/relative`, created as a directory (with its parents) owned by the user.
    pub fn mkdir(&self, relative: &str) -> PathBuf {
        let path = self.root.join(relative);
        std::fs::create_dir_all(&path).expect("mkdir");
        let mut owned = path.clone();
        while owned != self.root {
            self.own(&owned);
            owned.pop();
        }
        path
    }

    /// Writes `root/relative` (the parent must exist), owned by the user.
    pub fn write(&self, relative: &str, contents: &str) -> PathBuf {
        let path = self.root.join(relative);
        std::fs::write(&path, contents).expect("write");
        self.own(&path);
        path
    }

    /// `root/relative`, not created.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// Hands `path` (made by the test, say a socket it binds) to the user.
    pub fn own(&self, path: &Path) {
        if self.who == Who::Nobody {
            std::os::unix::fs::chown(path, Some(NOBODY_ID), Some(NOBODY_ID)).expect("chown");
            if path.symlink_metadata().expect("stat").is_dir() {
                chmod(path, 0o755);
            }
        }
    }

    /// The `codex-linux-sandbox` binary this user runs.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// `program` run by the user. `nobody`'s gets `TMPDIR=/tmp` and the system `PATH`,
    /// which it can search: the caller's may name directories below `/root` (say
    /// `~/.cargo/bin`), and `execvp` then fails a missing command with `EACCES`, not
    /// `ENOENT` (as `env` does).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        match self.who {
            Who::Caller => Command::new(program),
            Who::Nobody => {
                let mut command = Command::new(NOBODY[0]);
                command
                    .args(&NOBODY[1..])
                    .arg(program)
                    .env("TMPDIR", "/tmp")
                    .env("PATH", NOBODY_PATH);
                command
            }
        }
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

/// `fn $name(who: Who)` as two tests, `$name::as_caller` and `$name::as_nobody`. As a
/// non-root developer, `as_nobody` cannot switch users: it says so and returns, and
/// `as_caller` is then the unprivileged run. CI runs as root, so both always run there.
macro_rules! both_users {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                use $crate::suite::harness::Who;

                #[test]
                fn as_caller() {
                    super::$name(Who::Caller);
                }

                #[test]
                fn as_nobody() {
                    if !Who::Nobody.available() {
                        eprintln!("not run: switching to nobody needs root");
                        return;
                    }
                    super::$name(Who::Nobody);
                }
            }
        )+
    };
}
pub(crate) use both_users;

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

/// Stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
