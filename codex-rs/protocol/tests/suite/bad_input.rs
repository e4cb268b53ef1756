//! Input the protocol must refuse, with a message that names the problem.
use codex_protocol::SandboxPolicy;
use pretty_assertions::assert_eq;

/// The error message for `text`, which must not parse.
fn parse_error(text: &str) -> String {
    match serde_json::from_str::<SandboxPolicy>(text) {
        Ok(policy) => panic!("expected an error, parsed {policy:?}"),
        Err(err) => err.to_string(),
    }
}

/// A complete, valid `workspaceWrite` document with `field` replaced by `value`
/// (or removed when `value` is `None`).
fn workspace_write_with(field: &str, value: Option<serde_json::Value>) -> String {
    let mut doc = serde_json::json!({
        "type": "workspaceWrite",
        "writableRoots": ["/work/extra"],
        "readOnlyAccess": {"type": "fullAccess"},
        "networkAccess": false,
        "excludeTmpdirEnvVar": false,
        "excludeSlashTmp": false
    });
    let object = doc.as_object_mut().expect("object literal");
    match value {
        Some(value) => object.insert(field.to_string(), value),
        None => object.remove(field),
    };
    doc.to_string()
}

#[test]
fn the_valid_base_document_parses() {
    // Guards the tests below: they must fail for the change they make, not for the base.
    let text = workspace_write_with("networkAccess", Some(serde_json::json!(true)));
    serde_json::from_str::<SandboxPolicy>(&text).expect("valid base document");
}

#[test]
fn unknown_type_is_named() {
    let message = parse_error(r#"{"type": "fullDiskAccess"}"#);
    assert!(
        message.starts_with("unknown variant `fullDiskAccess`, expected one of"),
        "{message}"
    );
}

#[test]
fn missing_type_is_named() {
    let message = parse_error(r#"{"access": {"type": "fullAccess"}}"#);
    assert!(message.starts_with("missing field `type`"), "{message}");
}

#[test]
fn unknown_field_is_refused_on_every_variant() {
    let messages = [
        parse_error(r#"{"type": "dangerFullAccess", "sandbox": "none"}"#),
        parse_error(r#"{"type": "readOnly", "access": {"type": "fullAccess"}, "sandbox": 1}"#),
        parse_error(&workspace_write_with("sandbox", Some(serde_json::json!(1)))),
        parse_error(r#"{"type": "externalSandbox", "networkAccess": "enabled", "sandbox": 1}"#),
        parse_error(r#"{"type": "readOnly", "access": {"type": "fullAccess", "sandbox": 1}}"#),
        parse_error(
            r#"{"type": "readOnly", "access": {"type": "restricted",
                "includePlatformDefaults": true, "readableRoots": [], "sandbox": 1}}"#,
        ),
    ];
    for message in &messages {
        assert!(message.contains("unknown field `sandbox`"), "{message}");
    }
}

#[test]
fn snake_case_field_is_an_unknown_field() {
    let message = parse_error(&workspace_write_with(
        "network_access",
        Some(serde_json::json!(true)),
    ));
    assert!(
        message.contains("unknown field `network_access`"),
        "{message}"
    );
}

#[test]
fn every_missing_workspace_write_field_is_named() {
    let fields = [
        "writableRoots",
        "readOnlyAccess",
        "networkAccess",
        "excludeTmpdirEnvVar",
        "excludeSlashTmp",
    ];
    for field in fields {
        let message = parse_error(&workspace_write_with(field, /*value*/ None));
        assert!(
            message.contains(&format!("missing field `{field}`")),
            "{field}: {message}"
        );
    }
}

#[test]
fn missing_nested_fields_are_named() {
    // serde_json appends the position (" at line 1 column N"); compare the message part.
    let strip_position = |message: String| match message.split_once(" at line ") {
        Some((head, _)) => head.to_string(),
        None => message,
    };
    assert_eq!(
        [
            parse_error(r#"{"type": "readOnly"}"#),
            parse_error(r#"{"type": "externalSandbox"}"#),
            parse_error(
                r#"{"type": "readOnly", "access": {"type": "restricted", "readableRoots": []}}"#
            ),
            parse_error(
                r#"{"type": "readOnly", "access": {"type": "restricted", "includePlatformDefaults": true}}"#
            ),
        ]
        .map(strip_position),
        [
            "missing field `access`".to_string(),
            "missing field `networkAccess`".to_string(),
            "missing field `includePlatformDefaults`".to_string(),
            "missing field `readableRoots`".to_string(),
        ]
    );
}

#[test]
fn relative_path_is_refused_with_the_path_named() {
    let message = parse_error(&workspace_write_with(
        "writableRoots",
        Some(serde_json::json!(["/ok", "src/relative"])),
    ));
    assert!(
        message.contains("path `src/relative` is not absolute"),
        "{message}"
    );
    let message = parse_error(
        r#"{"type": "readOnly", "access": {"type": "restricted",
            "includePlatformDefaults": false, "readableRoots": ["./here"]}}"#,
    );
    assert!(
        message.contains("path `./here` is not absolute"),
        "{message}"
    );
}

#[test]
fn wrong_types_are_named() {
    let bool_as_string = parse_error(&workspace_write_with(
        "networkAccess",
        Some(serde_json::json!("yes")),
    ));
    let roots_as_string = parse_error(&workspace_write_with(
        "writableRoots",
        Some(serde_json::json!("/work")),
    ));
    let network_as_bool = parse_error(r#"{"type": "externalSandbox", "networkAccess": true}"#);
    let not_an_object = parse_error(r#""dangerFullAccess""#);
    for (message, wanted) in [
        (
            &bool_as_string,
            "invalid type: string \"yes\", expected a boolean",
        ),
        (
            &roots_as_string,
            "invalid type: string \"/work\", expected a sequence",
        ),
        (&network_as_bool, "invalid type: boolean `true`"),
        (&not_an_object, "invalid type: string \"dangerFullAccess\""),
    ] {
        assert!(message.contains(wanted), "wanted {wanted:?} in {message:?}");
    }
}

#[test]
fn unknown_network_access_value_is_named() {
    let message = parse_error(r#"{"type": "externalSandbox", "networkAccess": "proxied"}"#);
    assert!(
        message.starts_with("unknown variant `proxied`, expected `restricted` or `enabled`"),
        "{message}"
    );
}
