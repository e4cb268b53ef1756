//! A file that cannot be read is skipped with a warning naming it, and the next name is
//! tried. Root reads a file whatever its permission bits, so run as root (as on CI and in
//! most containers) the file is read; run as anyone else it is skipped. The server runs
//! in this process, as the same user as the local filesystem.

use std::os::unix::fs::PermissionsExt;

use codex_utils_test_support::Who;
use pretty_assertions::assert_eq;

use super::backends::Tree;
use super::backends::backends;
use super::backends::discover;
use super::backends::expected;
use super::backends::options;

#[tokio::test]
async fn an_unreadable_file_is_skipped_with_a_warning() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let tree = Tree::new();
        tree.mkdir(".git");
        let locked = tree.write("AGENTS.override.md", "locked");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
        let agents = tree.write("AGENTS.md", "agents");
        let found = discover(
            fs.as_ref(),
            &tree.root,
            &options(&[".git"], /*max_bytes*/ 10_000, &[]),
        )
        .await
        .expect("discover");
        if Who::Caller.uid() == 0 {
            assert_eq!(
                found,
                expected(&[&locked], "locked", &[], &tree.root),
                "{name}"
            );
        } else {
            assert_eq!(
                (found.sources, found.text, found.warnings.len()),
                (vec![agents], "agents".to_string(), 1),
                "{name}"
            );
            assert!(
                found.warnings[0].starts_with(&format!("skipped `{locked}`: ")),
                "{name}: {:?}",
                found.warnings
            );
        }
    }
}
