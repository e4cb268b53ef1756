//! `fs/*` never reaches the server's own `/proc` entries or its token file, under a
//! full-access policy or none: they hold its environment (and so its token), its memory
//! and its descriptors. Other `/proc` files stay readable.
#![cfg(target_os = "linux")]

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::b64;

/// `Ok(bytes)` or `Err((code, kind))` of one request.
fn outcome(response: &Value) -> Result<(), (i64, String)> {
    match response.get("error") {
        None => Ok(()),
        Some(error) => Err((
            error["code"].as_i64().unwrap_or_default(),
            error["data"]["kind"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )),
    }
}

/// A thread of `pid` other than its main thread.
fn other_thread(pid: u32) -> u32 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|tid| *tid != pid)
        .expect("the server runs more than one thread")
}

#[tokio::test]
async fn the_servers_own_proc_entries_and_token_file_are_refused_under_any_policy() {
    let secrets = tempfile::tempdir().unwrap();
    let secrets_dir = std::fs::canonicalize(secrets.path()).unwrap();
    let token_file = secrets_dir.join("token");
    std::fs::write(&token_file, "file-secret\n").unwrap();
    let server = TestServer::start_with(&["--auth-token-file", token_file.to_str().unwrap()], &[]);
    let (mut client, _) =
        RawClient::initialized(&format!("{}/?token=file-secret", server.url)).await;
    let pid = server.pid();
    let tid = other_thread(pid);
    let root = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(root.path()).unwrap();
    std::os::unix::fs::symlink("/proc/self", root.join("me")).unwrap();
    let copy_target = root.join("copied");

    let denied = (-32008, "sandboxDenied".to_string());
    for policy in [json!({"type": "dangerFullAccess"}), Value::Null] {
        let with_policy = |mut params: Value| {
            if !policy.is_null() {
                params["sandboxPolicy"] = policy.clone();
            }
            params
        };
        let requests = [
            ("fs/readFile", json!({"path": "/proc/self/environ"})),
            (
                "fs/readFile",
                json!({"path": format!("/proc/{pid}/environ")}),
            ),
            ("fs/readFile", json!({"path": "/proc/thread-self/environ"})),
            (
                "fs/readFile",
                json!({"path": format!("/proc/{tid}/environ")}),
            ),
            ("fs/readFile", json!({"path": root.join("me/environ")})),
            ("fs/readFile", json!({"path": token_file})),
            ("fs/readDirectory", json!({"path": "/proc/self/fd"})),
            ("fs/getMetadata", json!({"path": format!("/proc/{pid}")})),
            (
                "fs/writeFile",
                json!({"path": "/proc/self/comm", "dataBase64": b64(b"pwned")}),
            ),
            (
                "fs/copy",
                json!({"sourcePath": "/proc/self/environ", "destinationPath": copy_target}),
            ),
            (
                "fs/copy",
                json!({"sourcePath": secrets_dir, "destinationPath": copy_target,
                       "recursive": true}),
            ),
            (
                "fs/remove",
                json!({"path": secrets_dir, "recursive": true, "force": false}),
            ),
        ];
        let mut outcomes = Vec::new();
        for (method, params) in requests {
            let response = client.request(method, with_policy(params.clone())).await;
            if let Some(message) = response["error"]["message"].as_str() {
                assert!(!message.contains("file-secret"), "{message}");
            }
            outcomes.push((method, params, outcome(&response)));
        }
        let cpuinfo = client
            .request("fs/readFile", with_policy(json!({"path": "/proc/cpuinfo"})))
            .await;

        assert_eq!(
            outcomes
                .iter()
                .filter(|(_, _, outcome)| *outcome != Err(denied.clone()))
                .collect::<Vec<_>>(),
            Vec::<&(&str, Value, Result<(), (i64, String)>)>::new(),
            "policy {policy}"
        );
        assert_eq!(outcome(&cpuinfo), Ok(()), "policy {policy}");
    }
    assert_eq!(
        (
            std::fs::read_to_string(&token_file).unwrap(),
            copy_target.exists()
        ),
        ("file-secret\n".to_string(), false)
    );
}
