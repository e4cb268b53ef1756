//! Load: many concurrent processes, and a stalled client that must not slow others.

use std::time::Duration;

use codex_exec_server::ClientConfig;
use codex_exec_server::ExecServerClient;
use codex_exec_server::RemoteProcess;
use codex_exec_server::protocol::ReadParams;
use futures_util::future::join_all;
use pretty_assertions::assert_eq;
use serde_json::json;

use super::harness::EVENT_TIMEOUT;
use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::cwd;
use super::harness::drop_mode;
use super::harness::pid_alive;
use super::harness::read_until_closed;
use super::harness::start_params;
use super::harness::typed_start;
use super::harness::wait_until;

const CONCURRENT_PROCESSES: usize = 1000;
/// Generous: 1000 spawns on 2 cores take a few seconds.
const LOAD_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_processes() {
    let server = TestServer::start();
    let client = ExecServerClient::connect(ClientConfig::new(server.url.clone()))
        .await
        .unwrap();
    let dir = cwd();
    let run = async {
        let starts = (0..CONCURRENT_PROCESSES).map(|i| {
            client.start(typed_start(
                &format!("p{i}"),
                &["/bin/echo", &format!("hello {i}")],
                dir.path(),
            ))
        });
        for result in join_all(starts).await {
            result.unwrap();
        }
        let ids: Vec<String> = (0..CONCURRENT_PROCESSES).map(|i| format!("p{i}")).collect();
        let remote = RemoteProcess::new(client.clone());
        let reads = ids.iter().map(|id| read_until_closed(&remote, id));
        join_all(reads).await
    };
    let results = tokio::time::timeout(LOAD_TIMEOUT, run)
        .await
        .expect("1000 processes finished in time");
    for (i, (output, exit_code)) in results.into_iter().enumerate() {
        assert_eq!(
            (output, exit_code),
            (format!("hello {i}\n").into_bytes(), Some(0))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_of_a_drop_mode_process_blocks_nothing() {
    let server = TestServer::start();
    let dir = cwd();
    // The flooding client starts a process (`outputMode: "drop"`) that writes 256 MiB and
    // then never reads its socket again.
    let (mut flood, flood_session) = RawClient::initialized(&server.url).await;
    flood
        .ok(
            "process/start",
            drop_mode(start_params(
                "flood",
                "echo $$ > flood.pid; exec head -c 268435456 /dev/zero",
                dir.path(),
            )),
        )
        .await;
    let pid_file = dir.path().join("flood.pid");
    wait_until("flood pid file", EVENT_TIMEOUT, || {
        std::fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n'))
    })
    .await;
    let flood_pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    // Meanwhile another client completes round trips, each within seconds.
    let (mut fast, _) = RawClient::initialized(&server.url).await;
    for i in 0..20 {
        let round_trip = async {
            let id = format!("fast{i}");
            fast.ok("process/start", start_params(&id, "echo pong", dir.path()))
                .await;
            fast.read_all(&id).await
        };
        let (output, _) = tokio::time::timeout(EVENT_TIMEOUT, round_trip)
            .await
            .expect("round trip completed while the other client is stalled");
        assert_eq!(output, b"pong\n".to_vec());
    }
    // The flooding process itself is never blocked by its stalled client: it finishes.
    wait_until("flooding process finished", LOAD_TIMEOUT, || {
        !pid_alive(flood_pid)
    })
    .await;
    // Its output beyond the retention limit is reported as a gap, never lost silently:
    // take the session over and account for every byte.
    let mut reader = RawClient::connect(&server.url).await;
    reader
        .ok(
            "initialize",
            json!({"clientName": "reader", "resumeSessionId": flood_session}),
        )
        .await;
    let mut after = 0u64;
    let mut retained = 0u64;
    let mut dropped = 0u64;
    loop {
        let read = reader
            .ok(
                "process/read",
                json!({"processId": "flood", "afterSeq": after}),
            )
            .await;
        if let Some(gap) = read.get("gap") {
            assert_eq!(gap["fromSeq"], json!(after + 1));
            dropped += gap["droppedBytes"].as_u64().unwrap();
        }
        for chunk in read["chunks"].as_array().unwrap() {
            retained += super::harness::unb64(&chunk["chunk"]).len() as u64;
        }
        after = read["nextSeq"].as_u64().unwrap() - 1;
        if read["closed"] == json!(true)
            && read.get("gap").is_none()
            && read["chunks"].as_array().unwrap().is_empty()
        {
            break;
        }
    }
    assert_eq!(retained + dropped, 268_435_456);
    assert!(dropped > 0, "the flood exceeded the retention limit");
    drop(flood);
}

/// More long-polls than the server keeps unanswered on one connection: the client holds
/// the excess back (at most 512 in flight), so the server never stops reading, keeps
/// hearing pongs, and no poll is cut off by the client timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_long_polls_than_the_server_backlog_all_complete() {
    let server = TestServer::start_under(&["env"], &["--client-timeout", "1s"]);
    let client = ExecServerClient::connect(ClientConfig::new(server.url.clone()))
        .await
        .unwrap();
    let dir = cwd();
    client
        .start(typed_start("quiet", &["/bin/sleep", "1000"], dir.path()))
        .await
        .unwrap();

    let polls = (0..1100).map(|_| {
        client.read(ReadParams {
            process_id: "quiet".to_string(),
            after_seq: Some(0),
            max_bytes: None,
            wait_ms: Some(1500),
            resume_notifications: false,
        })
    });
    let results = tokio::time::timeout(LOAD_TIMEOUT, join_all(polls))
        .await
        .expect("the polls finished in time");

    let failed = results.iter().filter(|result| result.is_err()).count();
    assert_eq!(failed, 0);
    assert!(
        !server.stderr().contains("no sign of life"),
        "{}",
        server.stderr()
    );
}
