//! The effective writable roots of each policy, with and without the temp exclusions.
use codex_protocol::NetworkAccess;
use codex_protocol::ReadOnlyAccess;
use codex_protocol::SandboxPolicy;
use codex_protocol::WritableRoot;
use codex_protocol::WriteAccess;
use pretty_assertions::assert_eq;

use super::abs;

fn workspace_write(
    writable_roots: &[&str],
    exclude_tmpdir_env_var: bool,
    exclude_slash_tmp: bool,
) -> SandboxPolicy {
    SandboxPolicy::WorkspaceWrite {
        writable_roots: writable_roots.iter().map(|root| abs(root)).collect(),
        read_only_access: ReadOnlyAccess::FullAccess,
        network_access: false,
        exclude_tmpdir_env_var,
        exclude_slash_tmp,
    }
}

/// The roots (without their subpaths) of `access`, which must be `Roots`.
fn root_paths(access: WriteAccess) -> Vec<String> {
    match access {
        WriteAccess::Roots(roots) => roots
            .into_iter()
            .map(|root| root.root.to_string())
            .collect(),
        other @ (WriteAccess::Everything | WriteAccess::Nothing) => {
            panic!("expected roots, got {other:?}")
        }
    }
}

#[test]
fn workspace_write_adds_cwd_slash_tmp_and_tmpdir_in_order() {
    let policy = workspace_write(
        &["/work/extra"],
        /*exclude_tmpdir_env_var*/ false,
        /*exclude_slash_tmp*/ false,
    );
    let access =
        policy.writable_roots_with_cwd(Some(&abs("/work/proj")), Some(&abs("/var/tmp/me")));
    assert_eq!(
        access,
        WriteAccess::Roots(
            ["/work/extra", "/work/proj", "/tmp", "/var/tmp/me"]
                .map(|root| WritableRoot {
                    root: abs(root),
                    read_only_subpaths: vec![
                        abs(&format!("{root}/.git")),
                        abs(&format!("{root}/.codex")),
                        abs(&format!("{root}/.agents")),
                    ],
                })
                .to_vec()
        )
    );
}

#[test]
fn tmp_exclusions_each_drop_their_root() {
    let cwd = abs("/work/proj");
    let tmpdir = abs("/var/tmp/me");
    let roots = |exclude_tmpdir_env_var, exclude_slash_tmp| {
        root_paths(
            workspace_write(&[], exclude_tmpdir_env_var, exclude_slash_tmp)
                .writable_roots_with_cwd(Some(&cwd), Some(&tmpdir)),
        )
    };
    assert_eq!(
        [
            roots(
                /*exclude_tmpdir_env_var*/ false, /*exclude_slash_tmp*/ false
            ),
            roots(
                /*exclude_tmpdir_env_var*/ true, /*exclude_slash_tmp*/ false
            ),
            roots(
                /*exclude_tmpdir_env_var*/ false, /*exclude_slash_tmp*/ true
            ),
            roots(
                /*exclude_tmpdir_env_var*/ true, /*exclude_slash_tmp*/ true
            ),
        ],
        [
            vec!["/work/proj", "/tmp", "/var/tmp/me"],
            vec!["/work/proj", "/tmp"],
            vec!["/work/proj", "/var/tmp/me"],
            vec!["/work/proj"],
        ]
        .map(|roots| roots.into_iter().map(String::from).collect::<Vec<_>>())
    );
}

#[test]
fn no_tmpdir_in_the_environment_adds_nothing() {
    let policy = workspace_write(
        &[],
        /*exclude_tmpdir_env_var*/ false,
        /*exclude_slash_tmp*/ true,
    );
    assert_eq!(
        root_paths(policy.writable_roots_with_cwd(Some(&abs("/work/proj")), /*tmpdir*/ None)),
        vec!["/work/proj".to_string()]
    );
}

#[test]
fn duplicate_roots_appear_once() {
    // cwd listed again, and $TMPDIR equal to /tmp (normalised from `/tmp/.`).
    let policy = workspace_write(
        &["/work/proj", "/work/extra/../proj"],
        /*exclude_tmpdir_env_var*/ false,
        /*exclude_slash_tmp*/ false,
    );
    assert_eq!(
        root_paths(policy.writable_roots_with_cwd(Some(&abs("/work/proj")), Some(&abs("/tmp/.")))),
        vec!["/work/proj".to_string(), "/tmp".to_string()]
    );
}

#[test]
fn other_variants_are_everything_or_nothing() {
    let cwd = abs("/work/proj");
    let tmpdir = abs("/var/tmp/me");
    let access = [
        SandboxPolicy::DangerFullAccess,
        SandboxPolicy::ExternalSandbox {
            network_access: NetworkAccess::Restricted,
        },
        SandboxPolicy::ReadOnly {
            access: ReadOnlyAccess::FullAccess,
        },
    ]
    .map(|policy| policy.writable_roots_with_cwd(Some(&cwd), Some(&tmpdir)));
    assert_eq!(
        access,
        [
            WriteAccess::Everything,
            WriteAccess::Everything,
            WriteAccess::Nothing
        ]
    );
}

#[test]
fn no_policy_cwd_grants_no_cwd() {
    // A command's working directory is not the policy's: without `sandboxPolicyCwd` only
    // what the policy names is writable.
    let policy = workspace_write(
        &["/work/extra"],
        /*exclude_tmpdir_env_var*/ false,
        /*exclude_slash_tmp*/ false,
    );
    assert_eq!(
        root_paths(policy.writable_roots_with_cwd(/*policy_cwd*/ None, Some(&abs("/var/tmp/me")))),
        vec!["/work/extra", "/tmp", "/var/tmp/me"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_root_inside_a_protected_path_is_found() {
    let roots_of = |roots: &[&str]| {
        workspace_write(
            roots, /*exclude_tmpdir_env_var*/ true, /*exclude_slash_tmp*/ true,
        )
        .writable_roots_with_cwd(/*policy_cwd*/ None, /*tmpdir*/ None)
    };
    let hooks = roots_of(&["/w", "/w/.git/hooks"]);
    let own = roots_of(&["/w/.codex"]);
    let nested = roots_of(&["/w", "/w/proj"]);
    assert_eq!(
        [
            hooks.root_inside_protected(),
            own.root_inside_protected(),
            nested.root_inside_protected(),
        ],
        [Some((&abs("/w/.git/hooks"), &abs("/w/.git"))), None, None,]
    );
}
