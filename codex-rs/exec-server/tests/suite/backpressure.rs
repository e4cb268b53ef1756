//! A client that sends requests but never reads the answers.
//!
//! The server must not queue answers without bound: once
//! `codex_exec_server::MAX_UNWRITTEN_RESPONSES` of one connection's answers are unwritten
//! it stops reading that connection, so TCP pushes back on the sender. Other clients keep
//! being served, and when the greedy client finally reads, every answer is there once.

use std::collections::BTreeSet;
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

use super::harness::RawClient;
use super::harness::TestServer;

/// A send that makes no progress for this long means the server stopped reading.
const PUSHBACK_TIMEOUT: Duration = Duration::from_secs(2);
/// Without backpressure the loop would reach this many 16 KiB frames (256 MiB queued).
const MAX_FRAMES: u64 = 16_384;

fn request_id(value: &Value) -> u64 {
    let id = value["id"].as_str().expect("string id");
    id.split('-')
        .next()
        .expect("prefix")
        .parse()
        .expect("number")
}

#[tokio::test]
async fn client_that_never_reads_is_pushed_back_and_loses_no_answer() {
    let server = TestServer::start();
    let (mut greedy, _) = RawClient::initialized(&server.url).await;
    // Each id is 16 KiB and comes back in the (error) answer, so buffers fill fast.
    let pad = "x".repeat(16 * 1024);
    let mut sent = 0u64;
    loop {
        let frame = json!({
            "jsonrpc": "2.0",
            "id": format!("{sent}-{pad}"),
            "method": "process/read",
            "params": {"processId": "nope"},
        })
        .to_string();
        match tokio::time::timeout(PUSHBACK_TIMEOUT, greedy.try_send_text(frame)).await {
            Ok(result) => {
                result.expect("send");
                sent += 1;
            }
            // The frame may be partly written; it completes once the server reads again.
            Err(_) => break,
        }
        assert!(
            sent < MAX_FRAMES,
            "the server kept reading after {sent} unread answers: no backpressure"
        );
    }

    // Another client is served meanwhile.
    let (mut other, _) = RawClient::initialized(&server.url).await;
    let answer = other
        .request("process/read", json!({"processId": "other"}))
        .await;
    assert_eq!(answer["error"]["data"]["kind"], json!("unknownProcess"));

    // The greedy client reads at last: every answer arrives exactly once. The frame that
    // was in flight when the server stopped reading (number `sent`) may be answered too.
    let mut seen = BTreeSet::new();
    while !(0..sent).all(|id| seen.contains(&id)) {
        let answer = greedy.recv().await;
        assert_eq!(answer["error"]["data"]["kind"], json!("unknownProcess"));
        let id = request_id(&answer);
        assert!(id <= sent, "answer to a request never sent: {id}");
        assert!(seen.insert(id), "answered twice: {id}");
    }
    // And the connection still works.
    greedy
        .send_text(
            json!({"jsonrpc": "2.0", "id": "last", "method": "process/read",
                   "params": {"processId": "still-here"}})
            .to_string(),
        )
        .await;
    loop {
        let answer = greedy.recv().await;
        if answer["id"] == json!("last") {
            assert_eq!(answer["error"]["data"]["kind"], json!("unknownProcess"));
            break;
        }
        assert_eq!(
            request_id(&answer),
            sent,
            "only the in-flight frame may still be answered"
        );
        assert!(seen.insert(sent), "answered twice: {sent}");
    }
}
