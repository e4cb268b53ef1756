//! The constructors and modifiers on `SandboxPolicy`: each compared with the value
//! written out in full, and each serialised and parsed back through the strict wire
//! format.
use codex_protocol::NetworkAccess;
use codex_protocol::PolicyModifierError;
use codex_protocol::ReadOnlyAccess;
use codex_protocol::SandboxPolicy;
use pretty_assertions::assert_eq;
use serde_json::json;

use super::abs;

/// Serialises `policy`, compares with `expected_json`, and parses it back to `policy`.
fn assert_json_round_trip(policy: &SandboxPolicy, expected_json: serde_json::Value) {
    let value = serde_json::to_value(policy).expect("serialize");
    assert_eq!(value, expected_json);
    let parsed: SandboxPolicy = serde_json::from_value(value).expect("own output parses");
    assert_eq!(&parsed, policy);
}

/// One policy of each variant, with every setting at its non-default value where the
/// variant has one.
fn one_of_each() -> Vec<SandboxPolicy> {
    vec![
        SandboxPolicy::DangerFullAccess,
        SandboxPolicy::ReadOnly {
            access: ReadOnlyAccess::FullAccess,
        },
        SandboxPolicy::WorkspaceWrite {
            writable_roots: vec![abs("/work/extra")],
            read_only_access: ReadOnlyAccess::FullAccess,
            network_access: false,
            exclude_tmpdir_env_var: false,
            exclude_slash_tmp: false,
        },
        SandboxPolicy::ExternalSandbox {
            network_access: NetworkAccess::Restricted,
        },
    ]
}

#[test]
fn danger_full_access_is_the_variant() {
    assert_eq!(
        SandboxPolicy::danger_full_access(),
        SandboxPolicy::DangerFullAccess
    );
}

#[test]
fn read_only_reads_everywhere() {
    assert_eq!(
        SandboxPolicy::read_only(),
        SandboxPolicy::ReadOnly {
            access: ReadOnlyAccess::FullAccess,
        }
    );
}

#[test]
fn read_only_restricted_keeps_roots_in_order_with_platform_defaults() {
    assert_eq!(
        SandboxPolicy::read_only_restricted([abs("/srv/data"), abs("/home/me/project")]),
        SandboxPolicy::ReadOnly {
            access: ReadOnlyAccess::Restricted {
                include_platform_defaults: true,
                readable_roots: vec![abs("/srv/data"), abs("/home/me/project")],
            },
        }
    );
}

#[test]
fn workspace_write_reads_everywhere_without_network_and_with_tmp() {
    assert_eq!(
        SandboxPolicy::workspace_write(vec![abs("/work/extra"), abs("/var/cache/build")]),
        SandboxPolicy::WorkspaceWrite {
            writable_roots: vec![abs("/work/extra"), abs("/var/cache/build")],
            read_only_access: ReadOnlyAccess::FullAccess,
            network_access: false,
            exclude_tmpdir_env_var: false,
            exclude_slash_tmp: false,
        }
    );
}

#[test]
fn workspace_write_with_no_roots_has_an_empty_list() {
    assert_eq!(
        SandboxPolicy::workspace_write([]),
        SandboxPolicy::WorkspaceWrite {
            writable_roots: vec![],
            read_only_access: ReadOnlyAccess::FullAccess,
            network_access: false,
            exclude_tmpdir_env_var: false,
            exclude_slash_tmp: false,
        }
    );
}

#[test]
fn with_network_access_on_each_variant() {
    let results: Vec<(
        Result<SandboxPolicy, PolicyModifierError>,
        Result<SandboxPolicy, PolicyModifierError>,
    )> = one_of_each()
        .into_iter()
        .map(|policy| {
            (
                policy.clone().with_network_access(/*enabled*/ true),
                policy.with_network_access(/*enabled*/ false),
            )
        })
        .collect();
    let workspace = |network_access| SandboxPolicy::WorkspaceWrite {
        writable_roots: vec![abs("/work/extra")],
        read_only_access: ReadOnlyAccess::FullAccess,
        network_access,
        exclude_tmpdir_env_var: false,
        exclude_slash_tmp: false,
    };
    assert_eq!(
        results,
        vec![
            (
                Ok(SandboxPolicy::DangerFullAccess),
                Err(PolicyModifierError::Unrestricted {
                    modifier: "with_network_access(false)",
                    policy_type: "dangerFullAccess",
                }),
            ),
            (
                Err(PolicyModifierError::ReadOnlyHasNoNetwork),
                Ok(SandboxPolicy::read_only()),
            ),
            (Ok(workspace(true)), Ok(workspace(false))),
            (
                Ok(SandboxPolicy::ExternalSandbox {
                    network_access: NetworkAccess::Enabled,
                }),
                Ok(SandboxPolicy::ExternalSandbox {
                    network_access: NetworkAccess::Restricted,
                }),
            ),
        ]
    );
}

#[test]
fn with_readable_roots_on_each_variant() {
    let results: Vec<Result<SandboxPolicy, PolicyModifierError>> = one_of_each()
        .into_iter()
        .map(|policy| policy.with_readable_roots([abs("/srv/data")]))
        .collect();
    let restricted = ReadOnlyAccess::Restricted {
        include_platform_defaults: true,
        readable_roots: vec![abs("/srv/data")],
    };
    assert_eq!(
        results,
        vec![
            Err(PolicyModifierError::Unrestricted {
                modifier: "with_readable_roots",
                policy_type: "dangerFullAccess",
            }),
            Ok(SandboxPolicy::ReadOnly {
                access: restricted.clone(),
            }),
            Ok(SandboxPolicy::WorkspaceWrite {
                writable_roots: vec![abs("/work/extra")],
                read_only_access: restricted,
                network_access: false,
                exclude_tmpdir_env_var: false,
                exclude_slash_tmp: false,
            }),
            Err(PolicyModifierError::Unrestricted {
                modifier: "with_readable_roots",
                policy_type: "externalSandbox",
            }),
        ]
    );
}

#[test]
fn with_readable_roots_replaces_earlier_roots() {
    assert_eq!(
        SandboxPolicy::read_only_restricted([abs("/a")]).with_readable_roots([abs("/b")]),
        Ok(SandboxPolicy::read_only_restricted([abs("/b")]))
    );
}

#[test]
fn excluding_tmp_on_each_variant() {
    let results: Vec<Result<SandboxPolicy, PolicyModifierError>> = one_of_each()
        .into_iter()
        .map(SandboxPolicy::excluding_tmp)
        .collect();
    assert_eq!(
        results,
        vec![
            Err(PolicyModifierError::Unrestricted {
                modifier: "excluding_tmp",
                policy_type: "dangerFullAccess",
            }),
            Ok(SandboxPolicy::read_only()),
            Ok(SandboxPolicy::WorkspaceWrite {
                writable_roots: vec![abs("/work/extra")],
                read_only_access: ReadOnlyAccess::FullAccess,
                network_access: false,
                exclude_tmpdir_env_var: true,
                exclude_slash_tmp: true,
            }),
            Err(PolicyModifierError::Unrestricted {
                modifier: "excluding_tmp",
                policy_type: "externalSandbox",
            }),
        ]
    );
}

#[test]
fn modifiers_chain_and_keep_each_others_settings() {
    let chained = SandboxPolicy::workspace_write([abs("/work/extra")])
        .excluding_tmp()
        .and_then(|policy| policy.with_network_access(/*enabled*/ true))
        .and_then(|policy| policy.with_readable_roots([abs("/srv/data")]));
    assert_eq!(
        chained,
        Ok(SandboxPolicy::WorkspaceWrite {
            writable_roots: vec![abs("/work/extra")],
            read_only_access: ReadOnlyAccess::Restricted {
                include_platform_defaults: true,
                readable_roots: vec![abs("/srv/data")],
            },
            network_access: true,
            exclude_tmpdir_env_var: true,
            exclude_slash_tmp: true,
        })
    );
}

#[test]
fn modifier_errors_say_what_to_do() {
    assert_eq!(
        [
            PolicyModifierError::ReadOnlyHasNoNetwork.to_string(),
            PolicyModifierError::Unrestricted {
                modifier: "excluding_tmp",
                policy_type: "dangerFullAccess",
            }
            .to_string(),
        ],
        [
            "`with_network_access(true)` cannot apply to a `readOnly` policy: read-only \
             policies never have network access; use `SandboxPolicy::workspace_write` if \
             the command needs the network"
                .to_string(),
            "`excluding_tmp` cannot apply to a `dangerFullAccess` policy, which does not \
             restrict it; start from `SandboxPolicy::read_only` or \
             `SandboxPolicy::workspace_write`"
                .to_string(),
        ]
    );
}

#[test]
fn danger_full_access_json_round_trips() {
    assert_json_round_trip(
        &SandboxPolicy::danger_full_access(),
        json!({"type": "dangerFullAccess"}),
    );
}

#[test]
fn read_only_json_round_trips() {
    assert_json_round_trip(
        &SandboxPolicy::read_only(),
        json!({"type": "readOnly", "access": {"type": "fullAccess"}}),
    );
}

#[test]
fn read_only_restricted_json_round_trips() {
    assert_json_round_trip(
        &SandboxPolicy::read_only_restricted([abs("/srv/data")]),
        json!({
            "type": "readOnly",
            "access": {
                "type": "restricted",
                "includePlatformDefaults": true,
                "readableRoots": ["/srv/data"]
            }
        }),
    );
}

#[test]
fn workspace_write_json_round_trips() {
    assert_json_round_trip(
        &SandboxPolicy::workspace_write([abs("/work/extra")]),
        json!({
            "type": "workspaceWrite",
            "writableRoots": ["/work/extra"],
            "readOnlyAccess": {"type": "fullAccess"},
            "networkAccess": false,
            "excludeTmpdirEnvVar": false,
            "excludeSlashTmp": false
        }),
    );
}

#[test]
fn modified_workspace_write_json_round_trips() {
    let policy = SandboxPolicy::workspace_write([abs("/work/extra")])
        .with_network_access(/*enabled*/ true)
        .and_then(SandboxPolicy::excluding_tmp)
        .and_then(|policy| policy.with_readable_roots([abs("/srv/data")]))
        .expect("workspaceWrite takes every modifier");
    assert_json_round_trip(
        &policy,
        json!({
            "type": "workspaceWrite",
            "writableRoots": ["/work/extra"],
            "readOnlyAccess": {
                "type": "restricted",
                "includePlatformDefaults": true,
                "readableRoots": ["/srv/data"]
            },
            "networkAccess": true,
            "excludeTmpdirEnvVar": true,
            "excludeSlashTmp": true
        }),
    );
}
