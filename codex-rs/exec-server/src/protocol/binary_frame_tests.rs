use bytes::Bytes;
use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;

fn output(process_id: &str, seq: u64, stream: OutputStream, bytes: &[u8]) -> OutputNotification {
    OutputNotification {
        process_id: process_id.to_string(),
        seq,
        stream,
        chunk: ByteChunk::from(bytes),
    }
}

fn chunk(seq: u64, stream: OutputStream, bytes: &[u8]) -> OutputChunk {
    OutputChunk {
        seq,
        stream,
        chunk: ByteChunk::from(bytes),
    }
}

/// A frame of `version`, a header length, `header` and `payload`.
fn frame(version: u8, header_length: u32, header: &[u8], payload: &[u8]) -> Bytes {
    let mut out = vec![version];
    out.extend_from_slice(&header_length.to_be_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(payload);
    Bytes::from(out)
}

/// A version-1 frame of `header` (its true length) and `payload`.
fn v1(header: &str, payload: &[u8]) -> Bytes {
    frame(
        BINARY_FRAME_VERSION,
        u32::try_from(header.len()).unwrap(),
        header.as_bytes(),
        payload,
    )
}

#[test]
fn an_output_frame_is_laid_out_as_documented() {
    let notification = output("p\"1", /*seq*/ 7, OutputStream::Stderr, b"\x00\xffhi");
    let header = r#"{"jsonrpc":"2.0","method":"process/output","params":{"processId":"p\"1","seq":7,"stream":"stderr","chunkLength":4}}"#;
    assert_eq!(
        Bytes::from(notification.to_binary_frame().unwrap()),
        v1(header, b"\x00\xffhi")
    );
}

#[test]
fn a_read_reply_frame_is_laid_out_as_documented() {
    let response = ReadResponse {
        chunks: vec![
            chunk(1, OutputStream::Stdout, b"ab"),
            chunk(2, OutputStream::Pty, b"c"),
        ],
        next_seq: 3,
        exited: false,
        exit_code: None,
        closed: false,
        failure: None,
        gap: None,
        notifications_resumed: false,
    };
    let header = r#"{"jsonrpc":"2.0","id":12,"result":{"chunks":[{"seq":1,"stream":"stdout","chunkLength":2},{"seq":2,"stream":"pty","chunkLength":1}],"nextSeq":3,"exited":false,"exitCode":null,"closed":false,"failure":null}}"#;
    assert_eq!(
        Bytes::from(response.to_binary_frame(&json!(12)).unwrap()),
        v1(header, b"abc")
    );
}

#[test]
fn output_frames_round_trip() {
    let cases = [
        output("p1", /*seq*/ 1, OutputStream::Stdout, b"hello"),
        output("", u64::MAX, OutputStream::Pty, b""),
        output(
            "é\n\u{1}",
            /*seq*/ 42,
            OutputStream::Stderr,
            &[0, 1, 2, 255, 254],
        ),
        output(
            "big",
            /*seq*/ 3,
            OutputStream::Stdout,
            &vec![7u8; 1 << 20],
        ),
    ];
    for notification in cases {
        let frame = Bytes::from(notification.to_binary_frame().unwrap());
        assert_eq!(
            decode_binary_frame(&frame),
            Ok(BinaryMessage::Output(notification))
        );
    }
}

#[test]
fn read_reply_frames_round_trip() {
    let full = ReadResponse {
        chunks: vec![
            chunk(4, OutputStream::Stdout, b"out"),
            chunk(5, OutputStream::Stderr, b""),
            chunk(6, OutputStream::Stderr, &[0, 255]),
        ],
        next_seq: 8,
        exited: true,
        exit_code: Some(-3),
        closed: true,
        failure: Some("read failed: \"oops\"\n".to_string()),
        gap: Some(Gap {
            from_seq: 1,
            to_seq: 3,
            dropped_bytes: 1 << 40,
        }),
        notifications_resumed: true,
    };
    let empty = ReadResponse {
        next_seq: 1,
        ..ReadResponse::default()
    };
    for (id, result) in [
        (json!(1), full),
        (json!("request-a"), empty),
        (json!(u64::MAX), ReadResponse::default()),
    ] {
        let frame = Bytes::from(result.to_binary_frame(&id).unwrap());
        assert_eq!(
            decode_binary_frame(&frame),
            Ok(BinaryMessage::ReadReply { id, result })
        );
    }
}

#[test]
fn decoded_chunks_are_slices_of_the_frame() {
    let frame = Bytes::from(
        output("p", /*seq*/ 1, OutputStream::Stdout, b"xyz")
            .to_binary_frame()
            .unwrap(),
    );
    let Ok(BinaryMessage::Output(decoded)) = decode_binary_frame(&frame) else {
        panic!("an output frame");
    };
    let end = frame.as_ptr() as usize + frame.len();
    assert_eq!(decoded.chunk.as_bytes().as_ptr() as usize, end - 3);
}

#[test]
fn truncated_prefixes_are_refused() {
    for (bytes, length) in [
        (&b""[..], 0),
        (&[1][..], 1),
        (&[1, 0][..], 2),
        (&[1, 0, 0, 0][..], 4),
    ] {
        assert_eq!(
            decode_binary_frame(&Bytes::copy_from_slice(bytes)),
            Err(BinaryFrameError::TruncatedPrefix { length }),
            "{bytes:?}"
        );
    }
}

#[test]
fn unknown_versions_are_refused() {
    let header = r#"{"jsonrpc":"2.0"}"#;
    for version in [0, 2, b'{', u8::MAX] {
        assert_eq!(
            decode_binary_frame(&frame(version, 17, header.as_bytes(), b"")),
            Err(BinaryFrameError::UnsupportedVersion { version })
        );
    }
    // The version is read before anything else, so a short frame names it too.
    assert_eq!(
        decode_binary_frame(&Bytes::from_static(&[9])),
        Err(BinaryFrameError::UnsupportedVersion { version: 9 })
    );
}

#[test]
fn header_lengths_past_the_frame_are_refused() {
    let header = br#"{"jsonrpc":"2.0"}"#;
    for declared in [18, 1 << 20, u32::MAX] {
        assert_eq!(
            decode_binary_frame(&frame(BINARY_FRAME_VERSION, declared, header, b"")),
            Err(BinaryFrameError::HeaderTooLong {
                declared,
                available: 17
            })
        );
    }
}

/// The reason of an `InvalidHeader` error, or the whole result when it is not one.
fn invalid_reason(frame: &Bytes) -> Result<String, String> {
    match decode_binary_frame(frame) {
        Err(BinaryFrameError::InvalidHeader { reason }) => Ok(reason),
        other => Err(format!("{other:?}")),
    }
}

#[test]
fn invalid_headers_are_refused() {
    let output = r#"{"jsonrpc":"2.0","method":"process/output","params":{"processId":"p","seq":1,"stream":"stdout","chunkLength":0}}"#;
    let read = r#"{"jsonrpc":"2.0","id":1,"result":{"chunks":[],"nextSeq":1,"exited":false,"exitCode":null,"closed":false,"failure":null}}"#;
    // Both are valid as written.
    assert!(decode_binary_frame(&v1(output, b"")).is_ok());
    assert!(decode_binary_frame(&v1(read, b"")).is_ok());
    let cases: Vec<(Bytes, &str)> = vec![
        (v1("", b""), "EOF while parsing a value"),
        (v1("not json", b""), "expected ident"),
        (
            frame(BINARY_FRAME_VERSION, 3, b"\"\xff\"", b""),
            "invalid unicode code point",
        ),
        (v1("42", b""), "invalid type: integer `42`"),
        (v1(&output.replace("2.0", "1.0"), b""), "`jsonrpc` is"),
        (
            v1(&output.replace(r#""seq":1"#, r#""seq":-1"#), b""),
            "invalid value: integer `-1`",
        ),
        (
            v1(&output.replace("stdout", "stdin"), b""),
            "unknown variant `stdin`",
        ),
        (
            v1(&output.replace(r#""chunkLength":0"#, r#""chunk":"""#), b""),
            "unknown field `chunk`",
        ),
        (
            v1(&output.replace(r#""processId":"p","#, ""), b""),
            "`params.processId` is missing",
        ),
        (
            v1(&output.replace("process/output", "process/exited"), b""),
            "it must have",
        ),
        (
            v1(&output.replace(r#""method""#, r#""id":1,"method""#), b""),
            "it must have",
        ),
        (
            v1(&read.replace(r#""id":1"#, r#""id":null"#), b""),
            "it must have",
        ),
        (v1(&read.replace(r#""id":1,"#, ""), b""), "it must have"),
        (
            v1(
                &read.replace(
                    r#""chunks":[]"#,
                    r#""chunks":[{"processId":"p","seq":1,"stream":"pty","chunkLength":0}]"#,
                ),
                b"",
            ),
            "has a `processId`",
        ),
        (
            v1(&read.replace(r#""exited":false,"#, ""), b""),
            "missing field `exited`",
        ),
        (
            v1(&read.replace(r#""closed""#, r#""extra":1,"closed""#), b""),
            "unknown field `extra`",
        ),
        (v1(r#"{"jsonrpc":"2.0"}"#, b""), "it must have"),
    ];
    for (frame, expected) in cases {
        let reason = invalid_reason(&frame);
        assert!(
            reason
                .as_ref()
                .is_ok_and(|reason| reason.contains(expected)),
            "{frame:?}: {reason:?} does not say {expected:?}"
        );
    }
}

#[test]
fn payloads_that_do_not_match_the_chunk_lengths_are_refused() {
    let output = |length: u64| {
        format!(
            r#"{{"jsonrpc":"2.0","method":"process/output","params":{{"processId":"p","seq":1,"stream":"stdout","chunkLength":{length}}}}}"#
        )
    };
    let read = |lengths: &[u64]| {
        let chunks: Vec<String> = lengths
            .iter()
            .enumerate()
            .map(|(index, length)| {
                format!(
                    r#"{{"seq":{},"stream":"stdout","chunkLength":{length}}}"#,
                    index + 1
                )
            })
            .collect();
        format!(
            r#"{{"jsonrpc":"2.0","id":1,"result":{{"chunks":[{}],"nextSeq":1,"exited":false,"exitCode":null,"closed":false,"failure":null}}}}"#,
            chunks.join(",")
        )
    };
    let cases = [
        (v1(&output(/*length*/ 4), b"abc"), 4, 3),
        (v1(&output(/*length*/ 2), b"abc"), 2, 3),
        (v1(&output(u64::MAX), b"abc"), u64::MAX, 3),
        (v1(&read(&[1, 1]), b"abc"), 2, 3),
        (v1(&read(&[2, 2]), b"abc"), 4, 3),
        (v1(&read(&[]), b"a"), 0, 1),
        // Lengths whose sum overflows are refused, not wrapped.
        (v1(&read(&[u64::MAX, u64::MAX, 3]), b"abc"), u64::MAX, 3),
        (v1(&read(&[u64::MAX - 1, 4]), b"abc"), u64::MAX, 3),
    ];
    for (frame, declared, available) in cases {
        assert_eq!(
            decode_binary_frame(&frame),
            Err(BinaryFrameError::PayloadLength {
                declared,
                available
            })
        );
    }
}

#[test]
fn errors_say_what_is_wrong() {
    assert_eq!(
        [
            BinaryFrameError::TruncatedPrefix { length: 2 }.to_string(),
            BinaryFrameError::UnsupportedVersion { version: 2 }.to_string(),
            BinaryFrameError::HeaderTooLong {
                declared: 9,
                available: 3
            }
            .to_string(),
            BinaryFrameError::PayloadLength {
                declared: 5,
                available: 4
            }
            .to_string(),
        ],
        [
            "binary frame of 2 bytes is shorter than its 5-byte prefix (version, header length)",
            "binary frame version 2 is not supported (this side reads version 1)",
            "binary frame header length 9 is more than the 3 bytes that follow the prefix",
            "binary frame chunk lengths add up to 5 bytes, but 4 bytes follow the header",
        ]
    );
}
