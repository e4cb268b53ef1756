//! `fs/*` on the wire: exact error codes and kinds for hostile input, and the server keeps
//! serving after each (every test ends with a request that must succeed).

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::b64;
use super::harness::unb64;

/// `(code, data.kind, message)` of an error response.
fn error_of(response: &Value) -> (i64, Option<String>, String) {
    let error = &response["error"];
    assert!(error.is_object(), "expected an error: {response}");
    (
        error["code"].as_i64().expect("code"),
        error["data"]["kind"].as_str().map(str::to_string),
        error["message"].as_str().expect("message").to_string(),
    )
}

/// Code, kind, and whether the message mentions what it should.
type Expected = (i64, Option<String>, bool);

/// Code and kind, and whether the message contains `needle`.
fn error_mentions(response: &Value, needle: &str) -> Expected {
    let (code, kind, message) = error_of(response);
    (code, kind, message.contains(needle))
}

async fn still_serving(client: &mut RawClient, dir: &std::path::Path) {
    let path = dir.join("alive.txt");
    client
        .ok(
            "fs/writeFile",
            json!({"path": path, "dataBase64": b64(b"alive")}),
        )
        .await;
    let result = client.ok("fs/readFile", json!({"path": path})).await;
    assert_eq!(unb64(&result["dataBase64"]), b"alive".to_vec());
}

#[tokio::test]
async fn hostile_fs_requests_get_precise_errors() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = tempfile::tempdir().unwrap();
    let dir_path = std::fs::canonicalize(dir.path()).unwrap();

    let cases: Vec<(&str, Value, Expected)> = vec![
        (
            "fs/readFile",
            json!({"path": "relative/file"}),
            (-32602, None, true),
        ),
        (
            "fs/writeFile",
            json!({"path": dir_path.join("no/parent/f"), "dataBase64": b64(b"x")}),
            (-32009, Some("notFound".to_string()), true),
        ),
        (
            "fs/writeFile",
            json!({"path": dir_path.join("f"), "dataBase64": "not base64!"}),
            (-32602, None, true),
        ),
        (
            "fs/readFile",
            json!({"path": dir_path.join("f"), "sandboxPolicy": {"type": "yolo"}}),
            (-32602, None, true),
        ),
        (
            "fs/readFile",
            json!({"path": dir_path.join("f"), "sandboxPolicy": {
                "type": "workspaceWrite", "writableRoots": [],
                "readOnlyAccess": {"type": "fullAccess"},
                "excludeTmpdirEnvVar": true, "excludeSlashTmp": true,
            }}),
            (-32602, None, true),
        ),
        (
            "fs/readFile",
            json!({"path": dir_path.join("f"), "mode": "lenient"}),
            (-32602, None, true),
        ),
        (
            "fs/writeFile",
            json!({"path": dir_path.join("denied"), "dataBase64": b64(b"x"),
                   "sandboxPolicy": {"type": "readOnly", "access": {"type": "fullAccess"}}}),
            (-32008, Some("sandboxDenied".to_string()), true),
        ),
        ("fs/readFile", json!({}), (-32602, None, true)),
    ];
    let needles = [
        "is not absolute",
        "does not exist",
        "invalid base64",
        "unknown variant `yolo`",
        "missing field `networkAccess`",
        "unknown field `mode`",
        "the policy is `readOnly`",
        "missing field `path`",
    ];
    for ((method, params, expected), needle) in cases.into_iter().zip(needles) {
        let response = client.request(method, params.clone()).await;
        assert_eq!(
            error_mentions(&response, needle),
            expected,
            "{method} {params}: {response}"
        );
    }
    // Nothing was written by any of them.
    assert_eq!(std::fs::read_dir(&dir_path).unwrap().count(), 0);

    // JSON cannot carry a non-UTF-8 path: a lone surrogate escape is not valid JSON text
    // for serde_json, so the frame is a parse error (-32700, id null), not a request.
    client
        .send_text(
            r#"{"jsonrpc":"2.0","id":99,"method":"fs/readFile","params":{"path":"/tmp/\udc80"}}"#
                .to_string(),
        )
        .await;
    let response = client.recv().await;
    assert_eq!(
        (error_of(&response).0, &response["id"]),
        (-32700, &Value::Null),
        "{response}"
    );

    still_serving(&mut client, &dir_path).await;
}

#[tokio::test]
async fn fs_results_have_the_documented_shape() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = tempfile::tempdir().unwrap();
    let dir_path = std::fs::canonicalize(dir.path()).unwrap();
    let policy = json!({
        "type": "workspaceWrite", "writableRoots": [dir_path],
        "readOnlyAccess": {"type": "restricted", "includePlatformDefaults": false, "readableRoots": []},
        "networkAccess": false, "excludeTmpdirEnvVar": true, "excludeSlashTmp": true,
    });
    let file = dir_path.join("d/f.txt");
    let results = vec![
        client
            .ok(
                "fs/createDirectory",
                json!({"path": dir_path.join("d"), "sandboxPolicy": policy}),
            )
            .await,
        client
            .ok(
                "fs/writeFile",
                json!({"path": file, "dataBase64": b64(b"hello"), "sandboxPolicy": policy}),
            )
            .await,
        client
            .ok(
                "fs/readFile",
                json!({"path": file, "sandboxPolicy": policy}),
            )
            .await,
        client
            .ok(
                "fs/readDirectory",
                json!({"path": dir_path.join("d"), "sandboxPolicy": policy}),
            )
            .await,
        client
            .ok(
                "fs/copy",
                json!({"sourcePath": dir_path.join("d"), "destinationPath": dir_path.join("e"),
                       "recursive": true, "sandboxPolicy": policy}),
            )
            .await,
        client
            .ok(
                "fs/remove",
                json!({"path": dir_path.join("d"), "recursive": true, "force": false,
                       "sandboxPolicy": policy}),
            )
            .await,
    ];
    assert_eq!(
        results,
        vec![
            json!({}),
            json!({}),
            json!({"dataBase64": b64(b"hello")}),
            json!({"entries": [{"fileName": "f.txt", "isDirectory": false, "isFile": true}]}),
            json!({}),
            json!({}),
        ]
    );
    let mut metadata = client
        .ok(
            "fs/getMetadata",
            json!({"path": dir_path.join("e/f.txt"), "sandboxPolicy": policy}),
        )
        .await;
    let modified = metadata["modifiedAtMs"].take();
    let created = metadata["createdAtMs"].take();
    assert!(modified.as_i64().is_some_and(|ms| ms > 0), "{modified}");
    assert!(created.as_i64().is_some(), "{created}");
    assert_eq!(
        metadata,
        json!({"isDirectory": false, "isFile": true, "isSymlink": false, "size": 5,
               "createdAtMs": null, "modifiedAtMs": null})
    );
}
