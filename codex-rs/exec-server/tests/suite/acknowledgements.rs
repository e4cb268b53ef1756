//! `acknowledgeOutput` and `process/ack`: on a connection that offers acknowledgements, a
//! paced process waits for the client to acknowledge its notified output, not merely for
//! the server to send it (the Rust client's side is in `reconnect.rs`: cuts of a flood
//! lose nothing).

use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

use super::escape::error_of;
use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::cwd;
use super::harness::start_params;

/// What the flood writes, then `finished` is created.
const FLOOD_BYTES: u64 = 8 << 20;

/// Takes in `process/output` notifications of `flood` (acknowledging each as it comes
/// when `acknowledge`) until none comes for half a second or the process closes: (bytes
/// received, whether it closed, the last output seq).
async fn take_notifications(client: &mut RawClient, acknowledge: bool) -> (u64, bool, u64) {
    let (mut bytes, mut last) = (0, 0);
    loop {
        let message = match client.pending_notification() {
            Some(message) => message,
            None => match tokio::time::timeout(Duration::from_millis(500), client.recv()).await {
                Ok(message) => message,
                Err(_) => return (bytes, false, last),
            },
        };
        match message["method"].as_str() {
            Some("process/output") => {
                bytes += super::harness::unb64(&message["params"]["chunk"]).len() as u64;
                last = message["params"]["seq"].as_u64().expect("seq");
                if acknowledge {
                    acknowledge_through(client, last).await;
                }
            }
            Some("process/closed") => return (bytes, true, last),
            _ => {}
        }
    }
}

async fn acknowledge_through(client: &mut RawClient, seq: u64) {
    client
        .send_request("process/ack", json!({"processId": "flood", "seq": seq}))
        .await;
}

fn initialize(acknowledge_output: bool) -> Value {
    json!({"clientName": "acks", "acknowledgeOutput": acknowledge_output})
}

/// The server's window is 1 MiB, so a paced process may have half of it undelivered. A
/// client that offered acknowledgements and takes the notifications without acknowledging
/// them holds the flood at about that; acknowledging lets it finish, with every byte. A
/// client that did not offer them gets the whole flood without a word.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notified_output_waits_for_its_acknowledgement() {
    let server = TestServer::start_with(&["--max-retained-bytes", "1048576"], &[]);
    let dir = cwd();
    let flood = format!("head -c {FLOOD_BYTES} /dev/zero; touch finished");

    let mut client = RawClient::connect(&server.url).await;
    let init = client
        .ok("initialize", initialize(/*acknowledge_output*/ true))
        .await;
    client.notify("initialized", json!({})).await;
    client
        .ok("process/start", start_params("flood", &flood, dir.path()))
        .await;
    let (held, closed, last) = take_notifications(&mut client, /*acknowledge*/ false).await;
    let finished_while_held = dir.path().join("finished").exists();
    acknowledge_through(&mut client, last).await;
    let (rest, closed_after, _) = take_notifications(&mut client, /*acknowledge*/ true).await;

    let mut plain = RawClient::connect(&server.url).await;
    let plain_init = plain
        .ok("initialize", initialize(/*acknowledge_output*/ false))
        .await;
    plain.notify("initialized", json!({})).await;
    let other = cwd();
    plain
        .ok("process/start", start_params("flood", &flood, other.path()))
        .await;
    let (unacknowledged, plain_closed, _) =
        take_notifications(&mut plain, /*acknowledge*/ false).await;

    assert_eq!(init["acknowledgeOutput"], json!(true), "{init}");
    assert_eq!(plain_init.get("acknowledgeOutput"), None, "{plain_init}");
    // Half the window, plus at most one read of the output pipe (1 MiB) past it.
    assert!(
        held <= (512 << 10) + (1 << 20),
        "{held} bytes sent without an acknowledgement"
    );
    assert_eq!(
        (closed, finished_while_held, held + rest, closed_after),
        (false, false, FLOOD_BYTES, true)
    );
    assert_eq!((unacknowledged, plain_closed), (FLOOD_BYTES, true));
}

/// `process/ack` with bad params or for an unknown process gets a clear error, and the
/// server goes on; `acknowledgeOutput` without output notifications is not granted (a
/// reader acknowledges by reading).
#[tokio::test]
async fn bad_acknowledgements_are_refused() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;

    let unknown = client
        .request("process/ack", json!({"processId": "nope", "seq": 1}))
        .await;
    let wrong_type = client
        .request("process/ack", json!({"processId": "nope", "seq": "1"}))
        .await;
    let missing = client
        .request("process/ack", json!({"processId": "nope"}))
        .await;
    let mut reader = RawClient::connect(&server.url).await;
    let reader_init = reader
        .ok(
            "initialize",
            json!({"clientName": "r", "outputNotifications": false, "acknowledgeOutput": true}),
        )
        .await;

    assert_eq!(error_of(&unknown).0, "unknownProcess", "{unknown}");
    for refused in [&wrong_type, &missing] {
        assert_eq!(refused["error"]["code"], json!(-32602), "{refused}");
    }
    assert_eq!(reader_init.get("acknowledgeOutput"), None, "{reader_init}");
    // Still serving.
    let again = client
        .request("process/ack", json!({"processId": "nope", "seq": 2}))
        .await;
    assert_eq!(error_of(&again).0, "unknownProcess", "{again}");
}
