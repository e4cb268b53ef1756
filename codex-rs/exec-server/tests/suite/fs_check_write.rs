//! `check_write` (`fs/checkWrite`): the same answers from `LocalFileSystem` and from a
//! real server, and nothing on disk changes.

use std::os::unix::fs::PermissionsExt;

use codex_exec_server::Environment;
use codex_utils_test_support::Who;
use pretty_assertions::assert_eq;

use super::file_system::Fixture;
use super::file_system::abs;
use super::file_system::backends;
use super::file_system::kind;
use super::file_system::workspace;
use super::users;

#[tokio::test]
async fn check_write_answers_as_a_write_would_and_changes_nothing() {
    for index in 0..2 {
        let fx = Fixture::new();
        let backends = backends(fx.root.as_path()).await;
        let (name, fs) = &backends.list[index];
        std::fs::write(fx.at("file.txt"), "x").expect("file");
        std::fs::create_dir(fx.at(".git")).expect(".git");
        std::os::unix::fs::symlink(fx.outside.join("secret"), fx.at("out_link")).expect("link out");
        std::os::unix::fs::symlink(fx.outside.as_path(), fx.at("out_dir")).expect("dir link");
        let policy = workspace(&[&fx.root]);
        let policy = Some(&policy);
        let cases = [
            ("file.txt", Ok(())),
            ("new.txt", Ok(())),
            ("new/dirs/below.txt", Ok(())),
            (".git/hooks/pre-commit", Err("sandboxDenied".to_string())),
            (".git", Err("sandboxDenied".to_string())),
            ("out_link", Err("sandboxDenied".to_string())),
            ("out_dir/new.txt", Err("sandboxDenied".to_string())),
        ];
        for (path, expected) in cases {
            assert_eq!(
                kind(fs.check_write(&fx.at(path), policy).await),
                expected,
                "{name}: {path}"
            );
        }
        assert_eq!(
            kind(fs.check_write(&fx.outside.join("secret"), policy).await),
            Err("sandboxDenied".to_string()),
            "{name}: outside the root"
        );
        // Without a policy only the host decides.
        assert_eq!(
            kind(fs.check_write(&fx.outside.join("new.txt"), None).await),
            Ok(()),
            "{name}"
        );
        // Nothing was created by any of the checks.
        assert!(!fx.at("new.txt").as_path().exists(), "{name}");
        assert!(!fx.at("new").as_path().exists(), "{name}");
        assert!(!fx.outside.join("new.txt").as_path().exists(), "{name}");
        assert_eq!(
            std::fs::read_to_string(fx.at("file.txt")).expect("file"),
            "x",
            "{name}"
        );
    }
}

/// The host's own permissions, with the server run by each user: a directory without write
/// permission refuses what would be created in it, and a read-only file refuses an
/// update. Root passes permission bits (only a read-only mount stops it), so a root
/// server's checks succeed, as its writes would; `nobody`'s are refused.
#[tokio::test]
async fn check_write_reports_what_the_host_would_refuse() {
    for who in [Who::Caller, Who::Nobody] {
        let Some(server) = users::server(who, &[]) else {
            continue;
        };
        let fs = Environment::from_env_value(Some(&server.url))
            .await
            .expect("connect")
            .file_system()
            .expect("filesystem");
        let dir = who.dir();
        let locked = dir.mkdir("locked");
        let readonly = dir.write("readonly.txt", "x");
        std::fs::set_permissions(&readonly, std::fs::Permissions::from_mode(0o444))
            .expect("chmod file");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555))
            .expect("chmod dir");
        let answers = (
            kind(
                fs.check_write(
                    &abs(locked.join("new/file.txt")),
                    /*sandbox_policy*/ None,
                )
                .await,
            ),
            kind(
                fs.check_write(&abs(&readonly), /*sandbox_policy*/ None)
                    .await,
            ),
            kind(
                fs.check_write(&abs(dir.path("fine.txt")), /*sandbox_policy*/ None)
                    .await,
            ),
        );
        let refused = || Err("ioError".to_string());
        let expected = if who.uid() == 0 {
            (Ok(()), Ok(()), Ok(()))
        } else {
            (refused(), refused(), Ok(()))
        };
        assert_eq!(answers, expected, "{who:?}");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755))
            .expect("chmod back");
    }
}
