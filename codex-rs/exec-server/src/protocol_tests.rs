use codex_file_system::DirectoryEntry;
use codex_file_system::FileMetadata;
use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;
use pretty_assertions::assert_eq;
use serde::Serialize;

use super::*;

#[test]
fn start_params_refuse_unknown_fields() {
    let err = serde_json::from_value::<StartParams>(serde_json::json!({
        "processId": "p", "argv": ["true"], "cwd": "/", "env": {}, "tty": false,
        "readOnly": true,
    }))
    .unwrap_err();
    assert!(
        err.to_string().contains("unknown field `readOnly`"),
        "{err}"
    );
}

#[test]
fn output_notification_text_round_trips() {
    let event = ProcessEvent::Output(OutputNotification {
        process_id: "p\"1".to_string(),
        seq: 7,
        stream: OutputStream::Stderr,
        chunk: ByteChunk::from(vec![0u8, 1, 2, 255]),
    });
    let text = event.to_notification_text().unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        value,
        serde_json::json!({
            "jsonrpc": "2.0",
            "method": "process/output",
            "params": {"processId": "p\"1", "seq": 7, "stream": "stderr", "chunk": "AAEC/w=="},
        })
    );
    let params = serde_json::to_string(&value["params"]).unwrap();
    assert_eq!(
        ProcessEvent::from_notification("process/output", &params),
        Some(event)
    );
}

/// Each fs document parses into the typed value and serialises back to the same JSON.
fn round_trip<T>(document: serde_json::Value, value: T)
where
    T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let parsed: T = serde_json::from_value(document.clone()).unwrap();
    assert_eq!(parsed, value);
    assert_eq!(serde_json::to_value(&value).unwrap(), document);
}

fn abs(path: &str) -> AbsolutePathBuf {
    AbsolutePathBuf::try_from_absolute(path).unwrap()
}

#[test]
fn fs_requests_and_responses_round_trip_against_literal_documents() {
    let policy = SandboxPolicy::WorkspaceWrite {
        writable_roots: vec![abs("/work")],
        read_only_access: codex_protocol::ReadOnlyAccess::Restricted {
            include_platform_defaults: true,
            readable_roots: vec![abs("/data")],
        },
        network_access: false,
        exclude_tmpdir_env_var: true,
        exclude_slash_tmp: false,
    };
    let policy_json = serde_json::json!({
        "type": "workspaceWrite", "writableRoots": ["/work"],
        "readOnlyAccess": {"type": "restricted", "includePlatformDefaults": true,
                           "readableRoots": ["/data"]},
        "networkAccess": false, "excludeTmpdirEnvVar": true, "excludeSlashTmp": false,
    });
    round_trip(
        serde_json::json!({"path": "/work/a.txt", "sandboxPolicy": policy_json}),
        ReadFileParams {
            path: abs("/work/a.txt"),
            sandbox_policy: Some(policy),
        },
    );
    round_trip(
        serde_json::json!({"dataBase64": "AP8K"}),
        ReadFileResponse {
            data_base64: ByteChunk::from(vec![0u8, 255, 10]),
        },
    );
    round_trip(
        serde_json::json!({"path": "/w/f", "dataBase64": "aGk=",
                           "sandboxPolicy": {"type": "dangerFullAccess"}}),
        WriteFileParams {
            path: abs("/w/f"),
            data_base64: ByteChunk::from(b"hi".as_slice()),
            sandbox_policy: Some(SandboxPolicy::DangerFullAccess),
        },
    );
    round_trip(
        serde_json::json!({"path": "/w/d", "recursive": true}),
        CreateDirectoryParams {
            path: abs("/w/d"),
            recursive: Some(true),
            sandbox_policy: None,
        },
    );
    round_trip(
        serde_json::json!({"path": "/w"}),
        GetMetadataParams {
            path: abs("/w"),
            sandbox_policy: None,
        },
    );
    round_trip(
        serde_json::json!({"isDirectory": false, "isFile": true, "isSymlink": false,
                           "size": 12, "createdAtMs": 1700000000000i64,
                           "modifiedAtMs": 1700000000001i64}),
        FileMetadata {
            is_directory: false,
            is_file: true,
            is_symlink: false,
            size: 12,
            created_at_ms: 1_700_000_000_000,
            modified_at_ms: 1_700_000_000_001,
        },
    );
    round_trip(
        serde_json::json!({"path": "/w",
                           "sandboxPolicy": {"type": "readOnly", "access": {"type": "fullAccess"}}}),
        ReadDirectoryParams {
            path: abs("/w"),
            sandbox_policy: Some(SandboxPolicy::ReadOnly {
                access: codex_protocol::ReadOnlyAccess::FullAccess,
            }),
        },
    );
    round_trip(
        serde_json::json!({"entries": [{"fileName": "a", "isDirectory": true, "isFile": false}]}),
        ReadDirectoryResponse {
            entries: vec![DirectoryEntry {
                file_name: "a".to_string(),
                is_directory: true,
                is_file: false,
            }],
        },
    );
    round_trip(
        serde_json::json!({"path": "/w/x", "recursive": true, "force": false}),
        RemoveParams {
            path: abs("/w/x"),
            recursive: Some(true),
            force: Some(false),
            sandbox_policy: None,
        },
    );
    round_trip(
        serde_json::json!({"path": "/w/x", "sandboxPolicy": {"type": "dangerFullAccess"}}),
        CheckWriteParams {
            path: abs("/w/x"),
            sandbox_policy: Some(SandboxPolicy::DangerFullAccess),
        },
    );
    round_trip(
        serde_json::json!({"sourcePath": "/w/a", "destinationPath": "/w/b",
                           "sandboxPolicy": {"type": "externalSandbox", "networkAccess": "enabled"}}),
        CopyParams {
            source_path: abs("/w/a"),
            destination_path: abs("/w/b"),
            recursive: None,
            sandbox_policy: Some(SandboxPolicy::ExternalSandbox {
                network_access: codex_protocol::NetworkAccess::Enabled,
            }),
        },
    );
    round_trip(serde_json::json!({}), EmptyResponse {});
}

#[test]
fn fs_params_refuse_unknown_fields_relative_paths_and_bad_policies() {
    let errors: Vec<String> = [
        serde_json::json!({"path": "/w", "follow": true}),
        serde_json::json!({"path": "w"}),
        serde_json::json!({"path": "/w", "sandboxPolicy": {"type": "readOnly"}}),
        serde_json::json!({"path": "/w", "sandboxPolicy": {"type": "dangerFullAccess", "x": 1}}),
    ]
    .into_iter()
    .map(|document| {
        serde_json::from_value::<ReadFileParams>(document)
            .unwrap_err()
            .to_string()
    })
    .collect();
    let expected = [
        "unknown field `follow`",
        "path `w` is not absolute",
        "missing field `access`",
        "unknown field `x`",
    ];
    for (error, needle) in errors.iter().zip(expected) {
        assert!(
            error.contains(needle),
            "{error:?} should mention {needle:?}"
        );
    }
}

#[test]
fn byte_chunk_is_base64_and_binary_safe() {
    let chunk = ByteChunk::from(vec![0u8, 255, 10, 0xc3]);
    let json = serde_json::to_value(&chunk).unwrap();
    assert_eq!(json, serde_json::json!("AP8Kww=="));
    let back: ByteChunk = serde_json::from_value(json).unwrap();
    assert_eq!(back, chunk);
}
