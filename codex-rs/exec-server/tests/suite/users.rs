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

/// A server run by a [`Who`] (and the copy of the binary `nobody` runs).
pub struct UserServer {
    pub server: TestServer,
    _binary: Option<tempfile::TempDir>,
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

    /// A server run by this user, with its `$TMPDIR` in `/tmp` (a test's private
    /// `TMPDIR` under Bazel is not reachable for `nobody`). `None` (after saying why)
    /// when this user cannot be had here.
    pub fn server(self, args: &[&str]) -> Option<UserServer> {
        match self {
            Who::Caller => Some(UserServer {
                server: TestServer::start_with(args, &[]),
                _binary: None,
            }),
            Who::Nobody => {
                let (server, binary) = TestServer::start_as_nobody(args, &[("TMPDIR", "/tmp")])?;
                Some(UserServer {
                    server,
                    _binary: Some(binary),
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

    fn own(&self, path: &Path) {
        if self.who == Who::Nobody {
            std::os::unix::fs::chown(path, Some(NOBODY_ID), Some(NOBODY_ID)).expect("chown");
            if path.is_dir() {
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
                #[tokio::test]
                async fn as_caller() {
                    super::$name(super::Who::Caller).await;
                }

                #[tokio::test]
                async fn as_nobody() {
                    if !super::Who::Nobody.available() {
                        eprintln!("not run: switching to nobody needs root");
                        return;
                    }
                    super::$name(super::Who::Nobody).await;
                }
            }
        )+
    };
}
pub(crate) use both_users;
