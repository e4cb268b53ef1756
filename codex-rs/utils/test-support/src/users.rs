//! Who runs the program under test, and directories that user owns.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;

/// The id (uid and gid) of `nobody`.
pub const NOBODY_ID: u32 = 65534;

/// A wrapper that runs `then` (and what follows it) in a mount namespace of its own, in
/// which `shared` is a shared mount (as systemd makes `/`): a mount made there later
/// propagates, as on most hosts, and no other test sees it.
pub fn below_a_shared_mount<'a>(shared: &'a str, then: &[&'a str]) -> Vec<&'a str> {
    [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        SHARED_MOUNT_THEN_EXEC,
        "sh",
        shared,
    ]
    .into_iter()
    .chain(then.iter().copied())
    .collect()
}

/// `sh -c` script: bind-mount `$1` on itself, make it shared, then execute the rest of
/// the arguments in its place.
const SHARED_MOUNT_THEN_EXEC: &str =
    "mount --bind \"$1\" \"$1\" && mount --make-shared \"$1\" && shift && exec \"$@\"";

/// `setpriv` arguments that run a command as `nobody` (uid and gid 65534, no groups).
pub const NOBODY_SETPRIV: [&str; 4] = [
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
];

/// The `PATH` of `nobody`'s commands: the caller's may name directories below `/root`
/// (say `~/.cargo/bin`), and `execvp` then fails a missing command with `EACCES`, not
/// `ENOENT`.
pub(crate) const NOBODY_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Who runs the program under test.
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

    /// The uid a sandboxed command of this user has inside its sandbox: root is mapped to
    /// `nobody`, any other user keeps its own.
    pub fn uid_inside(self) -> u32 {
        match self.uid() {
            0 => NOBODY_ID,
            uid => uid,
        }
    }

    /// A fresh directory this user owns (in `/tmp` for `nobody`: a test's private
    /// `TMPDIR` under Bazel is below `/root`, which it cannot reach).
    pub fn dir(self) -> UserDir {
        let dir = match self {
            Who::Caller => tempfile::tempdir(),
            Who::Nobody => tempfile::tempdir_in("/tmp"),
        }
        .expect("tempdir");
        let root = dir.path().canonicalize().expect("canonicalize");
        let made = UserDir {
            _dir: dir,
            root,
            who: self,
        };
        made.own(&made.root);
        made
    }

    /// `program` run by this user. `nobody`'s gets `TMPDIR=/tmp` and a `PATH` of the system directories only.
    pub fn command(self, program: impl AsRef<OsStr>) -> Command {
        match self {
            Who::Caller => Command::new(program),
            Who::Nobody => {
                let mut command = Command::new(NOBODY_SETPRIV[0]);
                command
                    .args(&NOBODY_SETPRIV[1..])
                    .arg(program)
                    .env("TMPDIR", "/tmp")
                    .env("PATH", NOBODY_PATH);
                command
            }
        }
    }
}

/// A directory owned by a [`Who`] (canonical, as policies want resolved paths), removed
/// on drop.
pub struct UserDir {
    _dir: tempfile::TempDir,
    root: PathBuf,
    who: Who,
}

impl UserDir {
    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

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

    /// Hands `path` (made by the test, say a socket it binds) to the user; a directory
    /// also becomes searchable by everyone.
    pub fn own(&self, path: &Path) {
        if self.who == Who::Nobody {
            std::os::unix::fs::chown(path, Some(NOBODY_ID), Some(NOBODY_ID)).expect("chown");
            if path.symlink_metadata().expect("stat").is_dir() {
                chmod(path, /*mode*/ 0o755);
            }
        }
    }
}

/// A world-readable copy of a built binary, removed with the directory it lives in.
pub struct InstalledCopy {
    /// The copy.
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

/// A copy of `binary` that `nobody` can run, in a new world-readable directory of `/run`
/// or `/tmp` (the build's own directory may not be reachable: `/root` is mode 0700). Copied by
/// `install` in a child process: a descriptor of this process writing the copy could be
/// inherited by a child another test thread forks meanwhile, and running the copy would
/// then fail with `ETXTBSY` ("Text file busy").
pub fn installed_copy(binary: &Path) -> InstalledCopy {
    installed_copy_with(binary, &[])
}

/// [`installed_copy`] with `siblings` installed next to the copy (programs the binary
/// looks for next to its own executable).
pub fn installed_copy_with(binary: &Path, siblings: &[&Path]) -> InstalledCopy {
    // In `/run` where it can be made there (root): a directory only root may write, as
    // programs that trust only what root alone can change want (a server trusts its
    // codex-sandbox-launcher so); else in `/tmp`.
    let dir = ["/run", "/tmp"]
        .into_iter()
        .find_map(|base| {
            tempfile::Builder::new()
                .prefix("codex-test-binary")
                .tempdir_in(base)
                .ok()
        })
        .expect("tempdir");
    chmod(dir.path(), /*mode*/ 0o755);
    let path = dir
        .path()
        .join(binary.file_name().expect("a binary has a file name"));
    let status = Command::new("install")
        .arg("--mode=0755")
        .arg("--target-directory")
        .arg(dir.path())
        .arg(binary)
        .args(siblings)
        .status()
        .expect("run install");
    assert!(status.success(), "install {path:?}: {status}");
    InstalledCopy { path, _dir: dir }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}
