//! `process/signal`: each of the four names reaches the process group as its signal, and
//! the exit code reports it as 128 + the signal number.

use pretty_assertions::assert_eq;
use serde_json::json;

use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::cwd;
use super::harness::start_params;

#[tokio::test]
async fn every_signal_name_reaches_the_process_as_that_signal() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    let names = ["interrupt", "terminate", "hangup", "kill"];
    let mut exit_codes = Vec::new();

    for name in names {
        // `exec`: the signal goes to `sleep` itself, with its default action (a shell
        // would ignore SIGINT while waiting).
        client
            .ok(
                "process/start",
                start_params(name, "echo ready; exec sleep 1000", dir.path()),
            )
            .await;
        client
            .ok(
                "process/read",
                json!({"processId": name, "afterSeq": 0, "waitMs": 10000}),
            )
            .await;
        let reply = client
            .ok("process/signal", json!({"processId": name, "signal": name}))
            .await;
        assert_eq!(reply, json!({}));
        let events = client.events_until_closed(name).await;
        let exited = events
            .iter()
            .find(|event| event["method"] == json!("process/exited"))
            .expect("an exited event");
        exit_codes.push((name, exited["params"]["exitCode"].as_i64()));
    }

    assert_eq!(
        exit_codes,
        vec![
            ("interrupt", Some(128 + 2)),
            ("terminate", Some(128 + 15)),
            ("hangup", Some(128 + 1)),
            ("kill", Some(128 + 9)),
        ]
    );
}

/// A server started with SIGHUP ignored (as under `nohup`) still delivers `hangup`: its
/// commands do not inherit the "ignore".
#[tokio::test]
async fn hangup_works_even_when_the_server_was_started_ignoring_it() {
    let server = TestServer::start_under(&["nohup"], &[]);
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    client
        .ok(
            "process/start",
            start_params("h", "echo ready; exec sleep 1000", dir.path()),
        )
        .await;
    client
        .ok(
            "process/read",
            json!({"processId": "h", "afterSeq": 0, "waitMs": 10000}),
        )
        .await;

    client
        .ok(
            "process/signal",
            json!({"processId": "h", "signal": "hangup"}),
        )
        .await;
    let events = client.events_until_closed("h").await;

    let exited = events
        .iter()
        .find(|event| event["method"] == json!("process/exited"))
        .expect("an exited event");
    assert_eq!(exited["params"]["exitCode"], json!(128 + 1));
}
