use std::ffi::OsString;
use std::path::Path;
use std::path::PathBuf;

use codex_protocol::NetworkAccess;
use codex_protocol::PLATFORM_DEFAULT_READ_ROOTS;
use codex_protocol::ReadAccess;
use pretty_assertions::assert_eq;

use super::*;

fn abs(path: &str) -> AbsolutePathBuf {
    AbsolutePathBuf::try_from_absolute(path).unwrap()
}

fn no_gitdir(_: &Path) -> Option<PathBuf> {
    None
}

fn workspace_write(writable_roots: &[&str], read_only_access: ReadOnlyAccess) -> SandboxPolicy {
    SandboxPolicy::WorkspaceWrite {
        writable_roots: writable_roots.iter().map(|root| abs(root)).collect(),
        read_only_access,
        network_access: false,
        exclude_tmpdir_env_var: true,
        exclude_slash_tmp: true,
    }
}

fn generate(policy: &SandboxPolicy, cwd: &str) -> SeatbeltPolicy {
    match seatbelt_policy_with_gitdir_reader(
        policy,
        Some(&abs(cwd)),
        /*tmpdir*/ None,
        no_gitdir,
    )
    .unwrap()
    {
        SeatbeltDecision::Sandbox(profile) => profile,
        SeatbeltDecision::NotNeeded(reason) => panic!("expected a profile, got {reason:?}"),
    }
}

fn param_names(profile: &SeatbeltPolicy) -> Vec<&str> {
    profile
        .params
        .iter()
        .map(|(name, _)| name.as_str())
        .collect()
}

/// Every `(param "NAME")` in the text, in order of first appearance.
fn names_in_text(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for piece in text.split("(param \"").skip(1) {
        let name = piece.split('"').next().unwrap().to_string();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

#[test]
fn params_are_numbered_in_policy_order_and_match_the_text() {
    let policy = workspace_write(
        &["/Users/dev/shared", "/opt/cache"],
        ReadOnlyAccess::Restricted {
            include_platform_defaults: false,
            readable_roots: vec![abs("/Users/dev/docs")],
        },
    );
    let profile = generate(&policy, "/Users/dev/project");

    let mut expected: Vec<String> = (0..4).map(|i| format!("READABLE_ROOT_{i}")).collect();
    for root in 0..3 {
        expected.push(format!("WRITABLE_ROOT_{root}"));
        expected.extend((0..3).map(|sub| format!("WRITABLE_ROOT_{root}_RO_{sub}")));
    }
    assert_eq!(param_names(&profile), expected);
    assert_eq!(names_in_text(&profile.text), expected);
    assert_eq!(
        profile.params[..4]
            .iter()
            .map(|(_, path)| path.clone())
            .collect::<Vec<_>>(),
        vec![
            abs("/Users/dev/docs"),
            abs("/Users/dev/shared"),
            abs("/opt/cache"),
            abs("/Users/dev/project"),
        ]
    );
    assert_eq!(profile, generate(&policy, "/Users/dev/project"));
}

#[test]
fn paths_with_quotes_and_spaces_are_params_not_text() {
    let odd = "/Users/dev/my \"odd\" (dir); x";
    let policy = workspace_write(
        &[],
        ReadOnlyAccess::Restricted {
            include_platform_defaults: false,
            readable_roots: vec![abs(odd)],
        },
    );
    let profile = generate(&policy, odd);

    assert!(!profile.text.contains("odd"), "{}", profile.text);
    assert!(!profile.text.contains("/Users"), "{}", profile.text);
    assert_eq!(
        profile.params,
        vec![
            ("READABLE_ROOT_0".to_string(), abs(odd)),
            ("WRITABLE_ROOT_0".to_string(), abs(odd)),
            ("WRITABLE_ROOT_0_RO_0".to_string(), abs(odd).join(".git")),
            ("WRITABLE_ROOT_0_RO_1".to_string(), abs(odd).join(".codex")),
            ("WRITABLE_ROOT_0_RO_2".to_string(), abs(odd).join(".agents")),
        ]
    );
    let argv = sandbox_exec_argv(&profile, ["/bin/ls"]);
    assert_eq!(
        argv[3],
        OsString::from("-DREADABLE_ROOT_0=/Users/dev/my \"odd\" (dir); x")
    );
}

#[test]
fn sandbox_exec_argv_has_profile_then_params_then_command() {
    let profile = SeatbeltPolicy {
        text: "(version 1)\n(deny default)\n".to_string(),
        params: vec![
            ("WRITABLE_ROOT_0".to_string(), abs("/w")),
            ("WRITABLE_ROOT_0_RO_0".to_string(), abs("/w/.git")),
        ],
    };
    assert_eq!(
        sandbox_exec_argv(&profile, ["bash", "-c", "echo -- hi"]),
        vec![
            OsString::from("/usr/bin/sandbox-exec"),
            OsString::from("-p"),
            OsString::from("(version 1)\n(deny default)\n"),
            OsString::from("-DWRITABLE_ROOT_0=/w"),
            OsString::from("-DWRITABLE_ROOT_0_RO_0=/w/.git"),
            OsString::from("--"),
            OsString::from("bash"),
            OsString::from("-c"),
            OsString::from("echo -- hi"),
        ]
    );
}

#[test]
fn unrestricted_policies_need_no_seatbelt() {
    let cwd = abs("/Users/dev/project");
    let cases = [
        (
            SandboxPolicy::DangerFullAccess,
            NoSandboxReason::DangerFullAccess,
        ),
        (
            SandboxPolicy::ExternalSandbox {
                network_access: NetworkAccess::Restricted,
            },
            NoSandboxReason::ExternalSandbox,
        ),
        (
            SandboxPolicy::ExternalSandbox {
                network_access: NetworkAccess::Enabled,
            },
            NoSandboxReason::ExternalSandbox,
        ),
    ];
    for (policy, reason) in cases {
        assert_eq!(
            seatbelt_policy(&policy, Some(&cwd), None),
            Ok(SeatbeltDecision::NotNeeded(reason))
        );
    }
}

#[test]
fn a_protected_subpath_of_a_nested_root_is_excluded_from_the_outer_root() {
    let policy = workspace_write(&["/Users/dev"], ReadOnlyAccess::FullAccess);
    let profile = generate(&policy, "/Users/dev/project");
    let outer: Vec<(String, AbsolutePathBuf)> = profile
        .params
        .iter()
        .filter(|(name, _)| name.starts_with("WRITABLE_ROOT_0"))
        .cloned()
        .collect();
    assert_eq!(
        outer,
        vec![
            ("WRITABLE_ROOT_0".to_string(), abs("/Users/dev")),
            ("WRITABLE_ROOT_0_RO_0".to_string(), abs("/Users/dev/.git")),
            ("WRITABLE_ROOT_0_RO_1".to_string(), abs("/Users/dev/.codex")),
            (
                "WRITABLE_ROOT_0_RO_2".to_string(),
                abs("/Users/dev/.agents")
            ),
            (
                "WRITABLE_ROOT_0_RO_3".to_string(),
                abs("/Users/dev/project/.git")
            ),
            (
                "WRITABLE_ROOT_0_RO_4".to_string(),
                abs("/Users/dev/project/.codex")
            ),
            (
                "WRITABLE_ROOT_0_RO_5".to_string(),
                abs("/Users/dev/project/.agents")
            ),
        ]
    );
    // The inner root is not narrowed by the outer root's subpaths, which lie outside it.
    assert_eq!(
        profile
            .params
            .iter()
            .filter(|(name, _)| name.starts_with("WRITABLE_ROOT_1_RO_"))
            .count(),
        3
    );
}

#[test]
fn gitdir_targets_are_protected() {
    let policy = workspace_write(&[], ReadOnlyAccess::FullAccess);
    let read_pointer = |dot_git: &Path| {
        (dot_git == Path::new("/Users/dev/worktree/.git"))
            .then(|| PathBuf::from("/Users/dev/main/.git/worktrees/feature"))
    };
    let decision = seatbelt_policy_with_gitdir_reader(
        &policy,
        Some(&abs("/Users/dev/worktree")),
        /*tmpdir*/ None,
        read_pointer,
    )
    .unwrap();
    let SeatbeltDecision::Sandbox(profile) = decision else {
        panic!("expected a profile, got {decision:?}");
    };
    assert_eq!(
        profile.params.last(),
        Some(&(
            "WRITABLE_ROOT_0_RO_3".to_string(),
            abs("/Users/dev/main/.git/worktrees/feature")
        ))
    );
}

#[test]
fn macos_system_symlinks_are_resolved() {
    let policy = SandboxPolicy::WorkspaceWrite {
        writable_roots: vec![abs("/etc/codex")],
        read_only_access: ReadOnlyAccess::FullAccess,
        network_access: false,
        exclude_tmpdir_env_var: false,
        exclude_slash_tmp: false,
    };
    let tmpdir = abs("/var/folders/ab/T");
    let decision = seatbelt_policy_with_gitdir_reader(
        &policy,
        Some(&abs("/tmpdir/p")),
        Some(&tmpdir),
        no_gitdir,
    )
    .unwrap();
    let SeatbeltDecision::Sandbox(profile) = decision else {
        panic!("expected a profile, got {decision:?}");
    };
    let roots: Vec<AbsolutePathBuf> = profile
        .params
        .iter()
        .filter(|(name, _)| !name.contains("_RO_"))
        .map(|(_, path)| path.clone())
        .collect();
    // `/tmpdir` only shares a string prefix with `/tmp`, so it stays as it is.
    assert_eq!(
        roots,
        vec![
            abs("/private/etc/codex"),
            abs("/tmpdir/p"),
            abs("/private/tmp"),
            abs("/private/var/folders/ab/T"),
        ]
    );
    assert!(
        profile
            .params
            .contains(&("WRITABLE_ROOT_2_RO_0".to_string(), abs("/private/tmp/.git")))
    );
}

#[test]
fn roots_that_resolve_to_the_same_path_are_merged() {
    let policy = workspace_write(
        &["/tmp", "/private/tmp"],
        ReadOnlyAccess::Restricted {
            include_platform_defaults: false,
            readable_roots: vec![abs("/etc"), abs("/private/etc")],
        },
    );
    let profile = generate(&policy, "/Users/dev/project");
    assert_eq!(
        param_names(&profile),
        vec![
            "READABLE_ROOT_0",
            "READABLE_ROOT_1",
            "READABLE_ROOT_2",
            "WRITABLE_ROOT_0",
            "WRITABLE_ROOT_0_RO_0",
            "WRITABLE_ROOT_0_RO_1",
            "WRITABLE_ROOT_0_RO_2",
            "WRITABLE_ROOT_1",
            "WRITABLE_ROOT_1_RO_0",
            "WRITABLE_ROOT_1_RO_1",
            "WRITABLE_ROOT_1_RO_2",
        ]
    );
    assert_eq!(profile.params[0].1, abs("/private/etc"));
    assert_eq!(profile.params[1].1, abs("/private/tmp"));
    assert_eq!(profile.params[3].1, abs("/private/tmp"));
}

#[test]
fn platform_defaults_are_macos_defaults_plus_what_the_protocol_grants() {
    let policy = workspace_write(
        &["/Users/dev/shared"],
        ReadOnlyAccess::Restricted {
            include_platform_defaults: true,
            readable_roots: vec![abs("/Users/dev/docs")],
        },
    );
    let cwd = "/Users/dev/project";
    let profile = generate(&policy, cwd);
    let readable: Vec<AbsolutePathBuf> = profile
        .params
        .iter()
        .filter(|(name, _)| name.starts_with("READABLE_ROOT_"))
        .map(|(_, path)| path.clone())
        .collect();

    // What the protocol grants beyond the platform's own default roots must be exactly
    // what the profile grants beyond macOS's.
    let ReadAccess::Roots(protocol_roots) = policy
        .effective_access(Some(&abs(cwd)), /*tmpdir*/ None)
        .read()
        .clone()
    else {
        panic!("restricted reads must give roots");
    };
    let is_default = |root: &AbsolutePathBuf, defaults: &[&str]| {
        defaults.iter().any(|default| abs(default) == *root)
    };
    let protocol_extra: Vec<AbsolutePathBuf> = protocol_roots
        .into_iter()
        .filter(|root| !is_default(root, PLATFORM_DEFAULT_READ_ROOTS))
        .collect();
    let profile_extra: Vec<AbsolutePathBuf> = readable
        .iter()
        .filter(|root| !is_default(root, MACOS_DEFAULT_READ_ROOTS))
        .cloned()
        .collect();
    assert_eq!(profile_extra, protocol_extra);
    for default in MACOS_DEFAULT_READ_ROOTS {
        assert!(readable.contains(&abs(default)), "{default} missing");
    }
    assert!(profile.text.contains("(allow file-map-executable"));
}

#[test]
fn platform_defaults_section_only_when_asked() {
    let restricted = |include_platform_defaults| {
        generate(
            &SandboxPolicy::ReadOnly {
                access: ReadOnlyAccess::Restricted {
                    include_platform_defaults,
                    readable_roots: Vec::new(),
                },
            },
            "/Users/dev/project",
        )
    };
    assert!(restricted(true).text.contains(PLATFORM_DEFAULTS_POLICY));
    let without = restricted(/*include_platform_defaults*/ false);
    assert!(!without.text.contains(PLATFORM_DEFAULTS_POLICY));
    assert_eq!(without.params, Vec::new());
    assert!(!without.text.contains("(allow file-read*\n"));
}

#[test]
fn network_rules_only_when_the_policy_allows_network() {
    let with_network = |network_access| SandboxPolicy::WorkspaceWrite {
        writable_roots: Vec::new(),
        read_only_access: ReadOnlyAccess::FullAccess,
        network_access,
        exclude_tmpdir_env_var: true,
        exclude_slash_tmp: true,
    };
    let on = generate(&with_network(/*network_access*/ true), "/p");
    let off = generate(&with_network(/*network_access*/ false), "/p");
    assert!(on.text.contains("(allow network*)"));
    assert!(on.text.contains(NETWORK_POLICY));
    assert!(!off.text.contains("(allow network"));
    assert!(!off.text.contains("system-socket"));
    let read_only = generate(
        &SandboxPolicy::ReadOnly {
            access: ReadOnlyAccess::FullAccess,
        },
        "/p",
    );
    assert!(!read_only.text.contains("(allow network"));
}

#[test]
fn profile_starts_closed() {
    let profile = generate(
        &SandboxPolicy::ReadOnly {
            access: ReadOnlyAccess::FullAccess,
        },
        "/p",
    );
    assert!(
        profile.text.starts_with("(version 1)\n"),
        "{}",
        profile.text
    );
    assert!(profile.text.contains("\n(deny default)\n"));
    assert!(!profile.text.contains("(allow file-write*"));
    assert_eq!(profile.params, Vec::new());
}

#[test]
fn a_path_with_a_nul_byte_fails_closed() {
    let bad = abs("/Users/dev/a\0b");
    let policy = workspace_write(&[], ReadOnlyAccess::FullAccess);
    assert_eq!(
        seatbelt_policy_with_gitdir_reader(&policy, Some(&bad), None, no_gitdir),
        Err(SandboxingError::UnrepresentablePath {
            path: PathBuf::from("/Users/dev/a\0b"),
            problem: PathProblem::ContainsNul,
        })
    );
}

#[cfg(unix)]
#[test]
fn a_path_that_is_not_utf8_fails_closed() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    let raw = OsStr::from_bytes(b"/Users/dev/caf\xe9");
    let policy = SandboxPolicy::ReadOnly {
        access: ReadOnlyAccess::Restricted {
            include_platform_defaults: false,
            readable_roots: vec![AbsolutePathBuf::try_from_absolute(raw).unwrap()],
        },
    };
    let error = seatbelt_policy_with_gitdir_reader(
        &policy,
        Some(&abs("/p")),
        /*tmpdir*/ None,
        no_gitdir,
    )
    .unwrap_err();
    assert_eq!(
        error,
        SandboxingError::UnrepresentablePath {
            path: PathBuf::from(raw),
            problem: PathProblem::NotUtf8,
        }
    );
    assert_eq!(
        error.to_string(),
        "sandbox path `/Users/dev/caf\u{fffd}` cannot be passed to Seatbelt: it is not \
         valid UTF-8, and a lossy conversion would sandbox a different path"
    );
}
