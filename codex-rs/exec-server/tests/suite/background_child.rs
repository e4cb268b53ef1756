//! A process that exits while a background child of it still holds its output pipes:
//! `exited` is reported without waiting for the pipes, the background child's later output
//! follows it, and `closed` comes last, once the pipes reached EOF.

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

use super::harness::EVENT_TIMEOUT;
use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::cwd;
use super::harness::pid_alive;
use super::harness::start_params;
use super::harness::unb64;
use super::harness::wait_until;

/// Notifications for the only process of `client` up to and including its `process/exited`.
async fn events_until_exited(client: &mut RawClient) -> Vec<Value> {
    let mut events = Vec::new();
    while events
        .last()
        .is_none_or(|event: &Value| event["method"] != json!("process/exited"))
    {
        let message = match client.notifications.pop_front() {
            Some(message) => message,
            None => client.recv().await,
        };
        events.push(message);
    }
    events
}

/// Each event as (method, seq, stdout text or exit code).
fn summarize(events: &[Value]) -> Vec<(String, u64, Value)> {
    events
        .iter()
        .map(|event| {
            let params = &event["params"];
            let detail = match event["method"].as_str().unwrap() {
                "process/output" => json!(String::from_utf8(unb64(&params["chunk"])).unwrap()),
                "process/exited" => params["exitCode"].clone(),
                _ => Value::Null,
            };
            (
                event["method"].as_str().unwrap().to_string(),
                params["seq"].as_u64().unwrap(),
                detail,
            )
        })
        .collect()
}

/// The pid a process printed as its first line of output.
fn first_line_pid(events: &[Value]) -> i32 {
    let text = String::from_utf8(unb64(&events[0]["params"]["chunk"])).unwrap();
    text.split_whitespace().last().unwrap().parse().unwrap()
}

/// Regression: `exited` waited for every pipe to reach EOF, so it never came while a
/// background child held stdout.
#[tokio::test]
async fn exit_is_reported_while_a_background_child_holds_stdout() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    // The background child holds stdout and waits at a FIFO until the test opens it.
    let script = "mkfifo gate; (read x < gate; echo \"late $x\") & echo \"started $!\"; exit 5";
    client
        .ok("process/start", start_params("bg", script, dir.path()))
        .await;
    let mut events = events_until_exited(&mut client).await;
    let background = first_line_pid(&events);
    assert!(
        pid_alive(background),
        "the background child is still running"
    );
    let read = client
        .ok("process/read", json!({"processId": "bg", "afterSeq": 0}))
        .await;
    assert_eq!(
        (&read["exited"], &read["exitCode"], &read["closed"]),
        (&json!(true), &json!(5), &json!(false))
    );

    tokio::time::timeout(
        EVENT_TIMEOUT,
        tokio::fs::write(dir.path().join("gate"), "go\n"),
    )
    .await
    .expect("the background child opened the FIFO in time")
    .unwrap();
    events.extend(client.events_until_closed("bg").await);
    assert_eq!(
        summarize(&events),
        vec![
            (
                "process/output".to_string(),
                1,
                json!(format!("started {background}\n"))
            ),
            ("process/exited".to_string(), 2, json!(5)),
            ("process/output".to_string(), 3, json!("late go\n")),
            ("process/closed".to_string(), 4, Value::Null),
        ]
    );

    // A read from the start stops at `exited` (the seqs after the last chunk are lifecycle
    // events, so a reader can tell where `exited` was); the next read has the rest.
    let first = client
        .ok("process/read", json!({"processId": "bg", "afterSeq": 0}))
        .await;
    let rest = client
        .ok("process/read", json!({"processId": "bg", "afterSeq": 2}))
        .await;
    let view = |read: &Value| {
        let chunks: Vec<(u64, String)> = read["chunks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["seq"].as_u64().unwrap(),
                    String::from_utf8(unb64(&c["chunk"])).unwrap(),
                )
            })
            .collect();
        (chunks, read["nextSeq"].clone(), read["closed"].clone())
    };
    assert_eq!(
        (view(&first), view(&rest)),
        (
            (
                vec![(1, format!("started {background}\n"))],
                json!(3),
                json!(false)
            ),
            (vec![(3, "late go\n".to_string())], json!(5), json!(true)),
        )
    );
}

/// The reviewer's case: `sleep 1000 &` holds stdout for good. The exit is reported, and
/// terminating then kills the rest of the process group, after which the process closes.
#[tokio::test]
async fn terminate_after_exit_kills_the_background_child_and_closes() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    client
        .ok(
            "process/start",
            start_params("bg", "sleep 1000 & echo \"started $!\"; exit 5", dir.path()),
        )
        .await;
    let events = events_until_exited(&mut client).await;
    let background = first_line_pid(&events);
    assert_eq!(
        summarize(&events)[1..],
        [("process/exited".to_string(), 2, json!(5))]
    );
    assert!(
        pid_alive(background),
        "the background child is still running"
    );

    assert_eq!(
        client
            .ok("process/terminate", json!({"processId": "bg"}))
            .await,
        json!({"running": false}),
        "the process itself was reaped"
    );
    wait_until("background child gone", EVENT_TIMEOUT, || {
        !pid_alive(background)
    })
    .await;
    let rest = client.events_until_closed("bg").await;
    assert_eq!(
        summarize(&rest),
        vec![("process/closed".to_string(), 3, Value::Null)]
    );
}
