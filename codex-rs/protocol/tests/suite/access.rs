//! `check_read` / `check_write` on resolved paths: protected subpaths, gitdir pointers,
//! restricted reads, containment edge cases, and the error messages.
use std::path::Path;
use std::path::PathBuf;

use codex_protocol::EffectiveAccess;
use codex_protocol::NetworkAccess;
use codex_protocol::PLATFORM_DEFAULT_READ_ROOTS;
use codex_protocol::ReadAccess;
use codex_protocol::ReadOnlyAccess;
use codex_protocol::SandboxError;
use codex_protocol::SandboxPolicy;
use codex_protocol::WriteDeniedReason;
use codex_protocol::read_gitdir_pointer_from_disk;
use codex_utils_absolute_path::AbsolutePathBuf;
use pretty_assertions::assert_eq;

use super::abs;

const CWD: &str = "/work/proj";

fn workspace_write(writable_roots: &[&str], read_only_access: ReadOnlyAccess) -> SandboxPolicy {
    SandboxPolicy::WorkspaceWrite {
        writable_roots: writable_roots.iter().map(|root| abs(root)).collect(),
        read_only_access,
        network_access: false,
        exclude_tmpdir_env_var: false,
        exclude_slash_tmp: true,
    }
}

fn restricted(include_platform_defaults: bool, readable_roots: &[&str]) -> ReadOnlyAccess {
    ReadOnlyAccess::Restricted {
        include_platform_defaults,
        readable_roots: readable_roots.iter().map(|root| abs(root)).collect(),
    }
}

/// `policy` applied in [`CWD`] with `$TMPDIR` = `/var/tmp/me`.
fn effective(policy: &SandboxPolicy) -> EffectiveAccess {
    policy.effective_access(Some(&abs(CWD)), Some(&abs("/var/tmp/me")))
}

/// The paths of `paths` that `allowed` accepts.
fn allowed<'a>(paths: &[&'a str], accepts: impl Fn(&AbsolutePathBuf) -> bool) -> Vec<&'a str> {
    paths
        .iter()
        .copied()
        .filter(|path| accepts(&abs(path)))
        .collect()
}

fn write_denied(path: &str, reason: WriteDeniedReason) -> Result<(), SandboxError> {
    Err(SandboxError::WriteDenied {
        path: abs(path),
        reason,
    })
}

#[test]
fn git_codex_agents_stay_read_only_inside_every_writable_root() {
    let access = effective(&workspace_write(
        &["/work/extra"],
        ReadOnlyAccess::FullAccess,
    ));
    let paths = [
        "/work/proj/src/main.rs",
        "/work/proj/.git",
        "/work/proj/.git/hooks/pre-commit",
        "/work/proj/.codex/config.toml",
        "/work/proj/.agents/skill.md",
        "/work/proj/sub/.git/config",
        "/work/proj/.github/workflows/ci.yml",
        "/work/proj/.gitignore",
        "/work/extra/.git/HEAD",
        "/work/extra/.codex",
        "/work/extra/notes.txt",
        "/var/tmp/me/.agents/x",
        "/var/tmp/me/scratch",
    ];
    assert_eq!(
        allowed(&paths, |path| access.can_write(path)),
        vec![
            "/work/proj/src/main.rs",
            // Only the root's own `.git` is protected, not nested repositories'.
            "/work/proj/sub/.git/config",
            "/work/proj/.github/workflows/ci.yml",
            "/work/proj/.gitignore",
            "/work/extra/notes.txt",
            "/var/tmp/me/scratch",
        ]
    );
    // Protected means read-only, not hidden.
    assert_eq!(
        allowed(&paths, |path| access.can_read(path)),
        paths.to_vec()
    );
}

#[test]
fn protected_subpath_of_a_nested_root_wins_over_the_outer_root() {
    let access = effective(&workspace_write(&["/work"], ReadOnlyAccess::FullAccess));
    assert_eq!(
        access.check_write(&abs("/work/proj/.git/config")),
        write_denied(
            "/work/proj/.git/config",
            WriteDeniedReason::ProtectedSubpath {
                subpath: abs("/work/proj/.git")
            }
        )
    );
}

#[test]
fn gitdir_pointer_target_is_protected_from_a_fake_reader() {
    // A worktree at /work/proj whose git directory lives under another writable root.
    let reader = |dot_git: &Path| -> Option<PathBuf> {
        (dot_git == Path::new("/work/proj/.git")).then(|| PathBuf::from("../gitdirs/proj-worktree"))
    };
    let policy = workspace_write(&["/work"], ReadOnlyAccess::FullAccess);
    let unprotected = effective(&policy);
    let protected = effective(&policy).protect_gitdir_targets(reader);
    let hook = abs("/work/gitdirs/proj-worktree/hooks/post-checkout");
    assert_eq!(
        (
            unprotected.check_write(&hook),
            protected.check_write(&hook),
            protected.check_write(&abs("/work/gitdirs/other/HEAD")),
        ),
        (
            Ok(()),
            write_denied(
                "/work/gitdirs/proj-worktree/hooks/post-checkout",
                WriteDeniedReason::ProtectedSubpath {
                    subpath: abs("/work/gitdirs/proj-worktree")
                }
            ),
            Ok(()),
        )
    );
}

#[test]
fn gitdir_pointer_file_on_disk_protects_its_target() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = std::fs::canonicalize(tmp.path()).expect("canonical tempdir");
    let gitdir = base.join("main/.git/worktrees/wt");
    std::fs::create_dir_all(&gitdir).expect("create gitdir");
    std::fs::create_dir_all(base.join("wt")).expect("create worktree");
    std::fs::write(base.join("wt/.git"), "gitdir: ../main/.git/worktrees/wt\n")
        .expect("write pointer");
    let base = AbsolutePathBuf::try_from_absolute(&base).expect("absolute tempdir");
    let cwd = base.join("wt");

    let access = SandboxPolicy::WorkspaceWrite {
        writable_roots: vec![base.clone()],
        read_only_access: ReadOnlyAccess::FullAccess,
        network_access: false,
        exclude_tmpdir_env_var: true,
        exclude_slash_tmp: true,
    }
    .effective_access(Some(&cwd), /*tmpdir*/ None)
    .protect_gitdir_targets(read_gitdir_pointer_from_disk);

    let config = base.join("main/.git/worktrees/wt/config");
    assert_eq!(
        (
            access.check_write(&config),
            access.can_write(&cwd.join("file.txt"))
        ),
        (
            Err(SandboxError::WriteDenied {
                path: config.clone(),
                reason: WriteDeniedReason::ProtectedSubpath {
                    // `<base>/main` is no root of its own, so its `.git` is protected
                    // only because the worktree's pointer names it.
                    subpath: base.join("main/.git/worktrees/wt"),
                },
            }),
            true
        )
    );
}

#[test]
fn read_only_policy_denies_every_write_with_its_reason() {
    let access = effective(&SandboxPolicy::ReadOnly {
        access: ReadOnlyAccess::FullAccess,
    });
    assert_eq!(
        (
            access.check_write(&abs("/work/proj/file")),
            access.can_read(&abs("/anything/at/all"))
        ),
        (
            write_denied("/work/proj/file", WriteDeniedReason::ReadOnlyPolicy),
            true
        )
    );
}

#[test]
fn full_access_variants_allow_everything() {
    for policy in [
        SandboxPolicy::DangerFullAccess,
        SandboxPolicy::ExternalSandbox {
            network_access: NetworkAccess::Restricted,
        },
    ] {
        let access = effective(&policy);
        assert_eq!(
            (
                access.read(),
                access.can_write(&abs("/etc/passwd")),
                access.can_write(&abs("/work/proj/.git/config"))
            ),
            (&ReadAccess::Everything, true, true),
            "{policy:?}"
        );
    }
}

#[test]
fn restricted_reads_without_platform_defaults() {
    let access = effective(&SandboxPolicy::ReadOnly {
        access: restricted(/*include_platform_defaults*/ false, &["/srv/data"]),
    });
    let paths = [
        "/srv/data",
        "/srv/data/a/b.txt",
        "/srv/database/x",
        "/srv",
        "/usr/bin/env",
        "/work/proj/src/lib.rs",
    ];
    assert_eq!(
        (access.read(), allowed(&paths, |path| access.can_read(path))),
        (
            &ReadAccess::Roots(vec![abs("/srv/data")]),
            vec!["/srv/data", "/srv/data/a/b.txt"]
        )
    );
}

#[test]
fn restricted_reads_with_platform_defaults_add_them_and_the_cwd() {
    let access = effective(&SandboxPolicy::ReadOnly {
        access: restricted(/*include_platform_defaults*/ true, &["/srv/data"]),
    });
    let mut expected = vec![abs("/srv/data")];
    expected.extend(PLATFORM_DEFAULT_READ_ROOTS.iter().map(|root| abs(root)));
    expected.push(abs(CWD));
    assert_eq!(access.read(), &ReadAccess::Roots(expected));
    for root in PLATFORM_DEFAULT_READ_ROOTS {
        assert!(access.can_read(&abs(root).join("some/file")), "{root}");
    }
    assert_eq!(
        allowed(
            &[
                "/work/proj/src/lib.rs",
                "/home/me/.ssh/id_ed25519",
                "/proc/1/environ"
            ],
            |path| access.can_read(path)
        ),
        vec!["/work/proj/src/lib.rs"]
    );
}

#[cfg(target_os = "linux")]
#[test]
fn linux_platform_defaults_cover_system_binaries_but_not_proc() {
    let access = effective(&SandboxPolicy::ReadOnly {
        access: restricted(/*include_platform_defaults*/ true, &[]),
    });
    assert_eq!(
        allowed(
            &[
                "/usr/bin/env",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/etc/hosts",
                "/proc/self/environ",
                "/home/me/notes",
                "/usrlocal/bin/tool",
            ],
            |path| access.can_read(path)
        ),
        vec![
            "/usr/bin/env",
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/etc/hosts"
        ]
    );
}

#[test]
fn writable_roots_are_readable_under_restricted_reads() {
    let access = effective(&workspace_write(
        &["/work/extra"],
        restricted(/*include_platform_defaults*/ false, &["/srv/data"]),
    ));
    let paths = [
        "/srv/data/x",
        "/work/extra/y",
        "/work/proj/.git/HEAD",
        "/var/tmp/me/z",
        "/tmp/other",
        "/home/me/secret",
    ];
    assert_eq!(
        allowed(&paths, |path| access.can_read(path)),
        // `/tmp` is excluded by `workspace_write` (excludeSlashTmp), so it is not readable.
        vec![
            "/srv/data/x",
            "/work/extra/y",
            "/work/proj/.git/HEAD",
            "/var/tmp/me/z"
        ]
    );
}

#[test]
fn containment_is_by_component_after_normalisation() {
    let access = effective(&workspace_write(
        &["/work/root"],
        restricted(/*include_platform_defaults*/ false, &[]),
    ));
    let paths = [
        "/work/root",
        "/work/root/file",
        "/work/rootkit/file",
        "/work/root/../rootkit/file",
        "/work/root/sub/../../etc",
        "/work/proj/./a/../b",
        "/work",
        "/",
    ];
    assert_eq!(
        (
            allowed(&paths, |path| access.can_write(path)),
            allowed(&paths, |path| access.can_read(path))
        ),
        (
            vec!["/work/root", "/work/root/file", "/work/proj/./a/../b"],
            vec!["/work/root", "/work/root/file", "/work/proj/./a/../b"],
        )
    );
}

#[test]
fn outside_writable_roots_is_reported_as_such() {
    let access = effective(&workspace_write(&[], ReadOnlyAccess::FullAccess));
    assert_eq!(
        access.check_write(&abs("/etc/passwd")),
        write_denied("/etc/passwd", WriteDeniedReason::OutsideWritableRoots)
    );
}

#[test]
fn error_messages_name_the_path_and_the_fix() {
    let messages = [
        SandboxError::ReadDenied {
            path: abs("/home/me/secret"),
        },
        SandboxError::WriteDenied {
            path: abs("/etc/passwd"),
            reason: WriteDeniedReason::OutsideWritableRoots,
        },
        SandboxError::WriteDenied {
            path: abs("/work/proj/.git/config"),
            reason: WriteDeniedReason::ProtectedSubpath {
                subpath: abs("/work/proj/.git"),
            },
        },
        SandboxError::WriteDenied {
            path: abs("/work/proj/a"),
            reason: WriteDeniedReason::ReadOnlyPolicy,
        },
    ]
    .map(|err| err.to_string());
    assert_eq!(
        messages,
        [
            "sandbox policy denies reading `/home/me/secret`: it is not under any readable \
             root; add it (or a parent) to `readableRoots`, or grant \
             `{\"type\": \"fullAccess\"}` reads",
            "sandbox policy denies writing `/etc/passwd`: it is outside every writable root \
             (the cwd, `writableRoots`, and the temp directories the policy allows); add it \
             (or a parent) to `writableRoots`",
            "sandbox policy denies writing `/work/proj/.git/config`: it is inside \
             `/work/proj/.git`, which stays read-only inside writable roots (`.git`, \
             `.codex`, `.agents` and a worktree's git directory hold hooks and \
             configuration); make the change outside the sandbox",
            "sandbox policy denies writing `/work/proj/a`: the policy is `readOnly`; use \
             `workspaceWrite` with a writable root that contains it",
        ]
        .map(String::from)
    );
}
