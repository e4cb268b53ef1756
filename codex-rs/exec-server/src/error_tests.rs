use pretty_assertions::assert_eq;

use super::ExecError;
use crate::protocol::RpcError;

/// Each application error: its wire code and `data.kind`, and the variant a client maps
/// that wire error back to (the same one, so local and remote report alike).
#[test]
fn application_errors_have_a_code_and_kind_and_map_back_to_their_variant() {
    let errors = vec![
        ExecError::UnknownProcess("p".to_string()),
        ExecError::DuplicateProcess("p".to_string()),
        ExecError::ProcessStarting("p".to_string()),
        ExecError::NotATerminal("p".to_string()),
        ExecError::SpawnFailed {
            program: "/no/such".to_string(),
            message: "No such file or directory (os error 2)".to_string(),
        },
        ExecError::SandboxDenied("cwd `/x` is outside the readable roots".to_string()),
        ExecError::SandboxUnavailable("bubblewrap not found".to_string()),
        ExecError::EscalationUnavailable("no patched zsh".to_string()),
        ExecError::SessionTakenOver,
    ];
    let mapped: Vec<(i64, Option<String>, String)> = errors
        .iter()
        .map(|err| {
            let wire = err.to_rpc_error();
            let back = ExecError::from_rpc_error(wire.clone(), Some("p"));
            (
                wire.code,
                wire.kind().map(str::to_string),
                format!("{back:?}"),
            )
        })
        .collect();
    let expected: Vec<(i64, Option<String>, String)> = [
        (-32001, "unknownProcess"),
        (-32002, "duplicateProcess"),
        (-32016, "processStarting"),
        (-32017, "notATerminal"),
        (-32003, "spawnFailed"),
        (-32008, "sandboxDenied"),
        (-32007, "sandboxUnavailable"),
        (-32018, "escalationUnavailable"),
        (-32006, "sessionTakenOver"),
    ]
    .into_iter()
    .zip(&errors)
    .map(|((code, kind), err)| (code, Some(kind.to_string()), format!("{err:?}")))
    .collect();
    assert_eq!(mapped, expected);
}

#[test]
fn process_starting_is_an_application_error_a_person_can_act_on() {
    assert_eq!(
        ExecError::ProcessStarting("build".to_string()).to_rpc_error(),
        RpcError {
            code: -32016,
            message: "process `build` is still starting; retry shortly".to_string(),
            data: Some(serde_json::json!({"kind": "processStarting", "processId": "build"})),
        }
    );
}

/// The client rebuilds the typed error from `data` alone: a server may word its message
/// as it likes (or translate it).
#[test]
fn a_wire_error_maps_back_from_its_data_not_its_message() {
    let wire = |kind: &str, fields: serde_json::Value| {
        let mut data = fields;
        data["kind"] = serde_json::Value::from(kind);
        RpcError {
            code: -32000,
            message: "ein Fehler".to_string(),
            data: Some(data),
        }
    };
    let back = [
        wire(
            "spawnFailed",
            serde_json::json!({"program": "cc", "reason": "not found"}),
        ),
        wire("unknownProcess", serde_json::json!({"processId": "other"})),
        wire("sandboxDenied", serde_json::json!({"reason": "no"})),
        wire("unknownSession", serde_json::json!({"sessionId": "s1"})),
    ]
    .into_iter()
    .map(|err| format!("{:?}", ExecError::from_rpc_error(err, Some("p"))))
    .collect::<Vec<_>>();
    assert_eq!(
        back,
        [
            ExecError::SpawnFailed {
                program: "cc".to_string(),
                message: "not found".to_string(),
            },
            ExecError::UnknownProcess("other".to_string()),
            ExecError::SandboxDenied("no".to_string()),
            ExecError::UnknownSession("s1".to_string()),
        ]
        .map(|err| format!("{err:?}"))
    );
}
