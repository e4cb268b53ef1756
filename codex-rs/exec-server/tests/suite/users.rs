//! Sandbox tests run twice: with the server as the user running the tests (root on CI, as
//! in most containers) and as the unprivileged `nobody` (`codex-utils-test-support`'s
//! `Who` and `both_users!`). The sandbox must hold for both: bubblewrap run by root keeps
//! every capability unless told otherwise, and one run by an ordinary user gets what a
//! user namespace gives it. This module starts the server as either.
#![cfg(target_os = "linux")]

use codex_utils_test_support::InstalledCopy;
use codex_utils_test_support::UserDir;
use codex_utils_test_support::Who;

use super::harness::TestServer;

/// A server run by a [`Who`] (and, for `nobody`, the copy of the binary it runs and
/// the `$HOME` it owns). Fields drop in order: the server dies before its files go.
pub struct UserServer {
    pub server: TestServer,
    _binary: Option<InstalledCopy>,
    _home: Option<UserDir>,
}

impl UserServer {
    /// The executable this server runs (for `nobody`, its world-readable copy): what a
    /// `process/start` names to run the server's binary under another name.
    pub fn binary(&self) -> std::path::PathBuf {
        match &self._binary {
            Some(copy) => copy.path.clone(),
            None => codex_utils_cargo_bin::cargo_bin("codex-exec-server").expect("binary"),
        }
    }
}

impl std::ops::Deref for UserServer {
    type Target = TestServer;

    fn deref(&self) -> &TestServer {
        &self.server
    }
}

/// A server run by `who`. `nobody`'s has its `$TMPDIR` and `$HOME` in `/tmp` (a test's
/// private `TMPDIR` under Bazel, and the temp `HOME` the harness makes there, are below
/// `/root`, which `nobody` cannot reach). `None` (after saying why) when this user cannot
/// be had here.
pub fn server(who: Who, args: &[&str]) -> Option<UserServer> {
    server_with(who, args, &[])
}

/// [`server`] with `env` for the server (after the `TMPDIR` above, so it may override it).
pub fn server_with(who: Who, args: &[&str], env: &[(&str, &str)]) -> Option<UserServer> {
    match who {
        Who::Caller => Some(UserServer {
            server: TestServer::start_with(args, env),
            _binary: None,
            _home: None,
        }),
        Who::Nobody => {
            if !who.available() {
                eprintln!("not run: switching to nobody needs root");
                return None;
            }
            let home = who.dir();
            let home_path = home.root().to_str().expect("UTF-8 temp path");
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

/// A server run by `who` as the last word of `wrapper` (which must execute it in its place,
/// as `unshare` and `sh -c '... exec "$@"'` do), with its warnings kept. Needs root (to
/// switch users, and for the wrappers such tests use); `None` otherwise.
pub fn server_under(who: Who, wrapper: &[&str]) -> Option<UserServer> {
    if !Who::Nobody.available() {
        eprintln!("not run: needs root");
        return None;
    }
    Some(match who {
        Who::Caller => UserServer {
            server: TestServer::start_under(wrapper, &[]),
            _binary: None,
            _home: None,
        },
        Who::Nobody => {
            let home = who.dir();
            let home_path = home.root().to_str().expect("UTF-8 temp path");
            let binary = super::harness::installed_server();
            let wrapper: Vec<&str> = wrapper
                .iter()
                .chain(codex_utils_test_support::NOBODY_SETPRIV.iter())
                .copied()
                .collect();
            let server = TestServer::start_under_with(
                &wrapper,
                Some(&binary.path),
                &[],
                &[("TMPDIR", "/tmp"), ("HOME", home_path)],
            );
            UserServer {
                server,
                _binary: Some(binary),
                _home: Some(home),
            }
        }
    })
}
