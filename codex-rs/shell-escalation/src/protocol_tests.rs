use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;

#[test]
fn the_request_on_the_wire() {
    let request = ExecRequest {
        file: "/usr/bin/ls".into(),
        argv: vec!["ls".to_string(), "-l".to_string()],
        cwd: "/work".into(),
        env: BTreeMap::from([("PATH".to_string(), "/usr/bin".to_string())]),
    };
    let wire = json!({"file": "/usr/bin/ls", "argv": ["ls", "-l"], "cwd": "/work", "env": {"PATH": "/usr/bin"}});

    assert_eq!(serde_json::to_value(&request).unwrap(), wire);
    assert_eq!(
        serde_json::from_value::<ExecRequest>(wire).unwrap(),
        request
    );
}

#[test]
fn a_request_with_unknown_or_missing_fields_is_refused() {
    let extra = json!({"file": "/x", "argv": ["x"], "cwd": "/", "env": {}, "more": true});
    let missing = json!({"file": "/x", "argv": ["x"], "cwd": "/"});
    assert!(serde_json::from_value::<ExecRequest>(extra).is_err());
    assert!(serde_json::from_value::<ExecRequest>(missing).is_err());
}

#[test]
fn the_replies_on_the_wire() {
    let cases = [
        (Reply::Run, json!({"decision": "run"})),
        (
            Reply::Deny {
                reason: "no".to_string(),
            },
            json!({"decision": "deny", "reason": "no"}),
        ),
        (
            Reply::Escalated {
                status: ExitStatus::Code(3),
            },
            json!({"decision": "escalated", "status": {"code": 3}}),
        ),
        (
            Reply::Escalated {
                status: ExitStatus::Signal(9),
            },
            json!({"decision": "escalated", "status": {"signal": 9}}),
        ),
        (
            Reply::Error {
                message: "too big".to_string(),
                exit_code: 126,
            },
            json!({"decision": "error", "message": "too big", "exitCode": 126}),
        ),
    ];
    for (reply, wire) in cases {
        assert_eq!(serde_json::to_value(&reply).unwrap(), wire);
        assert_eq!(serde_json::from_value::<Reply>(wire).unwrap(), reply);
    }
    assert_eq!(
        serde_json::from_value::<Reply>(json!({"decision": "run", "extra": 1})).unwrap(),
        Reply::Run
    );
    assert!(serde_json::from_value::<Reply>(json!({"decision": "maybe"})).is_err());
}

#[test]
fn exit_statuses_as_a_shell_reports_them() {
    assert_eq!(ExitStatus::Code(0).shell_code(), 0);
    assert_eq!(ExitStatus::Code(7).shell_code(), 7);
    assert_eq!(ExitStatus::Code(256 + 1).shell_code(), 1);
    assert_eq!(ExitStatus::Signal(libc::SIGTERM).shell_code(), 143);
    assert_eq!(ExitStatus::Signal(libc::SIGKILL).shell_code(), 137);

    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(
        ExitStatus::from_std(std::process::ExitStatus::from_raw(3 << 8)),
        ExitStatus::Code(3)
    );
    assert_eq!(
        ExitStatus::from_std(std::process::ExitStatus::from_raw(libc::SIGKILL)),
        ExitStatus::Signal(libc::SIGKILL)
    );
}

#[test]
fn frame_headers_are_little_endian_lengths() {
    assert_eq!(frame_header(0x0102_0304).unwrap(), [4, 3, 2, 1]);
    assert!(frame_header(usize::MAX).is_err());
}
