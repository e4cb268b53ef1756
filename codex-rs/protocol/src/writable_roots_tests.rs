use super::*;
use pretty_assertions::assert_eq;

fn abs(path: &str) -> AbsolutePathBuf {
    AbsolutePathBuf::try_from_absolute(path).expect("absolute test path")
}

#[test]
fn default_protection_lists_git_codex_agents_under_the_root() {
    assert_eq!(
        WritableRoot::with_default_protection(abs("/work/proj")),
        WritableRoot {
            root: abs("/work/proj"),
            read_only_subpaths: vec![
                abs("/work/proj/.git"),
                abs("/work/proj/.codex"),
                abs("/work/proj/.agents"),
            ],
        }
    );
}

#[test]
fn gitdir_reader_is_asked_about_each_roots_dot_git_only() {
    let asked = std::cell::RefCell::new(Vec::new());
    let access = WriteAccess::Roots(vec![
        WritableRoot::with_default_protection(abs("/a")),
        WritableRoot::with_default_protection(abs("/b")),
    ])
    .protect_gitdir_targets(|dot_git: &Path| {
        asked.borrow_mut().push(dot_git.to_path_buf());
        None
    });
    assert_eq!(
        (asked.into_inner(), access),
        (
            vec![PathBuf::from("/a/.git"), PathBuf::from("/b/.git")],
            WriteAccess::Roots(vec![
                WritableRoot::with_default_protection(abs("/a")),
                WritableRoot::with_default_protection(abs("/b")),
            ])
        )
    );
}

#[test]
fn gitdir_target_is_added_once_and_relative_targets_resolve_against_the_root() {
    let access = WriteAccess::Roots(vec![WritableRoot::with_default_protection(abs(
        "/work/sub",
    ))])
    .protect_gitdir_targets(|_: &Path| Some(PathBuf::from("../.git/modules/sub")))
    .protect_gitdir_targets(|_: &Path| Some(PathBuf::from("/work/.git/modules/sub")));
    assert_eq!(
        access,
        WriteAccess::Roots(vec![WritableRoot {
            root: abs("/work/sub"),
            read_only_subpaths: vec![
                abs("/work/sub/.git"),
                abs("/work/sub/.codex"),
                abs("/work/sub/.agents"),
                abs("/work/.git/modules/sub"),
            ],
        }])
    );
}

#[test]
fn gitdir_reader_is_not_consulted_without_roots() {
    let never = |_: &Path| -> Option<PathBuf> { panic!("no roots, nothing to read") };
    assert_eq!(
        (
            WriteAccess::Everything.protect_gitdir_targets(never),
            WriteAccess::Nothing.protect_gitdir_targets(never),
        ),
        (WriteAccess::Everything, WriteAccess::Nothing)
    );
}
