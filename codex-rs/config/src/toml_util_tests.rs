use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use toml::Value;

use super::*;

#[test]
fn line_col_counts_lines_and_chars() {
    let text = "a = 1\nbé = 2\n";
    assert_eq!(line_col(text, 0), (1, 1));
    assert_eq!(line_col(text, 6), (2, 1));
    // `=` after the two-character key `bé` (3 bytes).
    assert_eq!(line_col(text, 10), (2, 4));
}

#[test]
fn override_with_dotted_key_and_toml_value() {
    let parsed = parse_override("sandbox_workspace_write.network_access=true").unwrap();
    assert_eq!(
        parsed.path,
        vec![
            "sandbox_workspace_write".to_string(),
            "network_access".to_string()
        ]
    );
    assert_eq!(parsed.value, Value::Boolean(true));
}

#[test]
fn override_with_quoted_key_segment() {
    let parsed = parse_override(r#"projects."/a.b".trust_level="trusted""#).unwrap();
    assert_eq!(
        parsed.path,
        vec![
            "projects".to_string(),
            "/a.b".to_string(),
            "trust_level".to_string()
        ]
    );
    assert_eq!(parsed.value, Value::String("trusted".to_string()));
}

#[test]
fn override_value_that_is_not_toml_is_a_string() {
    let parsed = parse_override("sandbox_mode=read-only").unwrap();
    assert_eq!(parsed.value, Value::String("read-only".to_string()));
}

#[test]
fn override_without_equals_is_refused() {
    assert_eq!(
        parse_override("sandbox_mode"),
        Err("expected key=value".to_string())
    );
    assert_eq!(parse_override("=1"), Err("the key is empty".to_string()));
}

#[test]
fn merge_replaces_leaves_and_arrays_and_tracks_sources() {
    let mut base: Table = toml::from_str("a = [1, 2]\n[t]\nx = 1\ny = 2\n").unwrap();
    let upper: Table = toml::from_str("a = [3]\n[t]\ny = 5\n").unwrap();
    let mut sources = BTreeMap::new();
    merge(&mut Table::new(), &base.clone(), &"low", &mut sources);
    merge(&mut base, &upper, &"high", &mut sources);
    let expected: Table = toml::from_str("a = [3]\n[t]\nx = 1\ny = 5\n").unwrap();
    assert_eq!(base, expected);
    let expected_sources = BTreeMap::from([
        ("a".to_string(), "high"),
        ("t.x".to_string(), "low"),
        ("t.y".to_string(), "high"),
    ]);
    assert_eq!(sources, expected_sources);
}

#[test]
fn dotted_quotes_non_bare_segments() {
    assert_eq!(
        dotted(&["projects".to_string(), "/x/y".to_string()]),
        r#"projects."/x/y""#
    );
}
