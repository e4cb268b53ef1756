//! Hostile or broken input: each gets the documented error and the server keeps serving
//! (every test ends with a follow-up request that must succeed).

use std::io::Read;
use std::io::Write;

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;

use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::cwd;
use super::harness::start_params;

/// `(code, data.kind)` of an error response.
fn error_of(response: &Value) -> (i64, Option<String>) {
    let error = &response["error"];
    assert!(error.is_object(), "expected an error: {response}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error without message: {response}"
    );
    (
        error["code"].as_i64().unwrap(),
        error["data"]["kind"].as_str().map(str::to_string),
    )
}

/// The connection still works: a process runs to completion.
async fn still_serving(client: &mut RawClient, process_id: &str) {
    let dir = cwd();
    client
        .ok(
            "process/start",
            start_params(process_id, "echo alive", dir.path()),
        )
        .await;
    let (output, _) = client.read_all(process_id).await;
    assert_eq!(output, b"alive\n".to_vec());
}

#[tokio::test]
async fn malformed_frames_get_errors_and_the_connection_stays_open() {
    let server = TestServer::start();
    let mut client = RawClient::connect(&server.url).await;

    client.send_text("this is not json".to_string()).await;
    let response = client.recv().await;
    assert_eq!(error_of(&response), (-32700, None));
    assert_eq!(response["id"], Value::Null);
    assert_eq!(response["jsonrpc"], json!("2.0"));

    client
        .send_binary(b"{\"id\":1,\"method\":\"initialize\"}".to_vec())
        .await;
    assert_eq!(error_of(&client.recv().await), (-32600, None));

    client.send_text("[1, 2]".to_string()).await;
    assert_eq!(error_of(&client.recv().await), (-32600, None));

    client
        .send_text(json!({"id": 5, "method": 42}).to_string())
        .await;
    let response = client.recv().await;
    assert_eq!(
        (error_of(&response), &response["id"]),
        ((-32600, None), &json!(5))
    );

    client
        .send_text(json!({"jsonrpc": "1.0", "id": 6, "method": "initialize"}).to_string())
        .await;
    assert_eq!(error_of(&client.recv().await), (-32600, None));

    // Any request before initialize is an invalid request.
    let response = client
        .request("process/read", json!({"processId": "x"}))
        .await;
    assert_eq!(error_of(&response), (-32600, None));

    // Initialize with wrong types / unknown fields.
    let response = client.request("initialize", json!({"clientName": 3})).await;
    assert_eq!(error_of(&response), (-32602, None));
    let response = client
        .request("initialize", json!({"clientName": "t", "extra": true}))
        .await;
    assert_eq!(error_of(&response), (-32602, None));

    // Without "jsonrpc" is accepted; the reply always carries it.
    client
        .send_text(
            json!({"id": 9, "method": "initialize", "params": {"clientName": "t"}}).to_string(),
        )
        .await;
    let response = client.response(/*id*/ 9).await;
    assert!(response["result"]["sessionId"].is_string(), "{response}");
    assert_eq!(
        response["result"]["capabilities"],
        json!({"exec": true, "filesystem": true})
    );
    assert_eq!(response["jsonrpc"], json!("2.0"));
    client.notify("initialized", json!({})).await;

    let response = client
        .request("initialize", json!({"clientName": "t"}))
        .await;
    assert_eq!(error_of(&response), (-32600, None));
    let response = client.request("process/frobnicate", json!({})).await;
    assert_eq!(error_of(&response), (-32601, None));

    still_serving(&mut client, "after-malformed").await;
}

#[tokio::test]
async fn invalid_process_requests_are_refused() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();

    let mut params = start_params("p", "true", dir.path());
    params["argv"] = json!([]);
    assert_eq!(
        error_of(&client.request("process/start", params).await),
        (-32602, None)
    );

    let mut params = start_params("p", "true", dir.path());
    params["cwd"] = json!("relative/dir");
    assert_eq!(
        error_of(&client.request("process/start", params).await),
        (-32602, None)
    );

    let mut params = start_params("p", "true", dir.path());
    params["argv"] = json!("sh -c true");
    assert_eq!(
        error_of(&client.request("process/start", params).await),
        (-32602, None)
    );

    let mut params = start_params("p", "true", dir.path());
    params["readOnlyPaths"] = json!(["/"]);
    assert_eq!(
        error_of(&client.request("process/start", params).await),
        (-32602, None)
    );

    // A malformed sandbox policy is refused, never ignored.
    let mut params = start_params("p", "true", dir.path());
    params["sandboxPolicy"] = json!({"type": "readOnly"});
    assert_eq!(
        error_of(&client.request("process/start", params).await),
        (-32602, None)
    );

    let mut params = start_params("p", "true", dir.path());
    params["argv"] = json!(["/definitely/not/a/program"]);
    assert_eq!(
        error_of(&client.request("process/start", params).await),
        (-32003, Some("spawnFailed".to_string()))
    );

    for method in ["process/read", "process/terminate"] {
        assert_eq!(
            error_of(&client.request(method, json!({"processId": "ghost"})).await),
            (-32001, Some("unknownProcess".to_string())),
            "{method}"
        );
    }
    assert_eq!(
        error_of(
            &client
                .request(
                    "process/signal",
                    json!({"processId": "ghost", "signal": "kill"})
                )
                .await
        ),
        (-32001, Some("unknownProcess".to_string()))
    );
    assert_eq!(
        error_of(
            &client
                .request(
                    "process/signal",
                    json!({"processId": "ghost", "signal": "SIGFOO"})
                )
                .await
        ),
        (-32602, None)
    );

    client
        .ok("process/start", start_params("dup", "sleep 30", dir.path()))
        .await;
    assert_eq!(
        error_of(
            &client
                .request("process/start", start_params("dup", "true", dir.path()))
                .await
        ),
        (-32002, Some("duplicateProcess".to_string()))
    );
    client
        .ok("process/terminate", json!({"processId": "dup"}))
        .await;

    // Failed starts did not reserve their id.
    still_serving(&mut client, "p").await;
}

#[tokio::test]
async fn oversized_frame_closes_only_that_connection() {
    let server = TestServer::start();
    let (mut bystander, _) = RawClient::initialized(&server.url).await;
    let (mut big, _) = RawClient::initialized(&server.url).await;
    // 64 MiB text frame, over the 16 MiB limit.
    let huge = format!(
        "{{\"id\":1,\"method\":\"process/read\",\"params\":{{\"processId\":\"{}\"}}}}",
        "a".repeat(64 * 1024 * 1024)
    );
    let _ = tokio::time::timeout(super::harness::EVENT_TIMEOUT, big.try_send_text(huge)).await;
    // The server closes with 1009 (message too big), or resets if it closed while we were
    // still sending; either way this connection is done.
    let closed = tokio::time::timeout(super::harness::EVENT_TIMEOUT, async {
        loop {
            match big.next_raw().await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame))) => {
                    return frame.map(|f| u16::from(f.code));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    })
    .await
    .expect("connection closed in time");
    if let Some(code) = closed {
        assert_eq!(code, 1009);
    }
    still_serving(&mut bystander, "after-huge").await;
    let (mut fresh, _) = RawClient::initialized(&server.url).await;
    still_serving(&mut fresh, "fresh").await;
}

#[tokio::test]
async fn client_vanishing_mid_frame_does_not_hurt_the_server() {
    let server = TestServer::start();
    let (mut bystander, _) = RawClient::initialized(&server.url).await;
    {
        // Hand-rolled upgrade, then half a frame, then gone.
        let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            server.upgrade_target(),
            server.addr()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut buf = [0u8; 12];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 101");
        // Masked text frame header announcing 1000 bytes, followed by only 10.
        let mut frame = vec![0x81u8, 0x80 | 126, 0x03, 0xe8, 1, 2, 3, 4];
        frame.extend_from_slice(&[b'x'; 10]);
        stream.write_all(&frame).await.unwrap();
    }
    still_serving(&mut bystander, "after-vanish").await;
    let (mut fresh, _) = RawClient::initialized(&server.url).await;
    still_serving(&mut fresh, "fresh").await;
}

/// Plain blocking HTTP exchange; returns the status line.
fn http(addr: &str, request: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(super::harness::EVENT_TIMEOUT))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    // Read only the status line: after a 101 the server keeps the connection open.
    let mut response = Vec::new();
    let mut byte = [0u8; 1];
    while !response.ends_with(b"\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        response.push(byte[0]);
    }
    String::from_utf8_lossy(&response).trim_end().to_string()
}

fn upgrade_request(addr: &str, extra: &str) -> String {
    upgrade_request_to(addr, "/", extra)
}

fn upgrade_request_to(addr: &str, target: &str, extra: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

#[tokio::test]
async fn http_front_door() {
    let server = TestServer::start();
    let addr = server.addr();
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            http(&addr, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")),
            "HTTP/1.1 200 OK"
        );
    }
    assert_eq!(
        http(
            &addr,
            &upgrade_request(&addr, "Origin: https://evil.example\r\n")
        ),
        "HTTP/1.1 403 Forbidden"
    );
    // The spelling browsers used before RFC 6455, refused the same way, token or not.
    assert_eq!(
        http(
            &addr,
            &upgrade_request(&addr, "Sec-WebSocket-Origin: https://evil.example\r\n")
        ),
        "HTTP/1.1 403 Forbidden"
    );
    assert_eq!(
        http(
            &addr,
            &upgrade_request_to(
                &addr,
                &server.upgrade_target(),
                "Sec-WebSocket-Origin: https://evil.example\r\n"
            )
        ),
        "HTTP/1.1 403 Forbidden"
    );
    let (mut client, _) = RawClient::initialized(&server.url).await;
    still_serving(&mut client, "after-http").await;
}

#[tokio::test]
async fn token_is_required_when_configured() {
    let home = tempfile::tempdir().unwrap();
    let token_file = home.path().join("token");
    std::fs::write(&token_file, "s3cret-token\n").unwrap();
    let server = TestServer::start_with(&["--auth-token-file", token_file.to_str().unwrap()], &[]);
    let addr = server.addr();
    assert_eq!(
        http(&addr, &upgrade_request(&addr, "")),
        "HTTP/1.1 401 Unauthorized"
    );
    assert_eq!(
        http(
            &addr,
            &upgrade_request(&addr, "Authorization: Bearer wrong-token\r\n")
        ),
        "HTTP/1.1 401 Unauthorized"
    );
    assert_eq!(
        http(
            &addr,
            &upgrade_request(&addr, "Authorization: Bearer s3cret-token\r\n")
        )
        .split_whitespace()
        .nth(1),
        Some("101")
    );
    // The library client with the right token works end to end.
    let mut config = codex_exec_server::ClientConfig::new(server.url.clone());
    config.auth_token = Some("s3cret-token".to_string());
    let client = codex_exec_server::ExecServerClient::connect(config)
        .await
        .unwrap();
    assert_eq!(client.capabilities().exec, true);
    // And without it, a typed transport error.
    let result = codex_exec_server::ExecServerClient::connect(
        codex_exec_server::ClientConfig::new(server.url.clone()),
    )
    .await;
    assert!(
        matches!(&result, Err(codex_exec_server::ExecError::Transport(m)) if m.contains("401")),
        "{:?}",
        result.err()
    );
}

#[tokio::test]
async fn resume_with_unknown_session_is_refused() {
    let server = TestServer::start();
    let mut client = RawClient::connect(&server.url).await;
    let response = client
        .request(
            "initialize",
            json!({"clientName": "t", "resumeSessionId": "00000000-0000-4000-8000-000000000000"}),
        )
        .await;
    assert_eq!(
        error_of(&response),
        (-32005, Some("unknownSession".to_string()))
    );
    // The same connection can still start a fresh session.
    client.ok("initialize", json!({"clientName": "t"})).await;
    still_serving(&mut client, "after-unknown-session").await;
}

#[tokio::test]
async fn token_from_the_environment_is_required() {
    let server = TestServer::start_with(&[], &[("CODEX_EXEC_SERVER_TOKEN", "env-token")]);
    let addr = server.addr();
    assert_eq!(
        http(&addr, &upgrade_request(&addr, "")),
        "HTTP/1.1 401 Unauthorized"
    );
    let mut config = codex_exec_server::ClientConfig::new(server.url.clone());
    config.auth_token = Some("env-token".to_string());
    let client = codex_exec_server::ExecServerClient::connect(config)
        .await
        .unwrap();
    assert!(!client.session_id().is_empty());
}
