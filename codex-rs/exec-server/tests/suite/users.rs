//! Sandbox tests run twice: with the server as the user running the tests (root on CI, as
//! in most containers) and as the unprivileged `nobody`. The sandbox must hold for both:
//! bubblewrap run by root keeps every capability unless told otherwise, and one run by
//! an ordinary user gets what a user namespace gives it.
//!
//! [`both_users!`] turns `async fn name(who: Who)` into `name::as_caller` and
//! `name::as_nobody`. As a non-root developer, `as_nobody` cannot switch users: it says
//! so and returns, and `as_caller` is then the unprivileged run. CI runs as root, so
//! both always run there.
#![cfg(target_os = "linux")]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::path::PathBuf;

use super::harness::TestServer;

/// The id of `nobody`.
pub const NOBODY_ID: u32 = 65534;

/// Who runs the server under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// The user running the tests.
    Caller,
    /// `nobody` (uid and gid 65534, no groups), through `setpriv`; needs root.
    Nobody,
}

/// A server run by a [`Who`] (and, for `nobody`, the copy of the binary it runs and
/// the `$HOME` it owns). Fields drop in order: the server dies before its files go.
pub struct UserServer {
    pub server: TestServer,
    _binary: Option<tempfile::TempDir>,
    _home: Option<UserDir>,
}

impl std::ops::Deref for UserServer {
    type Target = TestServer;

    fn deref(&self) -> &TestServer {
        &self.server
    }
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

    /// The uid this user's server runs as on the host.
    pub fn uid(self) -> u32 {
        match self {
            // SAFETY: geteuid has no preconditions.
            Who::Caller => unsafe { libc::geteuid() },
            Who::Nobody => NOBODY_ID,
        }
    }

    /// The uid a sandboxed command of this user's server has inside its sandbox: root
    /// is mapped to `nobody`, any other user keeps its own.
    pub fn uid_inside(self) -> u32 {
        match self.uid() {
            0 => NOBODY_ID,
            uid => uid,
        }
    }

    /// A server run by this user. `nobody`'s has its `$TMPDIR` and `$HOME` in `/tmp`
    /// (a test's private `TMPDIR` under Bazel, and the temp `HOME` the harness makes
    /// there, are below `/root`, which `nobody` cannot reach). `None` (after saying
    /// why) when this user cannot be had here.
    pub fn server(self, args: &[&str]) -> Option<UserServer> {
        self.server_with(args, &[])
    }

    /// [`Who::server`] with `env` for the server (after the `TMPDIR` above, so it may
    /// override it).
    pub fn server_with(self, args: &[&str], env: &[(&str, &str)]) -> Option<UserServer> {
        match self {
            Who::Caller => Some(UserServer {
                server: TestServer::start_with(args, env),
                _binary: None,
                _home: None,
            }),
            Who::Nobody => {
                if !self.available() {
                    eprintln!("not run: switching to nobody needs root");
                    return None;
                }
                let home = self.dir();
                let home_path = home.root.to_str().expect("UTF-8 temp path");
                let env: Vec<(&str, &str)> = [("TMPDIR", "/tmp"), ("HOME", home_path)]
                    .into_iter()
                    .chain(env.iter().copied())
                    .collect();
                let (server, binary) = TestServer::start_as_nobody(args, &env)?;
                Some(UserServer {
                    server,
                    _binary: Some(binary),
                    _home: Some(home),
                })
            }
        }
    }

    /// A fresh directory this user owns, in `/tmp` for `nobody`.
    pub fn dir(self) -> UserDir {
        let dir = match self {
            Who::Caller => tempfile::tempdir().expect("tempdir"),
            Who::Nobody => tempfile::tempdir_in("/tmp").expect("tempdir"),
        };
        let root = dir.path().canonicalize().expect("canonicalize");
        let made = UserDir {
            _dir: dir,
            root,
            who: self,
        };
        made.own(&made.root.clone());
        made
    }
}

/// A directory owned by a [`Who`] (canonical, as policies want resolved paths), removed
/// on drop.
pub struct UserDir {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    who: Who,
}

// Not every suite that runs as both users needs every helper.
#[allow(dead_code)]
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
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
                    .expect("chmod");
            }
        }
    }
}

/// `async fn $name(who: Who)` as two tests, `$name::as_caller` and `$name::as_nobody`.
macro_rules! both_users {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                use $crate::suite::users::Who;

                #[tokio::test]
                async fn as_caller() {
                    super::$name(Who::Caller).await;
                }

                #[tokio::test]
                async fn as_nobody() {
                    if !Who::Nobody.available() {
                        eprintln!("not run: switching to nobody needs root");
                        return;
                    }
                    super::$name(Who::Nobody).await;
                }
            }
        )+
    };
}
pub(crate) use both_users;
