use super::*;
use pretty_assertions::assert_eq;

#[test]
fn parses_a_gitdir_line() {
    assert_eq!(
        parse_gitdir_pointer("gitdir: /repo/.git/worktrees/wt\n"),
        Some(PathBuf::from("/repo/.git/worktrees/wt"))
    );
    assert_eq!(
        parse_gitdir_pointer("gitdir:../.git/modules/sub"),
        Some(PathBuf::from("../.git/modules/sub"))
    );
}

#[test]
fn reads_the_path_as_git_does() {
    // git takes everything after `gitdir: ` up to the line ends, leading spaces included.
    assert_eq!(
        [
            parse_gitdir_pointer("gitdir:  ../x\r\n"),
            parse_gitdir_pointer(" gitdir: /a"),
        ],
        [Some(PathBuf::from(" ../x")), None]
    );
}

#[test]
fn refuses_anything_but_a_single_gitdir_line() {
    assert_eq!(
        [
            "",
            "gitdir:",
            "gitdir:   \n",
            "ref: refs/heads/main",
            "/repo/.git",
            "gitdir: /a\ngitdir: /b",
        ]
        .map(parse_gitdir_pointer),
        [None, None, None, None, None, None]
    );
}

#[test]
fn reads_pointer_files_and_ignores_directories() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = std::fs::canonicalize(tmp.path()).expect("canonical tempdir");
    let real_gitdir = root.join("main/.git/worktrees/wt");
    std::fs::create_dir_all(&real_gitdir).expect("create gitdir");
    std::fs::create_dir_all(root.join("wt")).expect("create worktree");
    std::fs::write(root.join("wt/.git"), "gitdir: ../main/.git/worktrees/wt\n")
        .expect("write pointer");
    std::fs::write(root.join("junk"), "not a pointer").expect("write junk");

    assert_eq!(
        (
            read_gitdir_pointer_from_disk(&root.join("wt/.git")),
            read_gitdir_pointer_from_disk(&root.join("main/.git")),
            read_gitdir_pointer_from_disk(&root.join("missing/.git")),
            read_gitdir_pointer_from_disk(&root.join("junk")),
        ),
        (Some(real_gitdir), None, None, None)
    );
}

#[test]
fn a_pointer_to_a_missing_directory_is_still_returned() {
    // Protecting a gitdir that does not exist yet costs nothing and keeps it from
    // being created by the agent.
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = std::fs::canonicalize(tmp.path()).expect("canonical tempdir");
    std::fs::write(root.join(".git"), "gitdir: /nonexistent/gitdir").expect("write pointer");
    assert_eq!(
        read_gitdir_pointer_from_disk(&root.join(".git")),
        Some(PathBuf::from("/nonexistent/gitdir"))
    );
}
