use pretty_assertions::assert_eq;
use serde_json::json;

use super::PtySize;
use super::ResizeParams;
use super::ResizeResponse;
use crate::protocol::ByteChunk;
use crate::protocol::StartParams;
use crate::protocol::WriteParams;

/// `document` parses into `value`, and `value` serializes back to `document`.
fn round_trip<T>(document: serde_json::Value, value: T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let parsed: T = serde_json::from_value(document.clone()).expect("parse");
    assert_eq!(parsed, value);
    assert_eq!(serde_json::to_value(&value).expect("serialize"), document);
}

#[test]
fn close_stdin_is_left_out_when_false_and_defaults_to_false() {
    round_trip(
        json!({"processId": "p", "chunk": "aGk=", "writeId": "w1", "closeStdin": true}),
        WriteParams {
            process_id: "p".to_string(),
            chunk: ByteChunk::from(b"hi".as_slice()),
            write_id: Some("w1".to_string()),
            close_stdin: true,
        },
    );
    round_trip(
        json!({"processId": "p", "chunk": ""}),
        WriteParams {
            process_id: "p".to_string(),
            chunk: ByteChunk::default(),
            write_id: None,
            close_stdin: false,
        },
    );
}

#[test]
fn pty_size_and_resize_round_trip_in_camel_case() {
    let start = json!({
        "processId": "p", "argv": ["true"], "cwd": "/", "env": {}, "tty": true,
        "pipeStdin": false, "ptySize": {"rows": 30, "cols": 100},
    });
    let parsed: StartParams = serde_json::from_value(start.clone()).expect("parse");
    assert_eq!(
        (
            parsed.pty_size,
            serde_json::to_value(&parsed).expect("serialize")
        ),
        (
            Some(PtySize {
                rows: 30,
                cols: 100
            }),
            start
        )
    );
    round_trip(
        json!({"processId": "p", "rows": 40, "cols": 120}),
        ResizeParams {
            process_id: "p".to_string(),
            rows: 40,
            cols: 120,
        },
    );
    round_trip(json!({}), ResizeResponse {});
}

/// What cannot be a 16-bit dimension is refused when parsed, with a message naming the
/// field and the bounds; 0 and sizes above the bound parse, and `validate` (which every
/// backend calls) refuses them with the same wording.
#[test]
fn dimensions_are_refused_naming_the_field_and_the_bounds() {
    let parse = |rows: serde_json::Value| {
        serde_json::from_value::<ResizeParams>(json!({"processId": "p", "rows": rows, "cols": 80}))
            .map_err(|err| err.to_string())
    };
    let refused: Vec<String> = [
        json!("24"),
        json!(-1),
        json!(1.5),
        json!(70000),
        json!(null),
    ]
    .into_iter()
    .map(|rows| parse(rows).expect_err("refused"))
    .collect();
    let validated: Vec<Result<(), String>> = [0, 1, 4096, 4097]
        .into_iter()
        .map(|rows| parse(json!(rows)).expect("parses").validate())
        .collect();
    let start_size = PtySize { rows: 24, cols: 0 }.validate();
    let unknown = serde_json::from_value::<ResizeParams>(
        json!({"processId": "p", "rows": 1, "cols": 1, "pixels": 1}),
    )
    .map_err(|err| err.to_string());

    let bound =
        |name: &str, got: &str| format!("`{name}` must be an integer from 1 to 4096, got {got}");
    assert_eq!(
        (refused, validated, start_size, unknown.is_err()),
        (
            vec![
                bound("rows", "\"24\""),
                bound("rows", "-1"),
                bound("rows", "1.5"),
                bound("rows", "70000"),
                bound("rows", "null"),
            ],
            vec![
                Err(bound("rows", "0")),
                Ok(()),
                Ok(()),
                Err(bound("rows", "4097"))
            ],
            Err(bound("ptySize.cols", "0")),
            true,
        )
    );
}
