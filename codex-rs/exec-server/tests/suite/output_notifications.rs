//! `process/outputNotifications {processId, enabled}`: per-process flow control. While off,
//! the process's output reaches the client only through `process/read` (so a paced process
//! waits for the reads), `exited` and `closed` are still notified, and turning it back on
//! notifies later output again.

use std::collections::BTreeMap;
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

use super::harness::EVENT_TIMEOUT;
use super::harness::FLOOD_BYTES;
use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::b64;
use super::harness::cwd;
use super::harness::flood;
use super::harness::pid_alive;
use super::harness::pid_of;
use super::harness::start_params;
use super::harness::unb64;

fn switch(process_id: &str, enabled: bool) -> Value {
    json!({"processId": process_id, "enabled": enabled})
}

/// Whether `message` is a `process/output` notification of `process_id`.
fn is_output_of(message: &Value, process_id: &str) -> bool {
    message["method"] == json!("process/output") && message["params"]["processId"] == process_id
}

/// The output of one process by `seq`, from notifications and reads alike (a chunk that
/// came both ways must be the same).
#[derive(Default)]
struct Coverage(BTreeMap<u64, usize>);

impl Coverage {
    fn add(&mut self, seq: u64, len: usize) {
        let previous = self.0.insert(seq, len);
        assert!(previous.is_none_or(|p| p == len), "seq {seq} changed size");
    }

    fn add_notification(&mut self, message: &Value) -> usize {
        let len = unb64(&message["params"]["chunk"]).len();
        self.add(message["params"]["seq"].as_u64().unwrap(), len);
        len
    }

    /// Every output seq before `exited_seq` is covered, and they add up to `bytes`.
    fn assert_complete(&self, exited_seq: u64, bytes: usize) {
        let seqs: Vec<u64> = self.0.keys().copied().collect();
        assert_eq!(
            seqs,
            (1..exited_seq).collect::<Vec<_>>(),
            "every output seq arrived"
        );
        assert_eq!(self.0.values().sum::<usize>(), bytes);
    }
}

/// Reads `process_id` with `process/read` from `after` until it closed, adding every chunk
/// to `coverage`; returns the last reply. A `gap` is allowed: only output that reached the
/// client as a notification may be dropped, which [`Coverage::assert_complete`] checks.
async fn read_to_close(
    client: &mut RawClient,
    process_id: &str,
    mut after: u64,
    coverage: &mut Coverage,
) -> Value {
    loop {
        let read = client
            .ok(
                "process/read",
                json!({"processId": process_id, "afterSeq": after, "waitMs": 2000}),
            )
            .await;
        for chunk in read["chunks"].as_array().unwrap() {
            coverage.add(chunk["seq"].as_u64().unwrap(), unb64(&chunk["chunk"]).len());
        }
        after = read["nextSeq"].as_u64().unwrap() - 1;
        if read["closed"] == json!(true) {
            return read;
        }
    }
}

/// Switched off while still starting (the requests are pipelined, and the server handles
/// a connection's requests in order): not one `process/output` of the flood is sent, the
/// flood waits for the reads, every byte is read, and `exited`/`closed` are notified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switched_off_from_the_start_the_process_is_read_only_and_paced() {
    let server = TestServer::start();
    let dir = cwd();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let start = client
        .send_request("process/start", flood("flood", dir.path()))
        .await;
    let off = client
        .send_request(
            "process/outputNotifications",
            switch("flood", /*enabled*/ false),
        )
        .await;
    let off = client.response(off).await;
    assert_eq!(off["result"], json!({}), "{off}");
    let start = client.response(start).await;
    assert_eq!(start["result"], json!({"processId": "flood"}), "{start}");
    let pid = pid_of(dir.path(), "flood").await;

    // Nothing reads it: paused, not finished.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(pid_alive(pid), "the paused process is alive");
    assert!(!dir.path().join("finished").exists(), "the flood is paused");

    let (output, last) = tokio::time::timeout(EVENT_TIMEOUT, client.read_all("flood"))
        .await
        .expect("the reads go on");
    assert_eq!(
        (output.len(), last["exitCode"].clone(), last.get("gap")),
        (FLOOD_BYTES, json!(0), None)
    );
    assert!(dir.path().join("finished").exists());
    let methods: Vec<Value> = client
        .events_until_closed("flood")
        .await
        .iter()
        .map(|event| event["method"].clone())
        .collect();
    assert_eq!(
        methods,
        vec![json!("process/exited"), json!("process/closed")],
        "no output notification, lifecycle ones still"
    );
}

/// Switched off while the flood streams: output still queued for the connection is taken
/// back, so no `process/output` of it comes after the reply; the flood pauses;
/// `process/read` from the last notified seq gets the rest, with every seq covered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switched_off_mid_stream_notifies_nothing_after_the_reply() {
    let server = TestServer::start();
    let dir = cwd();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    client.ok("process/start", flood("flood", dir.path())).await;
    let pid = pid_of(dir.path(), "flood").await;
    // Let it stream until the first notification.
    loop {
        let message = client.recv().await;
        let first = is_output_of(&message, "flood");
        client.notifications.push_back(message);
        if first {
            break;
        }
    }
    // Not reading for a while: the connection's writer waits on the socket and output
    // piles up in the queue behind it, which the switch has to take back.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let off = client
        .ok(
            "process/outputNotifications",
            switch("flood", /*enabled*/ false),
        )
        .await;
    assert_eq!(off, json!({}));
    let mut coverage = Coverage::default();
    let mut before_reply = 0;
    for message in std::mem::take(&mut client.notifications) {
        if is_output_of(&message, "flood") {
            before_reply += coverage.add_notification(&message);
        } else {
            client.notifications.push_back(message);
        }
    }
    // The last seq the client consumed: the reads go on from there.
    let consumed = *coverage.0.keys().next_back().unwrap();

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        pid_alive(pid) && !dir.path().join("finished").exists(),
        "the flood is paused"
    );

    let last = tokio::time::timeout(
        EVENT_TIMEOUT,
        read_to_close(&mut client, "flood", consumed, &mut coverage),
    )
    .await
    .expect("the reads go on");
    assert_eq!(last["exitCode"], json!(0));
    let mut after_reply = 0;
    let mut lifecycle = Vec::new();
    for event in client.events_until_closed("flood").await {
        if is_output_of(&event, "flood") {
            after_reply += coverage.add_notification(&event);
        } else {
            lifecycle.push(event);
        }
    }
    let exited_seq = lifecycle[0]["params"]["seq"].as_u64().unwrap();
    assert_eq!(
        lifecycle
            .iter()
            .map(|event| event["method"].clone())
            .collect::<Vec<_>>(),
        vec![json!("process/exited"), json!("process/closed")]
    );
    coverage.assert_complete(exited_seq, FLOOD_BYTES);
    assert_eq!(
        after_reply, 0,
        "bytes notified after the reply ({before_reply} before it)"
    );
    assert!(
        before_reply < FLOOD_BYTES / 2,
        "most of the flood was read, not notified: {before_reply} bytes notified"
    );
}

/// Off, then on again: output in between is not notified (it is read), later output is;
/// switching is idempotent and a closed process answers `{}`.
#[tokio::test]
async fn switched_back_on_later_output_is_notified_again() {
    let server = TestServer::start();
    let dir = cwd();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let mut params = start_params("cat", "cat", dir.path());
    params["pipeStdin"] = json!(true);
    client.ok("process/start", params).await;
    for _ in 0..2 {
        let off = client
            .ok(
                "process/outputNotifications",
                switch("cat", /*enabled*/ false),
            )
            .await;
        assert_eq!(off, json!({}));
    }
    let write = |chunk: &[u8]| json!({"processId": "cat", "chunk": b64(chunk)});
    client.ok("process/write", write(b"first\n")).await;
    let read = client
        .ok(
            "process/read",
            json!({"processId": "cat", "afterSeq": 0, "waitMs": 10_000}),
        )
        .await;
    assert_eq!(read["chunks"][0]["seq"], json!(1));
    assert_eq!(unb64(&read["chunks"][0]["chunk"]), b"first\n");

    for _ in 0..2 {
        let on = client
            .ok(
                "process/outputNotifications",
                switch("cat", /*enabled*/ true),
            )
            .await;
        assert_eq!(on, json!({}));
    }
    client.ok("process/write", write(b"second\n")).await;
    let notified = loop {
        let message = match client.notifications.pop_front() {
            Some(message) => message,
            None => client.recv().await,
        };
        if is_output_of(&message, "cat") {
            break message;
        }
    };
    assert_eq!(
        (
            notified["params"]["seq"].clone(),
            unb64(&notified["params"]["chunk"])
        ),
        (json!(2), b"second\n".to_vec()),
        "the first line, written while off, was not notified"
    );

    client
        .ok(
            "process/write",
            json!({"processId": "cat", "chunk": "", "closeStdin": true}),
        )
        .await;
    let methods: Vec<Value> = client
        .events_until_closed("cat")
        .await
        .iter()
        .map(|event| event["method"].clone())
        .collect();
    assert_eq!(
        methods,
        vec![json!("process/exited"), json!("process/closed")]
    );
    // Closed: nothing left to switch, and no error.
    let closed = client
        .ok(
            "process/outputNotifications",
            switch("cat", /*enabled*/ false),
        )
        .await;
    assert_eq!(closed, json!({}));
}

#[tokio::test]
async fn bad_requests_are_refused() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;

    let unknown = client
        .request(
            "process/outputNotifications",
            switch("nope", /*enabled*/ false),
        )
        .await;
    assert_eq!(
        (
            unknown["error"]["code"].clone(),
            unknown["error"]["data"]["kind"].clone(),
            unknown["error"]["data"]["processId"].clone(),
        ),
        (json!(-32001), json!("unknownProcess"), json!("nope")),
        "{unknown}"
    );
    for params in [
        json!({"processId": "nope", "enabled": "no"}),
        json!({"enabled": false}),
        json!({"processId": "nope"}),
        json!({"processId": "nope", "enabled": true, "extra": 1}),
    ] {
        let response = client
            .request("process/outputNotifications", params.clone())
            .await;
        assert_eq!(
            response["error"]["code"],
            json!(-32602),
            "{params}: {response}"
        );
    }
}

/// `process/read {resumeNotifications: true}`: a reply cut short turns nothing on; the
/// reply that reaches the newest event turns notifications back on right there, so every
/// later chunk is notified (seq after the reply's `nextSeq - 1`) and none falls between.
#[tokio::test]
async fn a_read_that_reaches_the_newest_event_resumes_notifications() {
    let server = TestServer::start();
    let dir = cwd();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let script = "printf a; sleep 0.2; printf b; while [ ! -e go ]; do sleep 0.02; done; \
                  printf c; sleep 0.2; printf d";
    let start = client
        .send_request("process/start", start_params("p", script, dir.path()))
        .await;
    let off = client
        .send_request(
            "process/outputNotifications",
            switch("p", /*enabled*/ false),
        )
        .await;
    client.response(start).await;
    client.response(off).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let cut = client
        .ok(
            "process/read",
            json!({"processId": "p", "afterSeq": 0, "maxBytes": 1, "resumeNotifications": true}),
        )
        .await;
    let rest = client
        .ok(
            "process/read",
            json!({"processId": "p", "afterSeq": 1, "resumeNotifications": true}),
        )
        .await;
    std::fs::write(dir.path().join("go"), "").unwrap();
    let notified: Vec<(Value, Value, Vec<u8>)> = client
        .events_until_closed("p")
        .await
        .iter()
        .map(|event| {
            let chunk = event["params"].get("chunk").map(unb64).unwrap_or_default();
            (
                event["method"].clone(),
                event["params"]["seq"].clone(),
                chunk,
            )
        })
        .collect();
    assert_eq!(
        (
            (
                unb64(&cut["chunks"][0]["chunk"]),
                cut.get("notificationsResumed").cloned()
            ),
            (
                unb64(&rest["chunks"][0]["chunk"]),
                rest["notificationsResumed"].clone()
            ),
            notified,
        ),
        (
            (b"a".to_vec(), None),
            (b"b".to_vec(), json!(true)),
            vec![
                (json!("process/output"), json!(3), b"c".to_vec()),
                (json!("process/output"), json!(4), b"d".to_vec()),
                (json!("process/exited"), json!(5), Vec::new()),
                (json!("process/closed"), json!(6), Vec::new()),
            ],
        )
    );
}
