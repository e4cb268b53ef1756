//! `outputMode: "pace"` (the default): output is never dropped while its session exists.
//! A process whose client does not keep up is paused (it blocks on a full pipe) and goes
//! on when the client catches up, attached or after a resume; other sessions are not
//! slowed, and the server's memory stays bounded.

use std::time::Duration;

use codex_exec_server::ClientConfig;
use codex_exec_server::ExecServerClient;
use codex_exec_server::protocol::ProcessEvent;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

use super::harness::EVENT_TIMEOUT;
use super::harness::FLOOD_BYTES;
use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::cwd;
use super::harness::flood;
use super::harness::next_event;
use super::harness::pid_alive;
use super::harness::pid_of;
use super::harness::start_params;
use super::harness::typed_start;
use super::harness::unb64;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap()
}

/// Takes the session over on a new connection and reads `process_id` from the start with
/// `process/read`: every byte, or the test fails on a gap.
async fn resume_and_read_all(url: &str, session: &str, process_id: &str) -> (usize, Value) {
    let mut reader = RawClient::connect(url).await;
    reader
        .ok(
            "initialize",
            json!({"clientName": "reader", "resumeSessionId": session,
                   "outputNotifications": false}),
        )
        .await;
    let mut after = 0u64;
    let mut bytes = 0usize;
    loop {
        let read = reader
            .ok(
                "process/read",
                json!({"processId": process_id, "afterSeq": after, "waitMs": 2000}),
            )
            .await;
        assert_eq!(read.get("gap"), None, "nothing may be dropped");
        for chunk in read["chunks"].as_array().unwrap() {
            bytes += unb64(&chunk["chunk"]).len();
        }
        after = read["nextSeq"].as_u64().unwrap() - 1;
        if read["closed"] == json!(true) {
            return (bytes, read);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_pauses_its_process_and_loses_nothing() {
    let server = TestServer::start();
    let dir = cwd();
    // This client starts the flood and then never reads its socket again.
    let (mut stalled, session) = RawClient::initialized(&server.url).await;
    stalled
        .ok("process/start", flood("flood", dir.path()))
        .await;
    let pid = pid_of(dir.path(), "flood").await;

    // The flood is paused, not killed: alive, not finished, and the server holds about
    // its retention window (16 MiB) of it, not the 64 MiB.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(pid_alive(pid), "the paused process is alive");
    assert!(!dir.path().join("finished").exists(), "the flood is paused");
    let rss = rss_kib(server.pid());
    assert!(
        rss < 48 * 1024,
        "server RSS {rss} KiB while a 64 MiB flood waits"
    );

    // Another session streams at full speed meanwhile.
    let (mut other, _) = RawClient::initialized_reader(&server.url).await;
    other
        .ok(
            "process/start",
            start_params("other", "head -c 33554432 /dev/zero", dir.path()),
        )
        .await;
    let (output, last) = tokio::time::timeout(EVENT_TIMEOUT, other.read_all("other"))
        .await
        .expect("the other session is not slowed");
    assert_eq!(
        (output.len(), last["exitCode"].clone()),
        (32 << 20, json!(0))
    );
    assert!(
        pid_alive(pid) && !dir.path().join("finished").exists(),
        "still paused"
    );

    // The stalled client goes away; a new connection resumes and gets every byte.
    drop(stalled);
    let (bytes, last) = resume_and_read_all(&server.url, &session, "flood").await;
    assert_eq!((bytes, last["exitCode"].clone()), (FLOOD_BYTES, json!(0)));
    assert!(dir.path().join("finished").exists());
}

/// Detached while its process fills the window: the process waits for the resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_session_resumes_after_its_process_filled_the_window() {
    let server = TestServer::start();
    let dir = cwd();
    let (mut client, session) = RawClient::initialized(&server.url).await;
    client.ok("process/start", flood("flood", dir.path())).await;
    let pid = pid_of(dir.path(), "flood").await;
    client.close().await;

    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(pid_alive(pid) && !dir.path().join("finished").exists());

    let (bytes, last) = resume_and_read_all(&server.url, &session, "flood").await;
    assert_eq!((bytes, last["exitCode"].clone()), (FLOOD_BYTES, json!(0)));
}

/// The Rust client taking notifications only: every byte arrives, with no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_alone_deliver_every_byte() {
    let server = TestServer::start();
    let dir = cwd();
    let client = ExecServerClient::connect(ClientConfig::new(server.url.clone()))
        .await
        .unwrap();
    let (_, mut events) = client
        .start_streaming(typed_start(
            "flood",
            &["/bin/sh", "-c", &format!("head -c {FLOOD_BYTES} /dev/zero")],
            dir.path(),
        ))
        .await
        .unwrap();
    let mut bytes = 0usize;
    let mut next_seq = 1u64;
    loop {
        let event = next_event(&mut events).await;
        match event {
            ProcessEvent::Output(output) => {
                assert_eq!(output.seq, next_seq, "no seq is skipped");
                next_seq += 1;
                bytes += output.chunk.as_bytes().len();
            }
            ProcessEvent::Gap { .. } => panic!("a gap in pace mode: {event:?}"),
            ProcessEvent::Exited(exited) => {
                assert_eq!(exited.seq, next_seq);
                next_seq += 1;
            }
            ProcessEvent::Closed(_) => break,
        }
    }
    assert_eq!(bytes, FLOOD_BYTES);
}

#[tokio::test]
async fn an_unknown_output_mode_is_invalid_params_naming_the_choices() {
    let server = TestServer::start();
    let dir = cwd();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let mut params = start_params("p", "true", dir.path());
    params["outputMode"] = json!("buffer");

    let response = client.request("process/start", params).await;

    assert_eq!(response["error"]["code"], json!(-32602), "{response}");
    let message = response["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("buffer") && message.contains("pace") && message.contains("drop"),
        "{message}"
    );
}
