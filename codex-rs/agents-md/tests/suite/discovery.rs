//! What discovery finds, through the local filesystem and through an exec-server alike.

use codex_agents_md::AgentsMdError;
use codex_agents_md::DiscoveryOptions;
use codex_agents_md::PROJECT_DOC_JOINER;
use codex_agents_md::PROJECT_DOC_SEPARATOR;
use codex_file_system::LocalFileSystem;
use pretty_assertions::assert_eq;

use super::backends::Tree;
use super::backends::backends;
use super::backends::discover;
use super::backends::expected;
use super::backends::options;

const BUDGET: usize = 10_000;

#[tokio::test]
async fn the_override_file_wins() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let tree = Tree::new();
        tree.mkdir(".git");
        let chosen = tree.write("AGENTS.override.md", "override");
        tree.write("AGENTS.md", "agents");
        tree.write("FALLBACK.md", "fallback");
        let found = discover(
            fs.as_ref(),
            &tree.root,
            &options(&[".git"], BUDGET, &["FALLBACK.md"]),
        )
        .await;
        assert_eq!(
            found,
            Ok(expected(&[&chosen], "override", &[], &tree.root)),
            "{name}"
        );
    }
}

#[tokio::test]
async fn agents_md_wins_over_the_fallbacks() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let tree = Tree::new();
        tree.mkdir(".git");
        let chosen = tree.write("AGENTS.md", "agents");
        tree.write("FALLBACK.md", "fallback");
        let found = discover(
            fs.as_ref(),
            &tree.root,
            &options(&[".git"], BUDGET, &["FALLBACK.md"]),
        )
        .await;
        assert_eq!(
            found,
            Ok(expected(&[&chosen], "agents", &[], &tree.root)),
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_first_fallback_present_wins() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let tree = Tree::new();
        tree.mkdir(".git");
        let chosen = tree.write("SECOND.md", "second");
        tree.write("THIRD.md", "third");
        let found = discover(
            fs.as_ref(),
            &tree.root,
            &options(&[".git"], BUDGET, &["FIRST.md", "SECOND.md", "THIRD.md"]),
        )
        .await;
        assert_eq!(
            found,
            Ok(expected(&[&chosen], "second", &[], &tree.root)),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_directory_with_the_name_is_passed_over() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let tree = Tree::new();
        tree.mkdir(".git");
        tree.mkdir("AGENTS.override.md");
        tree.mkdir("AGENTS.md");
        let chosen = tree.write("FALLBACK.md", "fallback");
        let found = discover(
            fs.as_ref(),
            &tree.root,
            &options(&[".git"], BUDGET, &["FALLBACK.md"]),
        )
        .await;
        assert_eq!(
            found,
            Ok(expected(&[&chosen], "fallback", &[], &tree.root)),
            "{name}"
        );
    }
}

/// A symlink to a regular file is read (and listed under its own name); a symlink to a
/// directory is passed over like a directory.
#[tokio::test]
async fn a_symlinked_file_is_read_and_a_symlinked_directory_passed_over() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let tree = Tree::new();
        tree.mkdir(".git");
        tree.mkdir("shared");
        tree.write("shared/guide.md", "shared guide");
        tree.symlink("shared", "AGENTS.override.md");
        let chosen = tree.symlink("shared/guide.md", "AGENTS.md");
        let found = discover(fs.as_ref(), &tree.root, &options(&[".git"], BUDGET, &[])).await;
        assert_eq!(
            found,
            Ok(expected(&[&chosen], "shared guide", &[], &tree.root)),
            "{name}"
        );
    }
}

/// A dangling symlink cannot be told from one the filesystem refuses to follow: it is
/// passed over with a warning.
#[tokio::test]
async fn a_dangling_symlink_is_passed_over_with_a_warning() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let tree = Tree::new();
        tree.mkdir(".git");
        let dangling = tree.symlink("nowhere.md", "AGENTS.override.md");
        let chosen = tree.write("AGENTS.md", "agents");
        let found = discover(fs.as_ref(), &tree.root, &options(&[".git"], BUDGET, &[]))
            .await
            .expect("discover");
        assert_eq!(
            (found.sources, found.text, found.warnings.len()),
            (vec![chosen], "agents".to_string(), 1),
            "{name}"
        );
        assert!(
            found.warnings[0].starts_with(&format!("skipped `{dangling}`: ")),
            "{name}: {:?}",
            found.warnings
        );
    }
}

/// Files at the root, in a middle directory and in the cwd, in that order; a directory
/// without one contributes nothing; `.git` may be a file (a worktree).
#[tokio::test]
async fn a_nested_project_reads_from_the_root_down() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let tree = Tree::new();
        tree.write("AGENTS.md", "above the project");
        tree.write("project/.git", "gitdir: elsewhere");
        let root_doc = tree.write("project/AGENTS.md", "root");
        let middle = tree.write("project/a/AGENTS.override.md", "middle");
        tree.mkdir("project/a/b");
        let cwd_doc = tree.write("project/a/b/c/FALLBACK.md", "cwd");
        let found = discover(
            fs.as_ref(),
            &tree.at("project/a/b/c"),
            &options(&[".git"], BUDGET, &["FALLBACK.md"]),
        )
        .await;
        assert_eq!(
            found,
            Ok(expected(
                &[&root_doc, &middle, &cwd_doc],
                &format!("root{PROJECT_DOC_JOINER}middle{PROJECT_DOC_JOINER}cwd"),
                &[],
                &tree.at("project"),
            )),
            "{name}"
        );
    }
}

/// The nearest marker wins, and any of the markers will do.
#[tokio::test]
async fn the_nearest_marker_of_any_kind_is_the_root() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let tree = Tree::new();
        tree.mkdir(".git");
        tree.write("AGENTS.md", "outer");
        tree.write("inner/.hg", "");
        let inner = tree.write("inner/AGENTS.md", "inner");
        let found = discover(
            fs.as_ref(),
            &tree.at("inner"),
            &options(&[".git", ".hg"], BUDGET, &[]),
        )
        .await;
        assert_eq!(
            found,
            Ok(expected(&[&inner], "inner", &[], &tree.at("inner"))),
            "{name}"
        );
    }
}

#[tokio::test]
async fn without_a_marker_only_the_cwd_counts() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let tree = Tree::new();
        tree.write("AGENTS.md", "parent");
        let chosen = tree.write("cwd/AGENTS.md", "cwd");
        let found = discover(
            fs.as_ref(),
            &tree.at("cwd"),
            &options(&["no-such-marker-anywhere"], BUDGET, &[]),
        )
        .await;
        assert_eq!(
            found,
            Ok(expected(&[&chosen], "cwd", &[], &tree.at("cwd"))),
            "{name}"
        );
    }
}

#[tokio::test]
async fn an_empty_marker_list_makes_the_cwd_the_root() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let tree = Tree::new();
        tree.mkdir(".git");
        tree.write("AGENTS.md", "parent");
        let chosen = tree.write("cwd/AGENTS.md", "cwd");
        let found = discover(fs.as_ref(), &tree.at("cwd"), &options(&[], BUDGET, &[])).await;
        assert_eq!(
            found,
            Ok(expected(&[&chosen], "cwd", &[], &tree.at("cwd"))),
            "{name}"
        );
    }
}

/// A budget ending inside a multi-byte character cuts before it; later files are left
/// out; both are reported.
#[tokio::test]
async fn the_cap_cuts_before_a_multi_byte_character() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let tree = Tree::new();
        tree.mkdir(".git");
        // "€" is 3 bytes: "ab€" is 5, a budget of 4 ends inside it.
        let root_doc = tree.write("AGENTS.md", "ab€cd");
        let cwd_doc = tree.write("cwd/AGENTS.md", "cwd");
        let found = discover(
            fs.as_ref(),
            &tree.at("cwd"),
            &options(&[".git"], /*max_bytes*/ 4, &[]),
        )
        .await;
        assert_eq!(
            found,
            Ok(expected(
                &[&root_doc],
                "ab",
                &[format!(
                    "instructions cut at 4 bytes; `{root_doc}` kept 2 of 7 bytes; \
                     left out: `{cwd_doc}`"
                )],
                &tree.root,
            )),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_budget_of_zero_disables_instructions() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let tree = Tree::new();
        let home = tree.write("home/AGENTS.md", "home");
        tree.mkdir("project/.git");
        tree.write("project/AGENTS.md", "project");
        let options = DiscoveryOptions {
            codex_home: home.parent(),
            ..options(&[".git"], /*max_bytes*/ 0, &[])
        };
        let found = discover(fs.as_ref(), &tree.at("project"), &options).await;
        assert_eq!(
            found,
            Ok(expected(&[], "", &[], &tree.at("project"))),
            "{name}"
        );
    }
}

/// `$CODEX_HOME`'s file comes first, then the separator, then the project's; its
/// override wins there too, and fallback names do not apply there.
#[tokio::test]
async fn the_home_file_comes_first_with_the_separator() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let tree = Tree::new();
        let home = tree.write("home/AGENTS.override.md", "home override");
        tree.write("home/AGENTS.md", "home agents");
        tree.mkdir("project/.git");
        let project = tree.write("project/AGENTS.md", "project");
        let options = DiscoveryOptions {
            codex_home: Some(tree.at("home")),
            ..options(&[".git"], BUDGET, &[])
        };
        let found = discover(fs.as_ref(), &tree.at("project"), &options).await;
        assert_eq!(
            found,
            Ok(expected(
                &[&home, &project],
                &format!("home override{PROJECT_DOC_SEPARATOR}project"),
                &[],
                &tree.at("project"),
            )),
            "{name}"
        );

        // Only the home file: no separator. A missing `$CODEX_HOME` is no file.
        tree.mkdir("bare/.git");
        let bare = tree.at("bare");
        let found = discover(fs.as_ref(), &bare, &options).await;
        assert_eq!(
            found,
            Ok(expected(&[&home], "home override", &[], &bare)),
            "{name}"
        );
        let options = DiscoveryOptions {
            codex_home: Some(tree.at("no-such-home")),
            ..options
        };
        let found = discover(fs.as_ref(), &tree.at("project"), &options).await;
        assert_eq!(
            found,
            Ok(expected(&[&project], "project", &[], &tree.at("project"))),
            "{name}"
        );
    }
}

/// The home part through one filesystem (this machine's), the project through another.
#[tokio::test]
async fn the_home_file_may_come_from_another_filesystem() {
    let (_server, backends) = backends().await;
    let local = LocalFileSystem::default();
    for (name, fs) in &backends {
        let tree = Tree::new();
        let home = tree.write("home/AGENTS.md", "home");
        tree.mkdir("project/.git");
        let project = tree.write("project/AGENTS.md", "project");
        let options = DiscoveryOptions {
            codex_home: Some(tree.at("home")),
            ..options(&[".git"], BUDGET, &[])
        };
        let found =
            codex_agents_md::discover(fs.as_ref(), &local, &tree.at("project"), &options).await;
        assert_eq!(
            found,
            Ok(expected(
                &[&home, &project],
                &format!("home{PROJECT_DOC_SEPARATOR}project"),
                &[],
                &tree.at("project"),
            )),
            "{name}"
        );
    }
}

/// A file holding only whitespace wins its directory but adds nothing.
#[tokio::test]
async fn a_blank_file_wins_but_adds_nothing() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let tree = Tree::new();
        tree.mkdir(".git");
        tree.write("AGENTS.override.md", " \n\n");
        tree.write("AGENTS.md", "agents");
        let found = discover(fs.as_ref(), &tree.root, &options(&[".git"], BUDGET, &[])).await;
        assert_eq!(found, Ok(expected(&[], "", &[], &tree.root)), "{name}");
    }
}

#[tokio::test]
async fn a_cwd_that_is_not_a_directory_is_an_error() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let tree = Tree::new();
        let missing = tree.at("missing/cwd");
        let file = tree.write("file.txt", "x");
        let under_file = tree.at("file.txt/cwd");
        let link = tree.symlink(".", "link");
        let found = (
            discover(fs.as_ref(), &missing, &DiscoveryOptions::default()).await,
            discover(fs.as_ref(), &file, &DiscoveryOptions::default()).await,
            discover(fs.as_ref(), &under_file, &DiscoveryOptions::default()).await,
            discover(fs.as_ref(), &link, &options(&[], BUDGET, &[]))
                .await
                .map(|found| found.project_root),
        );
        assert_eq!(
            found,
            (
                Err(AgentsMdError::CwdNotFound(missing.clone())),
                Err(AgentsMdError::CwdNotADirectory(file.clone())),
                Err(AgentsMdError::CwdNotADirectory(under_file.clone())),
                Ok(link.clone()),
            ),
            "{name}"
        );
    }
}
