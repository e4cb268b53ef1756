//! Generated Seatbelt profiles pinned in `tests/golden/<case>.sbpl` (the profile text)
//! and `tests/golden/<case>.params` (one `NAME=path` line per parameter).
//!
//! Seatbelt cannot run here, so these files are how a reviewer sees what a policy
//! change does to the profile. After an intended change, regenerate them under Cargo
//! and review the diff:
//!
//! ```sh
//! UPDATE_GOLDEN=1 cargo test -p codex-sandboxing --test all golden
//! ```
//!
//! On a Mac a golden profile can be tried by hand:
//! `sandbox-exec -f tests/golden/<case>.sbpl -D<NAME>=<path>... -- <command>`.

use std::path::Path;
use std::path::PathBuf;

use codex_protocol::ReadOnlyAccess;
use codex_protocol::SandboxPolicy;
use codex_sandboxing::SeatbeltDecision;
use codex_sandboxing::seatbelt_policy_with_gitdir_reader;
use codex_utils_absolute_path::AbsolutePathBuf;
use codex_utils_cargo_bin::find_resource;

const CWD: &str = "/Users/dev/project";
/// A typical macOS `$TMPDIR`; it goes through `/var`, a symlink into `/private`.
const TMPDIR: &str = "/var/folders/zz/abc123/T";

fn abs(path: &str) -> AbsolutePathBuf {
    AbsolutePathBuf::try_from_absolute(path).unwrap()
}

fn restricted(include_platform_defaults: bool, readable_roots: &[&str]) -> ReadOnlyAccess {
    ReadOnlyAccess::Restricted {
        include_platform_defaults,
        readable_roots: readable_roots.iter().map(|root| abs(root)).collect(),
    }
}

/// A `workspaceWrite` policy; tmp directories and network as named.
struct WorkspaceWrite<'a> {
    writable_roots: &'a [&'a str],
    read_only_access: ReadOnlyAccess,
    network_access: bool,
    exclude_tmpdir_env_var: bool,
    exclude_slash_tmp: bool,
}

impl WorkspaceWrite<'_> {
    fn policy(self) -> SandboxPolicy {
        SandboxPolicy::WorkspaceWrite {
            writable_roots: self.writable_roots.iter().map(|root| abs(root)).collect(),
            read_only_access: self.read_only_access,
            network_access: self.network_access,
            exclude_tmpdir_env_var: self.exclude_tmpdir_env_var,
            exclude_slash_tmp: self.exclude_slash_tmp,
        }
    }
}

fn no_gitdir(_: &Path) -> Option<PathBuf> {
    None
}

/// Generates the profile for `policy` and compares it with the golden files of `case`
/// (or rewrites them when `UPDATE_GOLDEN=1`).
fn check(
    case: &str,
    policy: &SandboxPolicy,
    cwd: &str,
    read_gitdir_pointer: impl Fn(&Path) -> Option<PathBuf>,
) {
    let decision = seatbelt_policy_with_gitdir_reader(
        policy,
        Some(&abs(cwd)),
        Some(&abs(TMPDIR)),
        read_gitdir_pointer,
    )
    .unwrap();
    let SeatbeltDecision::Sandbox(profile) = decision else {
        panic!("{case}: expected a Seatbelt profile, got {decision:?}");
    };
    let got_text = profile.text;
    let got_params: String = profile
        .params
        .iter()
        .map(|(name, path)| format!("{name}={}\n", path.as_path().to_str().unwrap()))
        .collect();

    let text_path = find_resource!(format!("tests/golden/{case}.sbpl")).unwrap();
    let params_path = find_resource!(format!("tests/golden/{case}.params")).unwrap();
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|value| value == "1") {
        std::fs::write(&text_path, &got_text).unwrap();
        std::fs::write(&params_path, &got_params).unwrap();
        return;
    }
    for (path, got) in [(&text_path, &got_text), (&params_path, &got_params)] {
        let expected = std::fs::read_to_string(path).unwrap_or_else(|error| {
            panic!(
                "{case}: cannot read golden file {}: {error}\n\
                 (new case? run `UPDATE_GOLDEN=1 cargo test -p codex-sandboxing --test all \
                 golden` and review the new files)\n--- got ---\n{got}",
                path.display()
            )
        });
        pretty_assertions::assert_eq!(
            &expected,
            got,
            "{case}: generated output differs from {}\n\
             `<` left = expected (the golden file), `>` right = got (generated now); if the \
             change is intended, rerun with UPDATE_GOLDEN=1 and review the diff",
            path.display()
        );
    }
}

#[test]
fn read_only_full_access() {
    let policy = SandboxPolicy::ReadOnly {
        access: ReadOnlyAccess::FullAccess,
    };
    check("read_only_full_access", &policy, CWD, no_gitdir);
}

#[test]
fn read_only_restricted() {
    let policy = SandboxPolicy::ReadOnly {
        access: restricted(
            /*include_platform_defaults*/ false,
            &["/Users/dev/docs", "/opt/data"],
        ),
    };
    check("read_only_restricted", &policy, CWD, no_gitdir);
}

#[test]
fn read_only_restricted_platform_defaults() {
    let policy = SandboxPolicy::ReadOnly {
        access: restricted(
            /*include_platform_defaults*/ true,
            &["/Users/dev/docs"],
        ),
    };
    check(
        "read_only_restricted_platform_defaults",
        &policy,
        CWD,
        no_gitdir,
    );
}

#[test]
fn workspace_write_two_roots() {
    let policy = WorkspaceWrite {
        writable_roots: &["/Users/dev/shared", "/Volumes/cache"],
        read_only_access: ReadOnlyAccess::FullAccess,
        network_access: false,
        exclude_tmpdir_env_var: false,
        exclude_slash_tmp: false,
    }
    .policy();
    check("workspace_write_two_roots", &policy, CWD, no_gitdir);
}

#[test]
fn workspace_write_network() {
    let policy = WorkspaceWrite {
        writable_roots: &[],
        read_only_access: ReadOnlyAccess::FullAccess,
        network_access: true,
        exclude_tmpdir_env_var: false,
        exclude_slash_tmp: false,
    }
    .policy();
    check("workspace_write_network", &policy, CWD, no_gitdir);
}

#[test]
fn workspace_write_tmp_excluded() {
    let policy = WorkspaceWrite {
        writable_roots: &[],
        read_only_access: ReadOnlyAccess::FullAccess,
        network_access: false,
        exclude_tmpdir_env_var: true,
        exclude_slash_tmp: true,
    }
    .policy();
    check("workspace_write_tmp_excluded", &policy, CWD, no_gitdir);
}

#[test]
fn workspace_write_restricted_read() {
    let policy = WorkspaceWrite {
        writable_roots: &["/Users/dev/shared"],
        read_only_access: restricted(
            /*include_platform_defaults*/ true,
            &["/Users/dev/docs"],
        ),
        network_access: false,
        exclude_tmpdir_env_var: false,
        exclude_slash_tmp: true,
    }
    .policy();
    check("workspace_write_restricted_read", &policy, CWD, no_gitdir);
}

/// The cwd is a git worktree: its `.git` is a file pointing into the main checkout's
/// git directory, which must stay read-only too.
#[test]
fn workspace_write_gitdir_worktree() {
    let policy = WorkspaceWrite {
        writable_roots: &[],
        read_only_access: ReadOnlyAccess::FullAccess,
        network_access: false,
        exclude_tmpdir_env_var: true,
        exclude_slash_tmp: true,
    }
    .policy();
    let read_pointer = |dot_git: &Path| {
        (dot_git == Path::new("/Users/dev/worktree/.git"))
            .then(|| PathBuf::from("/Users/dev/main/.git/worktrees/feature"))
    };
    check(
        "workspace_write_gitdir_worktree",
        &policy,
        "/Users/dev/worktree",
        read_pointer,
    );
}

/// `/Users/dev` and the cwd inside it are both writable: the outer root's rule must
/// still keep the cwd's `.git`, `.codex` and `.agents` read-only.
#[test]
fn workspace_write_nested_roots() {
    let policy = WorkspaceWrite {
        writable_roots: &["/Users/dev"],
        read_only_access: ReadOnlyAccess::FullAccess,
        network_access: false,
        exclude_tmpdir_env_var: true,
        exclude_slash_tmp: true,
    }
    .policy();
    check("workspace_write_nested_roots", &policy, CWD, no_gitdir);
}

/// Quotes, spaces, parentheses and a semicolon stay in the params file; the profile
/// text is the same as for any other path.
#[test]
fn paths_with_quotes_and_spaces() {
    let odd = "/Users/dev/My \"Projects\"/a (b); c";
    let policy = WorkspaceWrite {
        writable_roots: &[],
        read_only_access: restricted(
            /*include_platform_defaults*/ false,
            &["/Users/dev/read me"],
        ),
        network_access: false,
        exclude_tmpdir_env_var: true,
        exclude_slash_tmp: true,
    }
    .policy();
    check("paths_with_quotes_and_spaces", &policy, odd, no_gitdir);
}
