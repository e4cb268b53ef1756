//! Test helpers shared by the sandbox suites of `codex-exec-server` and
//! `codex-linux-sandbox`: the same tests run with the program under test as the caller
//! (root on CI, as in most containers) and as the unprivileged `nobody`, because the
//! sandbox must hold for both. A dev-dependency only.
#![deny(missing_docs)]
// Test helpers: a failed set-up step should fail the test right there, with its reason.
#![allow(clippy::expect_used)]

mod probes;
mod users;

pub use probes::PROCESS_PROBE;
pub use probes::process_probe_refused;

pub use users::InstalledCopy;
pub use users::NOBODY_ID;
pub use users::NOBODY_SETPRIV;
pub use users::UserDir;
pub use users::Who;
pub use users::below_a_shared_mount;
pub use users::installed_copy;
pub use users::installed_copy_with;

/// `workspaceWrite` over `writable_roots` with full reads and neither `/tmp` nor `$TMPDIR`
/// writable (the test directories live there, so those would make everything writable).
pub fn workspace_write(
    writable_roots: &[&std::path::Path],
    network_access: bool,
) -> serde_json::Value {
    serde_json::json!({
        "type": "workspaceWrite",
        "writableRoots": writable_roots,
        "readOnlyAccess": {"type": "fullAccess"},
        "networkAccess": network_access,
        "excludeTmpdirEnvVar": true,
        "excludeSlashTmp": true,
    })
}

/// `fn $name(who: Who)` (or, after `async`, `async fn $name(who: Who)`, run by
/// `#[tokio::test]`) as two tests: `$name::as_caller` and `$name::as_nobody`. The second
/// says why and returns where `nobody` cannot be had (not root).
#[macro_export]
macro_rules! both_users {
    (async $($name:ident),+ $(,)?) => {
        $(
            mod $name {
                use $crate::Who;

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
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                use $crate::Who;

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
