use std::ffi::OsString;
use std::path::Path;

use codex_protocol::LINUX_DEFAULT_READ_ROOTS;
use codex_protocol::NetworkAccess;
use codex_protocol::ReadOnlyAccess;
use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;
use pretty_assertions::assert_eq;

use super::BwrapArgv;
use super::BwrapOptions;
use super::ProcMount;
use super::SandboxPlan;
use super::build_bwrap_argv;
use crate::LinuxSandboxError;

/// A temp dir whose path has no symlinks, and helpers to name paths in it.
struct Fixture {
    _dir: tempfile::TempDir,
    root: AbsolutePathBuf,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let canonical = dir.path().canonicalize().expect("canonicalize");
        let root = AbsolutePathBuf::try_from_absolute(canonical).expect("absolute");
        Self { _dir: dir, root }
    }

    fn path(&self, relative: &str) -> AbsolutePathBuf {
        self.root.join(relative)
    }

    fn mkdir(&self, relative: &str) -> AbsolutePathBuf {
        let path = self.path(relative);
        std::fs::create_dir_all(path.as_path()).expect("mkdir");
        path
    }
}

fn abs(path: &str) -> AbsolutePathBuf {
    AbsolutePathBuf::try_from_absolute(path).expect("absolute")
}

fn workspace_write(
    writable_roots: Vec<AbsolutePathBuf>,
    read_only_access: ReadOnlyAccess,
    network_access: bool,
) -> SandboxPolicy {
    SandboxPolicy::WorkspaceWrite {
        writable_roots,
        read_only_access,
        network_access,
        exclude_tmpdir_env_var: true,
        exclude_slash_tmp: true,
    }
}

fn options() -> BwrapOptions {
    BwrapOptions::default()
}

/// [`options`] with the policy bound to `cwd` (writable under `workspaceWrite`).
fn in_cwd(cwd: &AbsolutePathBuf) -> BwrapOptions {
    BwrapOptions {
        policy_cwd: Some(cwd.clone()),
        ..options()
    }
}

/// `argv` with `options_end` where its `-- sh -c true` ([`command`]) begins.
fn with_options_end(argv: BwrapArgv) -> BwrapArgv {
    BwrapArgv {
        options_end: argv.args.len() - 1 - command().len(),
        ..argv
    }
}

fn command() -> Vec<OsString> {
    vec![
        OsString::from("sh"),
        OsString::from("-c"),
        OsString::from("true"),
    ]
}

/// The whitespace-separated words of `golden` as arguments; `{}` in a word stands for
/// `fixture_root` (temp dirs have no spaces in their paths). The user namespace
/// arguments, which depend on who runs the test, come first.
fn argv(fixture_root: &AbsolutePathBuf, golden: &str) -> Vec<OsString> {
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    super::user_namespace_args(euid)
        .into_iter()
        .map(OsString::from)
        .chain(
            golden
                .split_whitespace()
                .map(|item| OsString::from(item.replace("{}", &fixture_root.to_string()))),
        )
        .collect()
}

#[test]
fn read_only_full_access_binds_root_read_only_without_network() {
    let fx = Fixture::new();
    let cwd = fx.mkdir("ws");
    let policy = SandboxPolicy::ReadOnly {
        access: ReadOnlyAccess::FullAccess,
    };

    let got = build_bwrap_argv(&policy, &cwd, &command(), &options()).expect("argv");

    let expected = with_options_end(BwrapArgv {
        options_end: 0,
        args: argv(
            &fx.root,
            "
                --new-session --die-with-parent --unshare-pid --unshare-ipc --unshare-net
                --ro-bind / /
                --dev /dev --proc /proc --remount-ro /proc
                --chdir {}/ws
                -- sh -c true
            ",
        ),
        placeholders: Vec::new(),
        writable: Vec::new(),
    });
    assert_eq!(got, expected);
}

#[test]
fn workspace_write_protects_existing_and_missing_subpaths() {
    let fx = Fixture::new();
    let cwd = fx.mkdir("ws");
    fx.mkdir("ws/.git");
    let policy = workspace_write(
        Vec::new(),
        ReadOnlyAccess::FullAccess,
        /*network_access*/ true,
    );

    let got = build_bwrap_argv(&policy, &cwd, &command(), &in_cwd(&cwd)).expect("argv");

    let expected = with_options_end(BwrapArgv {
        options_end: 0,
        args: argv(
            &fx.root,
            "
                --new-session --die-with-parent --unshare-pid --unshare-ipc
                --ro-bind / /
                --dev /dev --proc /proc --remount-ro /proc
                --bind {}/ws {}/ws
                --tmpfs {}/ws/.agents
                --remount-ro {}/ws/.agents
                --tmpfs {}/ws/.codex
                --remount-ro {}/ws/.codex
                --ro-bind {}/ws/.git {}/ws/.git
                --chdir {}/ws
                -- sh -c true
            ",
        ),
        placeholders: vec![fx.path("ws/.agents"), fx.path("ws/.codex")],
        writable: vec![fx.path("ws")],
    });
    assert_eq!(got, expected);
}

#[test]
fn restricted_reads_start_from_an_empty_read_only_root() {
    let fx = Fixture::new();
    let cwd = fx.mkdir("ws/proj");
    for dir in [
        "docs",
        "docs/inner",
        "extra",
        "tmp",
        "bin",
        "ws/proj/.git",
        "ws/proj/.codex",
        "ws/proj/.agents",
    ] {
        fx.mkdir(dir);
    }
    for dir in [
        "extra/.git",
        "extra/.codex",
        "extra/.agents",
        "tmp/.git",
        "tmp/.codex",
        "tmp/.agents",
    ] {
        fx.mkdir(dir);
    }
    std::fs::write(fx.path("bin/helper").as_path(), "").expect("write helper");
    let policy = SandboxPolicy::WorkspaceWrite {
        writable_roots: vec![fx.path("extra")],
        read_only_access: ReadOnlyAccess::Restricted {
            include_platform_defaults: false,
            // `docs/inner` is covered by `docs`; `ws` contains the writable cwd.
            readable_roots: vec![fx.path("docs/inner"), fx.path("docs"), fx.path("ws")],
        },
        network_access: false,
        exclude_tmpdir_env_var: false,
        exclude_slash_tmp: true,
    };
    let options = BwrapOptions {
        proc_mount: ProcMount::Skip,
        tmpdir: Some(fx.path("tmp")),
        helper: Some(fx.path("bin/helper")),
        env: vec![(OsString::from("HOME"), OsString::from("/home/me"))],
        ..in_cwd(&cwd)
    };

    let got = build_bwrap_argv(&policy, &cwd, &command(), &options).expect("argv");

    let expected = with_options_end(BwrapArgv {
        options_end: 0,
        args: argv(
            &fx.root,
            "
                --new-session --die-with-parent --unshare-pid --unshare-ipc --unshare-net
                --tmpfs /
                --ro-bind {}/docs {}/docs
                --ro-bind {}/ws {}/ws
                --dev /dev
                --tmpfs /proc
                --remount-ro /proc
                --bind {}/extra {}/extra
                --bind {}/tmp {}/tmp
                --bind {}/ws/proj {}/ws/proj
                --ro-bind {}/extra/.agents {}/extra/.agents
                --ro-bind {}/extra/.codex {}/extra/.codex
                --ro-bind {}/extra/.git {}/extra/.git
                --ro-bind {}/tmp/.agents {}/tmp/.agents
                --ro-bind {}/tmp/.codex {}/tmp/.codex
                --ro-bind {}/tmp/.git {}/tmp/.git
                --ro-bind {}/ws/proj/.agents {}/ws/proj/.agents
                --ro-bind {}/ws/proj/.codex {}/ws/proj/.codex
                --ro-bind {}/ws/proj/.git {}/ws/proj/.git
                --ro-bind {}/bin/helper {}/bin/helper
                --remount-ro /
                --setenv HOME /home/me
                --chdir {}/ws/proj
                -- sh -c true
            ",
        ),
        placeholders: Vec::new(),
        writable: ["extra", "tmp", "ws/proj"].map(|p| fx.path(p)).to_vec(),
    });
    assert_eq!(got, expected);
}

#[test]
fn platform_defaults_bind_the_system_roots_this_host_has() {
    let fx = Fixture::new();
    let cwd = fx.mkdir("ws");
    let policy = SandboxPolicy::ReadOnly {
        access: ReadOnlyAccess::Restricted {
            include_platform_defaults: true,
            readable_roots: Vec::new(),
        },
    };

    let got = build_bwrap_argv(&policy, &cwd, &command(), &in_cwd(&cwd)).expect("argv");

    // Platform defaults are bound as named (bubblewrap follows `/bin -> usr/bin`).
    let mut read_roots: Vec<String> = LINUX_DEFAULT_READ_ROOTS
        .iter()
        .filter(|root| Path::new(root).exists())
        .map(|root| (*root).to_string())
        .collect();
    read_roots.push(cwd.to_string());
    read_roots.sort_by(|a, b| Path::new(a).cmp(Path::new(b)));
    let binds: Vec<String> = read_roots
        .iter()
        .map(|root| format!("--ro-bind {root} {root}"))
        .collect();
    let expected = format!(
        "--new-session --die-with-parent --unshare-pid --unshare-ipc --unshare-net
         --tmpfs /
         {}
         --dev /dev --proc /proc --remount-ro /proc
         --remount-ro /
         --chdir {{}}/ws
         -- sh -c true",
        binds.join("\n")
    );
    assert!(read_roots.contains(&"/usr".to_string()), "{read_roots:?}");
    assert_eq!(
        got,
        with_options_end(BwrapArgv {
            options_end: 0,
            args: argv(&fx.root, &expected),
            placeholders: Vec::new(),
            writable: Vec::new(),
        })
    );
}

#[test]
fn nested_writable_roots_are_each_a_mount_point_and_every_protected_path_wins() {
    // `work/proj` is bound although `work` covers it: as a mount point it cannot be
    // renamed away to make room for a new `proj` with an unprotected `.git`.
    let fx = Fixture::new();
    let cwd = fx.mkdir("work/proj");
    for dir in [".git", ".codex", ".agents"] {
        fx.mkdir(&format!("work/{dir}"));
        fx.mkdir(&format!("work/proj/{dir}"));
    }
    let policy = workspace_write(
        vec![fx.path("work")],
        ReadOnlyAccess::FullAccess,
        /*network_access*/ true,
    );

    let got = build_bwrap_argv(&policy, &cwd, &command(), &in_cwd(&cwd)).expect("argv");

    let expected = argv(
        &fx.root,
        "
            --new-session --die-with-parent --unshare-pid --unshare-ipc
            --ro-bind / /
            --dev /dev --proc /proc --remount-ro /proc
            --bind {}/work {}/work
            --bind {}/work/proj {}/work/proj
            --ro-bind {}/work/.agents {}/work/.agents
            --ro-bind {}/work/.codex {}/work/.codex
            --ro-bind {}/work/.git {}/work/.git
            --ro-bind {}/work/proj/.agents {}/work/proj/.agents
            --ro-bind {}/work/proj/.codex {}/work/proj/.codex
            --ro-bind {}/work/proj/.git {}/work/proj/.git
            --chdir {}/work/proj
            -- sh -c true
        ",
    );
    assert_eq!(got.args, expected);
}

#[test]
fn every_directory_between_a_writable_root_and_a_protected_path_is_a_mount_point() {
    // `base/a/b` is a root inside the root `base`; `base/a` is neither, but renaming it
    // would move `b` (and its protected `.git`) away. Likewise the directories above a
    // gitdir target.
    let fx = Fixture::new();
    let cwd = fx.mkdir("base/a/b");
    fx.mkdir("base/store/deep/gd");
    std::fs::write(
        fx.path("base/a/b/.git").as_path(),
        format!("gitdir: {}\n", fx.path("base/store/deep/gd")),
    )
    .expect("write .git");
    let policy = SandboxPolicy::WorkspaceWrite {
        writable_roots: vec![fx.path("base"), cwd.clone()],
        read_only_access: ReadOnlyAccess::FullAccess,
        network_access: true,
        exclude_tmpdir_env_var: true,
        exclude_slash_tmp: true,
    };

    let got = build_bwrap_argv(&policy, &cwd, &command(), &options()).expect("argv");

    let rw: Vec<&OsString> = got
        .args
        .windows(3)
        .filter(|w| w[0] == "--bind" && w[1] == w[2])
        .map(|w| &w[1])
        .collect();
    let expected: Vec<OsString> = [
        "base",
        "base/a",
        "base/a/b",
        "base/store",
        "base/store/deep",
    ]
    .map(|p| fx.path(p).into_path_buf().into_os_string())
    .to_vec();
    assert_eq!(rw, expected.iter().collect::<Vec<_>>());
}

#[test]
fn gitdir_target_inside_a_writable_root_is_protected_and_one_outside_is_not_bound() {
    let fx = Fixture::new();
    let cwd = fx.mkdir("work/wt");
    fx.mkdir("work/repo/.git/worktrees/wt");
    fx.mkdir("elsewhere/gitdir");
    for dir in [".codex", ".agents"] {
        fx.mkdir(&format!("work/{dir}"));
        fx.mkdir(&format!("work/wt/{dir}"));
        fx.mkdir(&format!("other/{dir}"));
    }
    fx.mkdir("work/.git");
    std::fs::write(
        fx.path("work/wt/.git").as_path(),
        format!("gitdir: {}\n", fx.path("work/repo/.git/worktrees/wt")),
    )
    .expect("write .git");
    std::fs::write(
        fx.path("other/.git").as_path(),
        format!("gitdir: {}\n", fx.path("elsewhere/gitdir")),
    )
    .expect("write .git");
    let policy = workspace_write(
        vec![fx.path("work"), fx.path("other")],
        ReadOnlyAccess::FullAccess,
        /*network_access*/ true,
    );

    let got = build_bwrap_argv(&policy, &cwd, &command(), &in_cwd(&cwd)).expect("argv");

    let expected = argv(
        &fx.root,
        "
            --new-session --die-with-parent --unshare-pid --unshare-ipc
            --ro-bind / /
            --dev /dev --proc /proc --remount-ro /proc
            --bind {}/other {}/other
            --bind {}/work {}/work
            --bind {}/work/repo {}/work/repo
            --bind {}/work/repo/.git {}/work/repo/.git
            --bind {}/work/repo/.git/worktrees {}/work/repo/.git/worktrees
            --bind {}/work/wt {}/work/wt
            --ro-bind {}/other/.agents {}/other/.agents
            --ro-bind {}/other/.codex {}/other/.codex
            --ro-bind {}/other/.git {}/other/.git
            --ro-bind {}/work/.agents {}/work/.agents
            --ro-bind {}/work/.codex {}/work/.codex
            --ro-bind {}/work/.git {}/work/.git
            --ro-bind {}/work/repo/.git/worktrees/wt {}/work/repo/.git/worktrees/wt
            --ro-bind {}/work/wt/.agents {}/work/wt/.agents
            --ro-bind {}/work/wt/.codex {}/work/wt/.codex
            --ro-bind {}/work/wt/.git {}/work/wt/.git
            --chdir {}/work/wt
            -- sh -c true
        ",
    );
    assert_eq!(got.args, expected);
}

#[test]
fn policies_without_bubblewrap_are_refused_and_planned_elsewhere() {
    let fx = Fixture::new();
    let cwd = fx.mkdir("ws");
    let cases = [
        (
            SandboxPolicy::DangerFullAccess,
            SandboxPlan::Direct,
            "dangerFullAccess",
        ),
        (
            SandboxPolicy::ExternalSandbox {
                network_access: NetworkAccess::Enabled,
            },
            SandboxPlan::Direct,
            "externalSandbox",
        ),
        (
            SandboxPolicy::ExternalSandbox {
                network_access: NetworkAccess::Restricted,
            },
            SandboxPlan::SeccompOnly,
            "externalSandbox",
        ),
    ];
    for (policy, plan, name) in cases {
        assert_eq!(SandboxPlan::for_policy(&policy), plan, "{policy:?}");
        let err = build_bwrap_argv(&policy, &cwd, &command(), &options()).expect_err("refused");
        assert!(
            matches!(err, LinuxSandboxError::NotABwrapPolicy { policy } if policy == name),
            "{err:?}"
        );
    }
    let bwrap_policies = [
        SandboxPolicy::ReadOnly {
            access: ReadOnlyAccess::FullAccess,
        },
        workspace_write(
            Vec::new(),
            ReadOnlyAccess::FullAccess,
            /*network_access*/ false,
        ),
    ];
    for policy in bwrap_policies {
        assert_eq!(SandboxPlan::for_policy(&policy), SandboxPlan::Bwrap);
    }
}

#[test]
fn missing_writable_root_is_an_error_naming_it() {
    let fx = Fixture::new();
    let cwd = fx.mkdir("ws");
    let missing = fx.path("no-such-dir");
    let policy = workspace_write(
        vec![missing.clone()],
        ReadOnlyAccess::FullAccess,
        /*network_access*/ false,
    );

    let err = build_bwrap_argv(&policy, &cwd, &command(), &options()).expect_err("missing root");

    assert!(
        matches!(&err, LinuxSandboxError::MissingWritableRoot { root } if *root == missing),
        "{err:?}"
    );
    assert!(err.to_string().contains(&missing.to_string()), "{err}");
}

#[test]
fn missing_tmpdir_writable_root_is_an_error_too() {
    let fx = Fixture::new();
    let cwd = fx.mkdir("ws");
    let policy = SandboxPolicy::WorkspaceWrite {
        writable_roots: Vec::new(),
        read_only_access: ReadOnlyAccess::FullAccess,
        network_access: false,
        exclude_tmpdir_env_var: false,
        exclude_slash_tmp: true,
    };
    let options = BwrapOptions {
        tmpdir: Some(fx.path("gone")),
        ..options()
    };

    let err = build_bwrap_argv(&policy, &cwd, &command(), &options).expect_err("missing root");

    assert!(
        matches!(&err, LinuxSandboxError::MissingWritableRoot { root } if *root == fx.path("gone")),
        "{err:?}"
    );
}

#[test]
fn missing_readable_root_is_an_error_but_a_missing_platform_default_is_skipped() {
    let fx = Fixture::new();
    let cwd = fx.mkdir("ws");
    let missing = fx.path("no-such-dir");
    let policy = SandboxPolicy::ReadOnly {
        access: ReadOnlyAccess::Restricted {
            include_platform_defaults: true,
            readable_roots: vec![missing.clone()],
        },
    };

    let err = build_bwrap_argv(&policy, &cwd, &command(), &in_cwd(&cwd)).expect_err("missing root");

    assert!(
        matches!(&err, LinuxSandboxError::MissingReadableRoot { root } if *root == missing),
        "{err:?}"
    );
    // `/nix/store` is a platform default most hosts lack; it must not be an error.
    let policy = SandboxPolicy::ReadOnly {
        access: ReadOnlyAccess::Restricted {
            include_platform_defaults: true,
            readable_roots: Vec::new(),
        },
    };
    let got = build_bwrap_argv(&policy, &cwd, &command(), &in_cwd(&cwd)).expect("argv");
    assert_eq!(
        got.args.contains(&OsString::from("/nix/store")),
        Path::new("/nix/store").exists()
    );
}

#[test]
fn cwd_must_exist_and_be_readable() {
    let fx = Fixture::new();
    fx.mkdir("ws");
    let readable_only_docs = SandboxPolicy::ReadOnly {
        access: ReadOnlyAccess::Restricted {
            include_platform_defaults: false,
            readable_roots: vec![fx.mkdir("docs")],
        },
    };

    let err = build_bwrap_argv(&readable_only_docs, &fx.path("ws"), &command(), &options())
        .expect_err("unreadable cwd");
    assert!(
        matches!(&err, LinuxSandboxError::CwdNotReadable { cwd } if *cwd == fx.path("ws")),
        "{err:?}"
    );

    let full = SandboxPolicy::ReadOnly {
        access: ReadOnlyAccess::FullAccess,
    };
    let err =
        build_bwrap_argv(&full, &fx.path("gone"), &command(), &options()).expect_err("missing cwd");
    assert!(
        matches!(&err, LinuxSandboxError::MissingCwd { cwd } if *cwd == fx.path("gone")),
        "{err:?}"
    );
}

#[test]
fn protected_symlink_is_refused() {
    let fx = Fixture::new();
    let cwd = fx.mkdir("ws");
    let target = fx.mkdir("dotfiles/codex");
    std::os::unix::fs::symlink(target.as_path(), fx.path("ws/.codex").as_path()).expect("symlink");
    let policy = workspace_write(
        Vec::new(),
        ReadOnlyAccess::FullAccess,
        /*network_access*/ false,
    );

    let err = build_bwrap_argv(&policy, &cwd, &command(), &in_cwd(&cwd)).expect_err("symlink");

    assert!(
        matches!(&err, LinuxSandboxError::ProtectedPathIsSymlink { path } if *path == fx.path("ws/.codex")),
        "{err:?}"
    );
}

#[test]
fn empty_command_is_refused() {
    let policy = SandboxPolicy::ReadOnly {
        access: ReadOnlyAccess::FullAccess,
    };

    let err = build_bwrap_argv(&policy, &abs("/"), &[], &options()).expect_err("empty");

    assert!(matches!(err, LinuxSandboxError::EmptyCommand), "{err:?}");
}

#[test]
fn helper_symlink_binds_its_target_and_recreates_the_link_when_hidden() {
    let fx = Fixture::new();
    let cwd = fx.mkdir("ws");
    fx.mkdir("real");
    fx.mkdir("alias");
    std::fs::write(fx.path("real/codex-exec-server").as_path(), "").expect("write");
    let link = fx.path("alias/codex-linux-sandbox");
    std::os::unix::fs::symlink(fx.path("real/codex-exec-server").as_path(), link.as_path())
        .expect("symlink");
    let restricted = SandboxPolicy::ReadOnly {
        access: ReadOnlyAccess::Restricted {
            include_platform_defaults: false,
            readable_roots: vec![cwd.clone()],
        },
    };
    let options = BwrapOptions {
        helper: Some(link),
        seccomp_fds: Vec::new(),
        ..options()
    };

    let got = build_bwrap_argv(&restricted, &cwd, &command(), &options).expect("argv");

    let expected = argv(
        &fx.root,
        "
            --new-session --die-with-parent --unshare-pid --unshare-ipc --unshare-net
            --tmpfs /
            --ro-bind {}/ws {}/ws
            --dev /dev --proc /proc --remount-ro /proc
            --ro-bind {}/real/codex-exec-server {}/real/codex-exec-server
            --symlink {}/real/codex-exec-server {}/alias/codex-linux-sandbox
            --remount-ro /
            --chdir {}/ws
            -- sh -c true
        ",
    );
    assert_eq!(got.args, expected);

    let full = SandboxPolicy::ReadOnly {
        access: ReadOnlyAccess::FullAccess,
    };
    let got = build_bwrap_argv(&full, &cwd, &command(), &options).expect("argv");
    let expected = argv(
        &fx.root,
        "
            --new-session --die-with-parent --unshare-pid --unshare-ipc --unshare-net
            --ro-bind / /
            --dev /dev --proc /proc --remount-ro /proc
            --ro-bind {}/real/codex-exec-server {}/real/codex-exec-server
            --chdir {}/ws
            -- sh -c true
        ",
    );
    assert_eq!(got.args, expected);
}

#[test]
fn an_existing_placeholder_is_mounted_like_a_missing_path() {
    // Another sandbox's placeholder (or one a crash left) is recognised by its mode and
    // held like a missing path, so it is removed when no sandbox mounts it any more.
    let fx = Fixture::new();
    let cwd = fx.mkdir("ws");
    fx.mkdir("ws/.git");
    fx.mkdir("ws/.agents");
    std::fs::create_dir(fx.path("ws/.codex").as_path()).expect("mkdir");
    std::fs::set_permissions(
        fx.path("ws/.codex").as_path(),
        std::os::unix::fs::PermissionsExt::from_mode(super::PLACEHOLDER_MODE),
    )
    .expect("chmod");
    let policy = workspace_write(
        Vec::new(),
        ReadOnlyAccess::FullAccess,
        /*network_access*/ true,
    );

    let got = build_bwrap_argv(&policy, &cwd, &command(), &in_cwd(&cwd)).expect("argv");

    assert_eq!(got.placeholders, vec![fx.path("ws/.codex")]);
}

#[test]
fn the_command_environment_is_set_inside_and_bad_names_are_refused() {
    let fx = Fixture::new();
    let cwd = fx.mkdir("ws");
    let policy = SandboxPolicy::ReadOnly {
        access: ReadOnlyAccess::FullAccess,
    };
    let with_env = |name: &str, value: &str| BwrapOptions {
        env: vec![(OsString::from(name), OsString::from(value))],
        ..options()
    };

    let got = build_bwrap_argv(&policy, &cwd, &command(), &with_env("LD_PRELOAD", "/x.so"))
        .expect("argv");
    let refused: Vec<String> = ["", "A=B", "NUL\0"]
        .into_iter()
        .map(
            |name| match build_bwrap_argv(&policy, &cwd, &command(), &with_env(name, "v")) {
                Err(LinuxSandboxError::InvalidEnv { name }) => name,
                other => panic!("{other:?}"),
            },
        )
        .collect();

    let expected = argv(
        &fx.root,
        "
            --new-session --die-with-parent --unshare-pid --unshare-ipc --unshare-net
            --ro-bind / /
            --dev /dev --proc /proc --remount-ro /proc
            --setenv LD_PRELOAD /x.so
            --chdir {}/ws
            -- sh -c true
        ",
    );
    assert_eq!(
        (got.args, refused),
        (
            expected,
            vec![String::new(), "A=B".to_string(), "NUL\0".to_string()]
        )
    );
}

#[test]
fn a_policy_that_cannot_be_bound_is_refused_before_anything_runs() {
    let fx = Fixture::new();
    let cwd = fx.mkdir("ws");
    fx.mkdir("ws/.git/hooks");
    let outside = fx.mkdir("outside");
    std::os::unix::fs::symlink(outside.as_path(), fx.path("ws/link").as_path()).expect("symlink");
    let hooks = workspace_write(
        vec![cwd.clone(), fx.path("ws/.git/hooks")],
        ReadOnlyAccess::FullAccess,
        /*network_access*/ false,
    );
    let redirected = workspace_write(
        vec![cwd.clone(), fx.path("ws/link")],
        ReadOnlyAccess::FullAccess,
        /*network_access*/ false,
    );

    let errors: Vec<String> = [hooks, redirected]
        .iter()
        .map(
            |policy| match build_bwrap_argv(policy, &cwd, &command(), &options()) {
                Err(LinuxSandboxError::Policy(err)) => err.to_string(),
                other => panic!("{other:?}"),
            },
        )
        .collect();

    assert!(errors[0].contains("lies inside"), "{errors:?}");
    assert!(
        errors[1].contains("redirected by the symlink"),
        "{errors:?}"
    );
}

#[test]
fn the_command_cwd_grants_nothing_without_a_policy_cwd() {
    // A request must not widen the policy by choosing where its command runs.
    let fx = Fixture::new();
    let cwd = fx.mkdir("ws");
    let policy = workspace_write(
        Vec::new(),
        ReadOnlyAccess::FullAccess,
        /*network_access*/ false,
    );

    let got = build_bwrap_argv(&policy, &cwd, &command(), &options()).expect("argv");

    assert_eq!(
        (got.writable, got.args.contains(&OsString::from("--bind"))),
        (Vec::new(), false)
    );
}
