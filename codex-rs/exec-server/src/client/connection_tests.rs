use pretty_assertions::assert_eq;

use super::plain_result;

/// The result of `text` as `plain_result` finds it.
fn found(text: &str) -> Option<(u64, &str)> {
    plain_result(text).map(|(id, range)| (id, &text[range]))
}

#[test]
fn plain_result_finds_the_result_of_the_servers_replies() {
    assert_eq!(
        found(r#"{"jsonrpc":"2.0","id":7,"result":{"chunks":[],"nextSeq":1}}"#),
        Some((7, r#"{"chunks":[],"nextSeq":1}"#))
    );
    assert_eq!(
        found(r#"{"jsonrpc":"2.0","id":0,"result":{}}"#),
        Some((0, "{}"))
    );
    assert_eq!(
        found(r#"{"jsonrpc":"2.0","id":18446744073709551615,"result":"}"}"#),
        Some((u64::MAX, r#""}""#))
    );
}

/// Any other form takes the general path, which reads every member.
#[test]
fn plain_result_leaves_other_forms_to_the_envelope() {
    for text in [
        r#"{"id":7,"jsonrpc":"2.0","result":{}}"#,
        r#"{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"no"}}"#,
        r#"{"jsonrpc":"2.0","id":"7","result":{}}"#,
        r#"{"jsonrpc":"2.0","id":07,"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":,"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":18446744073709551616,"result":{}}"#,
        r#"{"jsonrpc":"2.0","id":7,"result":{}} "#,
        r#"{"jsonrpc":"2.0","id":7.5,"result":{}}"#,
        r#"{"jsonrpc":"2.0","method":"process/exited","params":{}}"#,
    ] {
        assert_eq!(found(text), None, "{text}");
    }
}

/// A frame of that form that is not just a result (more members after it, or cut short)
/// hands its caller text that is not one JSON value: it fails to parse rather than being
/// read as a result.
#[test]
fn a_plain_result_that_is_not_one_value_does_not_parse() {
    for text in [
        r#"{"jsonrpc":"2.0","id":7,"result":{},"error":{"code":1,"message":"x"}}"#,
        r#"{"jsonrpc":"2.0","id":7,"result":{"a":1},"id":8}"#,
        r#"{"jsonrpc":"2.0","id":7,"result":{}"#,
    ] {
        let (_, result) = found(text).unwrap();
        assert!(
            serde_json::from_str::<serde_json::Value>(result).is_err(),
            "{text}"
        );
    }
}
