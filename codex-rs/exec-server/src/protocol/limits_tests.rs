use pretty_assertions::assert_eq;
use serde_json::json;

use super::ProcessLimits;
use crate::protocol::StartParams;

fn start(limits: serde_json::Value) -> serde_json::Value {
    json!({
        "processId": "p",
        "argv": ["true"],
        "cwd": "/",
        "env": {},
        "tty": false,
        "limits": limits,
    })
}

fn parse(limits: serde_json::Value) -> Result<StartParams, String> {
    serde_json::from_value(start(limits)).map_err(|err| err.to_string())
}

#[test]
fn limits_round_trip_in_camel_case() {
    let limits = ProcessLimits {
        max_processes: Some(512),
        max_memory_bytes: Some(8 << 30),
        max_file_size_bytes: Some(1 << 30),
        max_open_files: Some(1024),
    };
    let wire = json!({
        "maxProcesses": 512,
        "maxMemoryBytes": 8_589_934_592u64,
        "maxFileSizeBytes": 1_073_741_824u64,
        "maxOpenFiles": 1024,
    });
    assert_eq!(serde_json::to_value(limits).expect("serialize"), wire);
    assert_eq!(parse(wire).expect("parse").limits, Some(limits));
}

#[test]
fn every_limit_is_optional_and_null_means_absent() {
    assert_eq!(
        parse(json!({"maxMemoryBytes": 67_108_864, "maxProcesses": null}))
            .expect("parse")
            .limits,
        Some(ProcessLimits {
            max_memory_bytes: Some(64 << 20),
            ..ProcessLimits::default()
        })
    );
    assert_eq!(
        parse(json!({})).expect("parse").limits,
        Some(ProcessLimits::default())
    );
    let mut without = start(json!({}));
    without
        .as_object_mut()
        .expect("object")
        .remove("limits")
        .expect("limits");
    let params: StartParams = serde_json::from_value(without).expect("parse");
    assert_eq!(params.limits, None);
}

#[test]
fn bad_limits_are_refused_naming_the_field() {
    let cases = [
        (
            json!({"maxProcesses": 0}),
            "`limits.maxProcesses` must be an integer from 1 to 4194304, got 0",
        ),
        (
            json!({"maxProcesses": -5}),
            "`limits.maxProcesses` must be an integer from 1 to 4194304, got -5",
        ),
        (
            json!({"maxProcesses": "50"}),
            "`limits.maxProcesses` must be an integer from 1 to 4194304, got \"50\"",
        ),
        (
            json!({"maxProcesses": 4_194_305}),
            "`limits.maxProcesses` must be an integer from 1 to 4194304, got 4194305",
        ),
        (
            json!({"maxMemoryBytes": 1.5}),
            "`limits.maxMemoryBytes` must be an integer from 1048576 to 140737488355328, \
             got 1.5",
        ),
        (
            json!({"maxMemoryBytes": 4096}),
            "`limits.maxMemoryBytes` must be an integer from 1048576 to 140737488355328, \
             got 4096",
        ),
        (
            json!({"maxFileSizeBytes": 0}),
            "`limits.maxFileSizeBytes` must be an integer from 1 to 9223372036854775807, \
             got 0",
        ),
        (
            json!({"maxOpenFiles": 2_000_000}),
            "`limits.maxOpenFiles` must be an integer from 16 to 1048576, got 2000000",
        ),
    ];
    for (limits, expected) in cases {
        let error = parse(limits.clone()).expect_err("refused");
        assert!(error.starts_with(expected), "{limits}: {error}");
    }
    let unknown = parse(json!({"maxThreads": 5})).expect_err("refused");
    assert!(
        unknown.starts_with("unknown field `maxThreads`, expected one of `maxProcesses`"),
        "{unknown}"
    );
    let not_an_object = parse(json!(5)).expect_err("refused");
    assert!(not_an_object.contains("ProcessLimits"), "{not_an_object}");
}

#[test]
fn validate_checks_the_same_bounds() {
    assert_eq!(ProcessLimits::default().validate(), Ok(()));
    assert_eq!(
        ProcessLimits {
            max_open_files: Some(3),
            ..ProcessLimits::default()
        }
        .validate(),
        Err("`limits.maxOpenFiles` must be an integer from 16 to 1048576, got 3".to_string())
    );
}

/// The wire bounds are the enforcement's (`codex-linux-sandbox`), which cannot be used
/// here directly: this module is compiled on every platform.
#[cfg(target_os = "linux")]
#[test]
fn bounds_match_the_linux_sandbox() {
    assert_eq!(
        ProcessLimits::BOUNDS,
        [
            ("maxProcesses", 1, codex_linux_sandbox::MAX_PROCESSES_LIMIT),
            (
                "maxMemoryBytes",
                codex_linux_sandbox::MIN_MEMORY_BYTES,
                codex_linux_sandbox::MAX_MEMORY_BYTES
            ),
            (
                "maxFileSizeBytes",
                1,
                codex_linux_sandbox::MAX_FILE_SIZE_BYTES
            ),
            (
                "maxOpenFiles",
                codex_linux_sandbox::MIN_OPEN_FILES,
                codex_linux_sandbox::MAX_OPEN_FILES
            ),
        ]
    );
}
