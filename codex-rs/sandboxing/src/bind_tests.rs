use std::os::unix::fs::symlink;
use std::path::Path;

use codex_protocol::ReadOnlyAccess;
use codex_protocol::SandboxError;
use codex_protocol::SandboxPolicy;
use codex_protocol::WriteAccess;
use codex_utils_absolute_path::AbsolutePathBuf;
use pretty_assertions::assert_eq;

use super::bind_policy;
use super::resolve_recording_links;
use crate::SandboxingError;

fn abs(path: &Path) -> AbsolutePathBuf {
    AbsolutePathBuf::try_from_absolute(path).unwrap()
}

/// A temp dir resolved, so expectations compare with resolved paths.
fn temp() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let real = std::fs::canonicalize(dir.path()).unwrap();
    (dir, real)
}

fn workspace_write(writable_roots: &[&Path], readable_roots: &[&Path]) -> SandboxPolicy {
    SandboxPolicy::WorkspaceWrite {
        writable_roots: writable_roots.iter().map(|path| abs(path)).collect(),
        read_only_access: ReadOnlyAccess::Restricted {
            include_platform_defaults: false,
            readable_roots: readable_roots.iter().map(|path| abs(path)).collect(),
        },
        network_access: false,
        exclude_tmpdir_env_var: true,
        exclude_slash_tmp: true,
    }
}

fn writable(access: &codex_protocol::EffectiveAccess) -> Vec<AbsolutePathBuf> {
    match access.write() {
        WriteAccess::Roots(roots) => roots.iter().map(|root| root.root.clone()).collect(),
        other @ (WriteAccess::Everything | WriteAccess::Nothing) => panic!("{other:?}"),
    }
}

#[test]
fn resolution_records_each_symlink_and_keeps_a_missing_rest() {
    let (_dir, base) = temp();
    std::fs::create_dir(base.join("real")).unwrap();
    symlink(base.join("real"), base.join("abs-link")).unwrap();
    symlink("abs-link", base.join("rel-link")).unwrap();
    let resolution = resolve_recording_links(&abs(&base.join("rel-link/missing/x"))).unwrap();
    assert_eq!(
        (resolution.path, resolution.links),
        (
            abs(&base.join("real/missing/x")),
            vec![abs(&base.join("rel-link")), abs(&base.join("abs-link"))]
        )
    );
}

#[test]
fn a_symlink_loop_is_an_error_not_a_hang() {
    let (_dir, base) = temp();
    symlink("b", base.join("a")).unwrap();
    symlink("a", base.join("b")).unwrap();
    let err = resolve_recording_links(&abs(&base.join("a"))).unwrap_err();
    assert!(err.to_string().contains("symbolic links"), "{err}");
}

#[test]
fn a_root_swapped_for_a_symlink_inside_a_writable_root_is_refused() {
    // The attack: a sandbox that may write `base` replaces the nested root `base/proj`
    // (or the server's `$TMPDIR` under `/tmp`) with a link to a directory it may not
    // write; every later binding would grant the link's target.
    let (_dir, base) = temp();
    let (_outside_dir, outside) = temp();
    symlink(&outside, base.join("proj")).unwrap();
    let policy = workspace_write(&[&base, &base.join("proj")], &[]);
    assert_eq!(
        bind_policy(&policy, None, None, None),
        Err(SandboxingError::RootThroughWritableSymlink {
            root: base.join("proj"),
            link: base.join("proj"),
            target: outside,
        })
    );
    // The same as `$TMPDIR` and as a readable root.
    let tmpdir_policy = SandboxPolicy::WorkspaceWrite {
        writable_roots: vec![abs(&base)],
        read_only_access: ReadOnlyAccess::FullAccess,
        network_access: false,
        exclude_tmpdir_env_var: false,
        exclude_slash_tmp: true,
    };
    assert!(matches!(
        bind_policy(&tmpdir_policy, None, Some(&abs(&base.join("proj"))), None),
        Err(SandboxingError::RootThroughWritableSymlink { .. })
    ));
    assert!(matches!(
        bind_policy(
            &workspace_write(&[&base], &[&base.join("proj")]),
            None,
            None,
            None
        ),
        Err(SandboxingError::RootThroughWritableSymlink { .. })
    ));
}

#[test]
fn symlinks_outside_writable_roots_or_within_them_are_followed() {
    let (_dir, base) = temp();
    let (_links_dir, links) = temp();
    std::fs::create_dir_all(base.join("a/real")).unwrap();
    // A link the sandbox cannot touch (its directory is not writable) ...
    symlink(&base, links.join("to-base")).unwrap();
    // ... and one inside a writable root that stays inside it.
    symlink(base.join("a/real"), base.join("a/inner")).unwrap();
    let policy = workspace_write(&[&links.join("to-base"), &base.join("a/inner")], &[]);
    let access = bind_policy(
        &policy, /*policy_cwd*/ None, /*tmpdir*/ None, /*pins*/ None,
    )
    .unwrap();
    assert_eq!(
        writable(&access),
        vec![abs(&base), abs(&base.join("a/real"))]
    );
}

#[test]
fn the_policy_cwd_is_resolved_and_granted_and_no_cwd_grants_nothing() {
    let (_dir, base) = temp();
    let (_links_dir, links) = temp();
    symlink(&base, links.join("cwd")).unwrap();
    let policy = workspace_write(&[], &[]);
    let with_cwd = bind_policy(
        &policy,
        Some(&abs(&links.join("cwd"))),
        /*tmpdir*/ None,
        /*pins*/ None,
    )
    .unwrap();
    let without = bind_policy(
        &policy, /*policy_cwd*/ None, /*tmpdir*/ None, /*pins*/ None,
    )
    .unwrap();
    assert_eq!(
        (writable(&with_cwd), writable(&without)),
        (vec![abs(&base)], vec![])
    );
}

#[test]
fn a_writable_root_inside_a_protected_path_is_refused() {
    let (_dir, base) = temp();
    std::fs::create_dir_all(base.join(".git/hooks")).unwrap();
    let policy = workspace_write(&[&base, &base.join(".git/hooks")], &[]);
    assert_eq!(
        bind_policy(&policy, None, None, None),
        Err(SandboxingError::Policy(
            SandboxError::RootInsideProtectedPath {
                root: abs(&base.join(".git/hooks")),
                protected: abs(&base.join(".git")),
            }
        ))
    );
}

#[test]
fn a_gitdir_target_is_protected_at_its_resolved_path() {
    // `wt/.git` names its git directory through a link; the protection must land on the
    // directory the link leads to, which is what a sandbox mounts and fs/* compares.
    let (_dir, base) = temp();
    std::fs::create_dir_all(base.join("store/gd")).unwrap();
    std::fs::create_dir_all(base.join("wt")).unwrap();
    symlink(base.join("store"), base.join("store-link")).unwrap();
    std::fs::write(
        base.join("wt/.git"),
        format!("gitdir: {}\n", base.join("store-link/gd").display()),
    )
    .unwrap();
    let policy = workspace_write(&[&base.join("wt"), &base.join("store")], &[]);
    let access = bind_policy(
        &policy, /*policy_cwd*/ None, /*tmpdir*/ None, /*pins*/ None,
    )
    .unwrap();
    assert_eq!(
        [
            access.can_write(&abs(&base.join("store/gd/HEAD"))),
            access.can_write(&abs(&base.join("store/other"))),
        ],
        [false, true]
    );
}

#[test]
fn a_pinned_root_that_resolves_elsewhere_later_is_refused() {
    // The policy names only `proj`, so the symlink planted in its parent (writable under
    // another policy of the same session) is not in a directory this policy makes
    // writable: only the pin notices that `proj` moved.
    let (_dir, base) = temp();
    let (_outside_dir, outside) = temp();
    let proj = base.join("proj");
    std::fs::create_dir(&proj).unwrap();
    let policy = workspace_write(&[&proj], &[]);
    let pins = super::RootPins::default();

    let first = bind_policy(
        &policy,
        /*policy_cwd*/ None,
        /*tmpdir*/ None,
        Some(&pins),
    )
    .map(|access| writable(&access));
    std::fs::remove_dir(&proj).unwrap();
    symlink(&outside, &proj).unwrap();
    let unpinned = bind_policy(
        &policy, /*policy_cwd*/ None, /*tmpdir*/ None, /*pins*/ None,
    )
    .map(|access| writable(&access));
    let pinned = bind_policy(
        &policy,
        /*policy_cwd*/ None,
        /*tmpdir*/ None,
        Some(&pins),
    );

    assert_eq!(
        (first, unpinned, pinned.map(|access| writable(&access))),
        (
            Ok(vec![abs(&proj)]),
            Ok(vec![abs(&outside)]),
            Err(SandboxingError::RootChanged {
                root: proj.clone(),
                first: proj.clone(),
                now: outside.clone(),
            })
        )
    );
}

#[test]
fn a_link_planted_under_an_earlier_policy_of_the_session_is_refused_at_first_use() {
    // Policy A makes `base` writable; its command plants `base/x -> victim`. Policy B
    // names only `base/x`, never used before: the link's directory is not writable
    // under B, but it was under A, in the same session.
    let (_dir, base) = temp();
    let (_victim_dir, victim) = temp();
    let pins = super::RootPins::default();
    let a = workspace_write(&[&base], &[]);
    bind_policy(
        &a,
        /*policy_cwd*/ None,
        /*tmpdir*/ None,
        Some(&pins),
    )
    .unwrap();
    symlink(&victim, base.join("x")).unwrap();
    let b = workspace_write(&[&base.join("x")], &[]);

    let unpinned = bind_policy(
        &b, /*policy_cwd*/ None, /*tmpdir*/ None, /*pins*/ None,
    )
    .map(|access| writable(&access));
    let pinned = bind_policy(
        &b,
        /*policy_cwd*/ None,
        /*tmpdir*/ None,
        Some(&pins),
    )
    .map(|access| writable(&access));

    assert_eq!(
        (unpinned, pinned),
        (
            Ok(vec![abs(&victim)]),
            Err(SandboxingError::RootThroughWritableSymlink {
                root: base.join("x"),
                link: base.join("x"),
                target: victim.clone(),
            })
        )
    );
}

#[test]
fn a_gitdir_named_through_a_replaceable_symlink_is_refused() {
    // `wt/.git` names its git directory through `wt/lnk`, which the sandbox may replace:
    // git on the host would then use a git directory (hooks, config) of the command's.
    let (_dir, base) = temp();
    std::fs::create_dir_all(base.join("main/.git/worktrees/wt")).unwrap();
    std::fs::create_dir_all(base.join("wt")).unwrap();
    symlink(base.join("main/.git"), base.join("wt/lnk")).unwrap();
    std::fs::write(
        base.join("wt/.git"),
        format!("gitdir: {}\n", base.join("wt/lnk/worktrees/wt").display()),
    )
    .unwrap();
    let policy = workspace_write(&[&base.join("wt")], &[]);

    assert_eq!(
        bind_policy(&policy, None, None, None).map(|access| writable(&access)),
        Err(SandboxingError::GitdirThroughWritableSymlink {
            pointer: base.join("wt/.git"),
            link: base.join("wt/lnk"),
        })
    );
}

#[test]
fn the_common_directory_of_a_worktree_is_protected_too() {
    // `base` is writable but not a root of its own, so `base/main/.git` is protected only
    // as the common directory the worktree's git directory names.
    let (_dir, base) = temp();
    std::fs::create_dir_all(base.join("main/.git/worktrees/wt")).unwrap();
    std::fs::create_dir_all(base.join("main/.git/hooks")).unwrap();
    std::fs::write(base.join("main/.git/worktrees/wt/commondir"), "../..\n").unwrap();
    std::fs::create_dir_all(base.join("wt")).unwrap();
    std::fs::write(
        base.join("wt/.git"),
        format!(
            "gitdir: {}\n",
            base.join("main/.git/worktrees/wt").display()
        ),
    )
    .unwrap();
    let policy = workspace_write(&[&base, &base.join("wt")], &[]);
    let access = bind_policy(
        &policy, /*policy_cwd*/ None, /*tmpdir*/ None, /*pins*/ None,
    )
    .unwrap();

    assert_eq!(
        [
            access.can_write(&abs(&base.join("main/.git/hooks/pre-commit"))),
            access.can_write(&abs(&base.join("main/.git/worktrees/wt/HEAD"))),
            access.can_write(&abs(&base.join("main/src.rs"))),
        ],
        [false, false, true]
    );
}

#[test]
fn going_up_from_a_missing_directory_is_an_error() {
    // Once something (a symlink) is created at `nope`, `..` would lead elsewhere: the path
    // cannot be judged now, so it is refused rather than normalised.
    // (Paths are normalised when they are parsed; a link's target is not.)
    let (_dir, base) = temp();
    symlink("nope/../../elsewhere", base.join("link")).unwrap();
    let err = resolve_recording_links(&abs(&base.join("link"))).unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}
