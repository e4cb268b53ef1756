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

/// A `process/output` notification as the server writes it is read directly to the same
/// value serde reads, for every stream, chunk length and kind of id; any other form of
/// the same JSON is left to serde (`None`), and so is anything invalid.
#[test]
fn output_notification_text_is_read_directly_as_serde_reads_it() {
    let bytes = every_byte_value();
    for (process_id, stream, len) in [
        ("p", OutputStream::Stdout, 0),
        ("p\"1\\\u{1}é", OutputStream::Stderr, 1),
        ("", OutputStream::Pty, 2),
        ("long", OutputStream::Stdout, 4999),
    ] {
        let notification = OutputNotification {
            process_id: process_id.to_string(),
            seq: u64::MAX - len as u64,
            stream,
            chunk: ByteChunk::from(&bytes[..len]),
        };
        let text = ProcessEvent::Output(notification.clone())
            .to_notification_text()
            .unwrap();
        assert_eq!(
            OutputNotification::from_notification_text(&text),
            Some(notification.clone()),
            "{text}"
        );
        // The same JSON in another form: spaces, another order, an escaped base64 slash.
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        let reordered = serde_json::json!({"params": value["params"], "method": "process/output", "jsonrpc": "2.0"}).to_string();
        for other in [pretty, reordered, text.replace('/', "\\/")] {
            if other == text {
                continue;
            }
            assert_eq!(
                OutputNotification::from_notification_text(&other),
                None,
                "{other}"
            );
        }
    }
    for invalid in [
        r#"{"jsonrpc":"2.0","method":"process/output","params":{"processId":"p","seq":01,"stream":"stdout","chunk":""}}"#,
        r#"{"jsonrpc":"2.0","method":"process/output","params":{"processId":"p","seq":1,"stream":"stdin","chunk":""}}"#,
        r#"{"jsonrpc":"2.0","method":"process/output","params":{"processId":"p","seq":1,"stream":"stdout","chunk":"AB=="}}"#,
        r#"{"jsonrpc":"2.0","method":"process/output","params":{"processId":"p","seq":1,"stream":"stdout","chunk":"AAAA"}}x"#,
        r#"{"jsonrpc":"2.0","method":"process/output","params":{"processId":"p","seq":18446744073709551616,"stream":"stdout","chunk":""}}"#,
        r#"{"jsonrpc":"2.0","method":"process/output","params":{"processId":p,"seq":1,"stream":"stdout","chunk":""}}"#,
    ] {
        assert_eq!(
            OutputNotification::from_notification_text(invalid),
            None,
            "{invalid}"
        );
    }
}

/// The `process/read` reply the server writes directly parses to the same `ReadResponse`
/// (and the same JSON) as the reply serde writes.
#[test]
fn read_response_text_parses_like_its_serde_serialization() {
    #[derive(Serialize)]
    struct SerdeResponse<'a> {
        jsonrpc: &'static str,
        id: &'a serde_json::Value,
        result: &'a ReadResponse,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Response {
        jsonrpc: String,
        id: serde_json::Value,
        result: ReadResponse,
    }
    let chunk = |seq: u64, stream: OutputStream, bytes: &[u8]| OutputChunk {
        seq,
        stream,
        chunk: ByteChunk::from(bytes),
    };
    let large: Vec<u8> = (0..=255u8).cycle().take(100_003).collect();
    let cases = [
        ReadResponse::default(),
        ReadResponse {
            next_seq: 12,
            gap: Some(Gap {
                from_seq: 1,
                to_seq: 11,
                dropped_bytes: 1 << 40,
            }),
            ..ReadResponse::default()
        },
        ReadResponse {
            // Every padding length, every stream, binary and empty chunks.
            chunks: vec![
                chunk(/*seq*/ 1, OutputStream::Stdout, b""),
                chunk(/*seq*/ 2, OutputStream::Stderr, b"a"),
                chunk(/*seq*/ 3, OutputStream::Pty, b"ab"),
                chunk(/*seq*/ 4, OutputStream::Stdout, b"abc"),
                chunk(
                    /*seq*/ 5,
                    OutputStream::Stdout,
                    &[0, 255, b'"', b'\\', b'\n', 0xc3],
                ),
                chunk(/*seq*/ u64::MAX - 1, OutputStream::Stderr, &large),
            ],
            next_seq: u64::MAX,
            ..ReadResponse::default()
        },
        ReadResponse {
            chunks: vec![chunk(/*seq*/ 7, OutputStream::Stdout, b"bye\n")],
            next_seq: 10,
            exited: true,
            exit_code: Some(-1),
            closed: true,
            ..ReadResponse::default()
        },
        ReadResponse {
            next_seq: 3,
            exited: true,
            exit_code: Some(i32::MIN),
            failure: Some(
                "reading \"stdout\": broken\npipe\r\t\\ \u{0}\u{1f} é 漢字 🦀 \u{2028}</script>"
                    .to_string(),
            ),
            ..ReadResponse::default()
        },
        ReadResponse {
            chunks: vec![chunk(/*seq*/ 2, OutputStream::Pty, b"$ ")],
            next_seq: 3,
            failure: Some(String::new()),
            gap: Some(Gap {
                from_seq: 1,
                to_seq: 1,
                dropped_bytes: 0,
            }),
            notifications_resumed: true,
            ..ReadResponse::default()
        },
    ];
    let ids = [
        serde_json::json!(7),
        serde_json::json!("id \"quoted\" \u{1}"),
    ];
    for (case, id) in cases.iter().zip(ids.iter().cycle()) {
        let text = case.to_response_text(id).unwrap();
        let serde_text = serde_json::to_string(&SerdeResponse {
            jsonrpc: JSONRPC_VERSION,
            id,
            result: case,
        })
        .unwrap();
        let direct: Response = serde_json::from_str(&text).unwrap();
        let serde: Response = serde_json::from_str(&serde_text).unwrap();
        assert_eq!(direct.jsonrpc, serde.jsonrpc);
        assert_eq!(direct.id, serde.id);
        assert_eq!(direct.result, serde.result);
        assert_eq!(&direct.result, case);
        // The same JSON document too (members that serde writes as `null` included).
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            serde_json::from_str::<serde_json::Value>(&serde_text).unwrap()
        );
    }
}

/// The client reads a `process/read` result as serde does: the same value, or the same
/// error, whatever the text (the direct path takes only the form the server writes).
#[test]
fn read_result_text_parses_as_serde_does() {
    let same_as_serde = |text: &str| {
        let direct = ReadResponse::from_result_text(text).map_err(|err| err.to_string());
        let serde = serde_json::from_str::<ReadResponse>(text).map_err(|err| err.to_string());
        assert_eq!(direct, serde, "{text}");
        direct
    };
    let chunk_of_len = |seq: u64, stream: OutputStream, len: usize| OutputChunk {
        seq,
        stream,
        chunk: ByteChunk::from(
            (0..len)
                .map(|index| (index * 7 % 256) as u8)
                .collect::<Vec<u8>>(),
        ),
    };
    // Around the decoder's blocks of 1024 characters (768 bytes), every padding.
    let mut chunks: Vec<OutputChunk> = [
        0, 1, 2, 3, 4, 766, 767, 768, 769, 770, 1534, 1535, 1536, 100_000,
    ]
    .into_iter()
    .enumerate()
    .map(|(index, len)| chunk_of_len(index as u64 + 1, OutputStream::Stdout, len))
    .collect();
    chunks.push(chunk_of_len(
        /*seq*/ 20,
        OutputStream::Stderr,
        /*len*/ 5,
    ));
    chunks.push(chunk_of_len(
        /*seq*/ u64::MAX,
        OutputStream::Pty,
        /*len*/ 6,
    ));
    let responses = [
        ReadResponse::default(),
        ReadResponse {
            chunks,
            next_seq: 30,
            exited: true,
            exit_code: Some(-9),
            closed: true,
            failure: Some("a \"quoted\"\nfailure é".to_string()),
            gap: Some(Gap {
                from_seq: 1,
                to_seq: 2,
                dropped_bytes: 3,
            }),
            notifications_resumed: true,
        },
        ReadResponse {
            chunks: vec![chunk_of_len(
                /*seq*/ 0,
                OutputStream::Stdout,
                /*len*/ 1,
            )],
            next_seq: 2,
            ..ReadResponse::default()
        },
    ];
    for response in &responses {
        // Both serde and the server write results in the form read directly.
        let text = serde_json::to_string(response).unwrap();
        assert_eq!(same_as_serde(&text).as_ref(), Ok(response));
        assert_eq!(
            ReadResponse::from_direct_text(&text).as_ref(),
            Some(response)
        );
        let reply = response.to_response_text(&serde_json::json!(1)).unwrap();
        let result = &reply[r#"{"jsonrpc":"2.0","id":1,"result":"#.len()..reply.len() - 1];
        assert_eq!(same_as_serde(result).as_ref(), Ok(response));
        assert_eq!(
            ReadResponse::from_direct_text(result).as_ref(),
            Some(response)
        );
    }
    let base = r#"{"chunks":[{"seq":1,"stream":"stdout","chunk":"YWJj"},{"seq":2,"stream":"stderr","chunk":"ZA=="}],"nextSeq":3,"exited":false,"exitCode":null,"closed":false,"failure":null}"#;
    let variants = [
        base.to_string(),
        base.replace(r#","exitCode":null"#, ""),
        base.replace("YWJj", r#"YW\/j"#),
        base.replace("YWJj", r#"YW\u004aj"#),
        base.replace("YWJj", "YW=j"),
        base.replace("YWJj", "YWJ"),
        base.replace("YWJj", "YWJ*"),
        base.replace("ZA==", "ZB=="),
        base.replace("ZA==", "ZA="),
        base.replace("ZA==", "ZA"),
        base.replace(r#""seq":1"#, r#""seq":01"#),
        base.replace(r#""seq":1"#, r#""seq":-1"#),
        base.replace(r#""seq":1"#, r#""seq":18446744073709551616"#),
        base.replace(r#""seq":1"#, r#""seq":1.0"#),
        base.replace(r#""seq":1,"#, r#""seq": 1,"#),
        base.replace(r#""stream":"stdout""#, r#""stream":"stdin""#),
        base.replace(r#""chunk":"YWJj""#, r#""chunk":"YWJj","extra":1"#),
        base.replace(r#""chunk":"YWJj""#, r#""chunk":null"#),
        base.replace(r#","nextSeq":3"#, ""),
        base.replace(r#","nextSeq":3"#, r#","nextSeq":3,"nextSeq":4"#),
        base.replace(r#","nextSeq":3"#, r#","nextSeq":3,"chunks":[]"#),
        base.replace(r#","nextSeq":3"#, r#","nextSeq":3,"unknown":true"#),
        base.replace(r#","nextSeq":3"#, r#","nextSeq":3,"gap":null"#),
        base.replace(r#"],"nextSeq""#, r#"] ,"nextSeq""#),
        format!("{base} "),
        format!("{base}x"),
        base.replace(r#"[{"seq":1"#, r#"[ {"seq":1"#),
        r#"{"chunks":[],"nextSeq":1,"exited":false,"closed":false}"#.to_string(),
        r#"{"chunks":[]}"#.to_string(),
        r#"{"chunks":["#.to_string(),
        r#"{"chunks":[{"seq":1,"stream":"stdout","chunk":""#.to_string(),
        String::new(),
    ];
    for text in &variants {
        let _ = same_as_serde(text);
    }
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

/// 5,000 bytes: every byte value, up then down, repeated.
fn every_byte_value() -> Vec<u8> {
    (0..=255u8)
        .chain((0..=255u8).rev())
        .cycle()
        .take(5000)
        .collect()
}

/// The base64 written directly (replies, notifications, encoded ahead) is the base64
/// crate's, for every length (every padding) and every byte value.
#[test]
fn direct_base64_is_the_standard_encoding() {
    use base64::Engine;

    use super::byte_chunk::encode_base64;

    let bytes = every_byte_value();
    for len in (0..300).chain([4095, 4096, 4097, 4999]) {
        let input = &bytes[bytes.len() - len..];
        let want = base64::engine::general_purpose::STANDARD.encode(input);
        assert_eq!(encode_base64(input).unwrap(), want, "{len}");
        let mut out = b"prefix".to_vec();
        encode_base64_into(input, &mut out);
        assert_eq!(
            out,
            [b"prefix".as_slice(), want.as_bytes()].concat(),
            "{len}"
        );
        assert_eq!(base64_len(len), want.len());
    }
}

/// Base64 is decoded as the base64 crate decodes it: the same bytes, the same errors.
#[test]
fn base64_decodes_as_the_base64_crate() {
    use base64::Engine;

    use super::byte_chunk::decode_base64;

    let standard = base64::engine::general_purpose::STANDARD;
    let bytes = every_byte_value();
    for len in (0..300).chain([4095, 4096, 4097, 4999]) {
        let text = standard.encode(&bytes[bytes.len() - len..]);
        assert_eq!(
            decode_base64(text.as_bytes()).unwrap(),
            &bytes[bytes.len() - len..],
            "{len}"
        );
    }
    let valid = standard.encode(&bytes[..100]);
    let mut invalid: Vec<String> = [
        "",
        "=",
        "A",
        "AA",
        "AA=",
        "AA==A",
        "A===",
        "====",
        "AB==",
        "ABC=",
        "AAAA AAA",
        "AAAA\nAAA",
        "AAAAAA==AAAA",
        "AAAA====",
        "-_AA",
        "AAAA-_AA",
        "AAAAAAAAAAAAAAAA=AAAAAAA",
    ]
    .iter()
    .map(|text| text.to_string())
    .collect();
    // A bad character at every place of a long text, and bad padding at its end.
    for index in 0..valid.len() {
        for bad in ["=", "*", "\u{7f}", "é"] {
            let mut text = valid.clone();
            text.replace_range(index..index + 1, bad);
            invalid.push(text);
        }
    }
    invalid.push(format!("{valid}="));
    invalid.push(format!("{}=A", &valid[..valid.len() - 2]));
    for text in invalid {
        assert_eq!(
            decode_base64(text.as_bytes()),
            standard.decode(text.as_bytes()),
            "{text:?}"
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
