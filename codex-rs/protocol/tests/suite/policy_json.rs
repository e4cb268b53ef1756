//! Every variant parsed from a literal document, compared with the constructed value,
//! and serialised back to the same document.
use codex_protocol::NetworkAccess;
use codex_protocol::ReadOnlyAccess;
use codex_protocol::SandboxPolicy;
use pretty_assertions::assert_eq;
use serde_json::json;

use super::abs;

/// Parses `text`, compares with `expected`, and checks that serialising gives `json`.
fn assert_round_trip(text: &str, expected: SandboxPolicy, json: serde_json::Value) {
    let parsed: SandboxPolicy = serde_json::from_str(text).expect("valid policy");
    assert_eq!(parsed, expected);
    assert_eq!(serde_json::to_value(&parsed).expect("serialize"), json);
}

#[test]
fn danger_full_access() {
    assert_round_trip(
        r#"{"type": "dangerFullAccess"}"#,
        SandboxPolicy::DangerFullAccess,
        json!({"type": "dangerFullAccess"}),
    );
}

#[test]
fn read_only_with_full_access() {
    assert_round_trip(
        r#"{"type": "readOnly", "access": {"type": "fullAccess"}}"#,
        SandboxPolicy::ReadOnly {
            access: ReadOnlyAccess::FullAccess,
        },
        json!({"type": "readOnly", "access": {"type": "fullAccess"}}),
    );
}

#[test]
fn read_only_restricted() {
    assert_round_trip(
        r#"{
            "type": "readOnly",
            "access": {
                "type": "restricted",
                "includePlatformDefaults": true,
                "readableRoots": ["/srv/data", "/home/me/project"]
            }
        }"#,
        SandboxPolicy::ReadOnly {
            access: ReadOnlyAccess::Restricted {
                include_platform_defaults: true,
                readable_roots: vec![abs("/srv/data"), abs("/home/me/project")],
            },
        },
        json!({
            "type": "readOnly",
            "access": {
                "type": "restricted",
                "includePlatformDefaults": true,
                "readableRoots": ["/srv/data", "/home/me/project"]
            }
        }),
    );
}

#[test]
fn workspace_write_with_every_field() {
    assert_round_trip(
        r#"{
            "type": "workspaceWrite",
            "writableRoots": ["/work/extra", "/var/cache/build"],
            "readOnlyAccess": {
                "type": "restricted",
                "includePlatformDefaults": false,
                "readableRoots": []
            },
            "networkAccess": true,
            "excludeTmpdirEnvVar": true,
            "excludeSlashTmp": false
        }"#,
        SandboxPolicy::WorkspaceWrite {
            writable_roots: vec![abs("/work/extra"), abs("/var/cache/build")],
            read_only_access: ReadOnlyAccess::Restricted {
                include_platform_defaults: false,
                readable_roots: vec![],
            },
            network_access: true,
            exclude_tmpdir_env_var: true,
            exclude_slash_tmp: false,
        },
        json!({
            "type": "workspaceWrite",
            "writableRoots": ["/work/extra", "/var/cache/build"],
            "readOnlyAccess": {
                "type": "restricted",
                "includePlatformDefaults": false,
                "readableRoots": []
            },
            "networkAccess": true,
            "excludeTmpdirEnvVar": true,
            "excludeSlashTmp": false
        }),
    );
}

#[test]
fn workspace_write_paths_are_normalised_on_the_way_in() {
    assert_round_trip(
        r#"{
            "type": "workspaceWrite",
            "writableRoots": ["/work/./a/../b/"],
            "readOnlyAccess": {"type": "fullAccess"},
            "networkAccess": false,
            "excludeTmpdirEnvVar": false,
            "excludeSlashTmp": true
        }"#,
        SandboxPolicy::WorkspaceWrite {
            writable_roots: vec![abs("/work/b")],
            read_only_access: ReadOnlyAccess::FullAccess,
            network_access: false,
            exclude_tmpdir_env_var: false,
            exclude_slash_tmp: true,
        },
        json!({
            "type": "workspaceWrite",
            "writableRoots": ["/work/b"],
            "readOnlyAccess": {"type": "fullAccess"},
            "networkAccess": false,
            "excludeTmpdirEnvVar": false,
            "excludeSlashTmp": true
        }),
    );
}

#[test]
fn external_sandbox_restricted_and_enabled() {
    assert_round_trip(
        r#"{"type": "externalSandbox", "networkAccess": "restricted"}"#,
        SandboxPolicy::ExternalSandbox {
            network_access: NetworkAccess::Restricted,
        },
        json!({"type": "externalSandbox", "networkAccess": "restricted"}),
    );
    assert_round_trip(
        r#"{"type": "externalSandbox", "networkAccess": "enabled"}"#,
        SandboxPolicy::ExternalSandbox {
            network_access: NetworkAccess::Enabled,
        },
        json!({"type": "externalSandbox", "networkAccess": "enabled"}),
    );
}

#[test]
fn full_access_flags_per_variant() {
    let restricted = ReadOnlyAccess::Restricted {
        include_platform_defaults: true,
        readable_roots: vec![],
    };
    let workspace = |network_access, read_only_access| SandboxPolicy::WorkspaceWrite {
        writable_roots: vec![],
        read_only_access,
        network_access,
        exclude_tmpdir_env_var: false,
        exclude_slash_tmp: false,
    };
    let policies = [
        SandboxPolicy::DangerFullAccess,
        SandboxPolicy::ReadOnly {
            access: ReadOnlyAccess::FullAccess,
        },
        SandboxPolicy::ReadOnly {
            access: restricted.clone(),
        },
        workspace(/*network_access*/ true, ReadOnlyAccess::FullAccess),
        workspace(/*network_access*/ false, restricted),
        SandboxPolicy::ExternalSandbox {
            network_access: NetworkAccess::Restricted,
        },
        SandboxPolicy::ExternalSandbox {
            network_access: NetworkAccess::Enabled,
        },
    ];
    // (network, read, write) per policy above.
    let flags: Vec<(bool, bool, bool)> = policies
        .iter()
        .map(|policy| {
            (
                policy.has_full_network_access(),
                policy.has_full_disk_read_access(),
                policy.has_full_disk_write_access(),
            )
        })
        .collect();
    assert_eq!(
        flags,
        vec![
            (true, true, true),
            (false, true, false),
            (false, false, false),
            (true, true, false),
            (false, false, false),
            (false, true, true),
            (true, true, true),
        ]
    );
}
