use codex_utils_absolute_path::AbsolutePathBuf;
use pretty_assertions::assert_eq;

#[test]
fn deserializes_and_normalizes_absolute_paths() {
    let paths: Vec<AbsolutePathBuf> =
        serde_json::from_str(r#"["/tmp/./x", "/srv/a/../b"]"#).expect("valid paths");
    assert_eq!(
        serde_json::to_value(&paths).expect("serialize"),
        serde_json::json!(["/tmp/x", "/srv/b"])
    );
}

#[test]
fn relative_path_in_json_is_a_clear_error() {
    let err = serde_json::from_str::<AbsolutePathBuf>(r#""relative/dir""#)
        .expect_err("relative must be refused");
    assert_eq!(
        err.to_string(),
        "path `relative/dir` is not absolute; give a full path starting at the root"
    );
}
