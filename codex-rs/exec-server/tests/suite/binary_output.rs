//! Binary output frames (`initialize {binaryOutput: true}`): nothing lost through tens of
//! MiB by notifications and by a read loop, text and binary clients side by side on one
//! server, malformed binary frames from a client, and a client against a server that
//! does not know the option.

use codex_exec_server::ClientConfig;
use codex_exec_server::ExecServerClient;
use codex_exec_server::RemoteProcess;
use codex_exec_server::protocol::OutputStream;
use codex_exec_server::protocol::ProcessEvent;
use codex_exec_server::protocol::ReadParams;
use codex_exec_server::protocol::ReadResponse;
use futures_util::SinkExt;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::harness::FLOOD_BYTES;
use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::cwd;
use super::harness::flood;
use super::harness::next_event;
use super::harness::read_until_closed;
use super::harness::start_params;
use super::harness::typed_start;
use super::harness::unb64;
use super::scripted_server::ScriptedServer;
use super::scripted_server::empty_read;

/// Bytes of the large transfers: 64 MiB and a bit, so the last chunk is a short one.
const LARGE_BYTES: usize = (64 << 20) + 12_345;

/// `length` bytes that differ from chunk to chunk (xorshift), so that a lost, repeated or
/// reordered chunk shows.
fn pattern(length: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(length + 8);
    while out.len() < length {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(length);
    out
}

/// How `actual` compares with `expected`: both lengths and the first offset where they
/// differ (`None`: identical), a whole value that prints well when it fails.
fn compared(actual: &[u8], expected: &[u8]) -> (usize, usize, Option<usize>) {
    let first_difference = actual
        .iter()
        .zip(expected)
        .position(|(a, b)| a != b)
        .or_else(|| (actual.len() != expected.len()).then(|| actual.len().min(expected.len())));
    (actual.len(), expected.len(), first_difference)
}

/// A file of [`pattern`] bytes in `dir`, for `cat` to print.
fn data_file(dir: &std::path::Path, length: usize) -> Vec<u8> {
    let data = pattern(length);
    std::fs::write(dir.join("data"), &data).unwrap();
    data
}

#[tokio::test]
async fn the_default_client_streams_64_mib_of_binary_notifications_without_loss() {
    let server = TestServer::start();
    let client = ExecServerClient::connect(ClientConfig::new(server.url.clone()))
        .await
        .unwrap();
    assert!(
        client.binary_output(),
        "the default client asks for binary output"
    );
    let dir = cwd();
    let expected = data_file(dir.path(), LARGE_BYTES);
    let (_, mut events) = client
        .start_streaming(typed_start(
            "cat",
            &["/bin/sh", "-c", "cat data; printf 'done\\n' >&2; exit 3"],
            dir.path(),
        ))
        .await
        .unwrap();
    let (mut stdout, mut stderr, mut seqs, mut exit_code) = (Vec::new(), Vec::new(), vec![], None);
    loop {
        let event = next_event(&mut events).await;
        match event {
            ProcessEvent::Output(output) => {
                seqs.push(output.seq);
                match output.stream {
                    OutputStream::Stdout => stdout.extend_from_slice(output.chunk.as_bytes()),
                    _ => stderr.extend_from_slice(output.chunk.as_bytes()),
                }
            }
            ProcessEvent::Exited(exited) => {
                seqs.push(exited.seq);
                exit_code = Some(exited.exit_code);
            }
            ProcessEvent::Closed(closed) => {
                seqs.push(closed.seq);
                break;
            }
            ProcessEvent::Gap { gap, .. } => panic!("unexpected gap {gap:?}"),
        }
    }
    assert_eq!(
        (
            compared(&stdout, &expected),
            String::from_utf8_lossy(&stderr).into_owned(),
            exit_code,
            seqs.clone(),
        ),
        (
            (LARGE_BYTES, LARGE_BYTES, None),
            "done\n".to_string(),
            Some(3),
            (1..=seqs.len() as u64).collect::<Vec<_>>(),
        )
    );
}

#[tokio::test]
async fn the_default_client_reads_64_mib_in_a_binary_read_loop_without_loss() {
    let server = TestServer::start();
    let mut config = ClientConfig::new(server.url.clone());
    config.output_notifications = false;
    let client = ExecServerClient::connect(config).await.unwrap();
    assert!(client.binary_output());
    let dir = cwd();
    let expected = data_file(dir.path(), LARGE_BYTES);
    let exec = RemoteProcess::new(client);
    exec.client()
        .start(typed_start("cat", &["cat", "data"], dir.path()))
        .await
        .unwrap();
    let (output, exit_code) = read_until_closed(&exec, "cat").await;
    assert_eq!(
        (compared(&output, &expected), exit_code),
        ((LARGE_BYTES, LARGE_BYTES, None), Some(0))
    );
}

#[tokio::test]
async fn a_raw_binary_reader_paces_a_64_mib_flood_without_loss() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized_binary_reader(&server.url).await;
    let dir = cwd();
    client.ok("process/start", flood("flood", dir.path())).await;
    let (output, last) = client.read_all("flood").await;
    let zeros = output.iter().filter(|byte| **byte == 0).count();
    assert_eq!(
        (output.len(), zeros, last["exitCode"].clone()),
        (FLOOD_BYTES, FLOOD_BYTES, json!(0))
    );
    assert!(
        client.binary_frames > 0,
        "the replies came as binary frames"
    );
}

/// Per stream, what the events of a process carried, its exit code, and whether its seqs
/// ran from 1 without a hole.
fn summary(events: &[Value]) -> (Vec<u8>, Vec<u8>, Option<i64>, bool) {
    let (mut stdout, mut stderr, mut exit_code) = (Vec::new(), Vec::new(), None);
    for event in events {
        match event["method"].as_str() {
            Some("process/output") if event["params"]["stream"] == json!("stdout") => {
                stdout.extend(unb64(&event["params"]["chunk"]))
            }
            Some("process/output") => stderr.extend(unb64(&event["params"]["chunk"])),
            Some("process/exited") => exit_code = event["params"]["exitCode"].as_i64(),
            _ => {}
        }
    }
    let seqs: Vec<u64> = events
        .iter()
        .filter_map(|event| event["params"]["seq"].as_u64())
        .collect();
    let contiguous = seqs == (1..=seqs.len() as u64).collect::<Vec<_>>();
    (stdout, stderr, exit_code, contiguous)
}

/// What the test process prints: bytes that are not UTF-8 on stdout, text on stderr, then
/// 300 000 `x`s.
const MIXED_SCRIPT: &str = "printf 'out\\377\\000\\n'; printf 'err\\n' >&2; \
                            head -c 300000 /dev/zero | tr '\\0' x; exit 3";

fn mixed_expected() -> (Vec<u8>, Vec<u8>, Option<i64>, bool) {
    let mut stdout = b"out\xff\x00\n".to_vec();
    stdout.extend(std::iter::repeat_n(b'x', /*n*/ 300_000));
    (stdout, b"err\n".to_vec(), Some(3), true)
}

#[tokio::test]
async fn a_raw_binary_client_gets_output_as_binary_frames_and_everything_else_as_text() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized_binary(&server.url).await;
    let dir = cwd();
    client
        .ok("process/start", start_params("p", MIXED_SCRIPT, dir.path()))
        .await;
    assert_eq!(client.binary_frames, 0, "the start reply is text");
    let events = client.events_until_closed("p").await;
    let outputs = events
        .iter()
        .filter(|event| event["method"] == json!("process/output"))
        .count();
    // Exactly the output notifications came as binary frames.
    assert_eq!(
        (summary(&events), client.binary_frames),
        (mixed_expected(), outputs)
    );

    let printed = client.read_printed("p", async |_| {}).await;
    assert_eq!(
        (printed.exit_code(), printed.stdout, printed.stderr),
        (3, mixed_expected().0, mixed_expected().1)
    );
    let after_reads = client.binary_frames;
    assert!(after_reads > outputs, "the read replies are binary frames");

    // Errors, even of `process/read`, are text.
    let response = client
        .request("process/read", json!({"processId": "nobody"}))
        .await;
    assert_eq!(
        (response["error"]["code"].clone(), client.binary_frames),
        (json!(-32001), after_reads)
    );
}

#[tokio::test]
async fn text_and_binary_clients_share_a_server_and_a_session() {
    let server = TestServer::start();
    // A client that does not ask gets the result it always did, and only text frames.
    let mut text = RawClient::connect(&server.url).await;
    let response = text
        .request("initialize", json!({"clientName": "text"}))
        .await;
    let text_session = response["result"]["sessionId"].clone();
    assert_eq!(
        response,
        json!({
            "jsonrpc": "2.0",
            "id": 1,
            "result": {
                "sessionId": text_session,
                "capabilities": {"exec": true, "filesystem": true},
            },
        })
    );
    text.notify("initialized", json!({})).await;
    let (mut binary, binary_session) = RawClient::initialized_binary(&server.url).await;

    let dir = cwd();
    text.ok("process/start", start_params("t", MIXED_SCRIPT, dir.path()))
        .await;
    binary
        .ok("process/start", start_params("b", MIXED_SCRIPT, dir.path()))
        .await;
    let (text_events, binary_events) = tokio::join!(
        text.events_until_closed("t"),
        binary.events_until_closed("b")
    );
    assert_eq!(
        (
            summary(&text_events),
            summary(&binary_events),
            text.binary_frames
        ),
        (mixed_expected(), mixed_expected(), 0)
    );
    assert!(binary.binary_frames > 0);

    // A session's framing is its connection's: the binary client's session, resumed by
    // a text connection, reads as text (and the other way round).
    binary.close().await;
    let mut resumed = RawClient::connect(&server.url).await;
    let result = resumed
        .ok(
            "initialize",
            json!({"clientName": "resumer", "resumeSessionId": binary_session}),
        )
        .await;
    assert_eq!(result.get("binaryOutput"), None);
    let printed = resumed.read_printed("b", async |_| {}).await;
    assert_eq!(
        (printed.stdout, resumed.binary_frames),
        (mixed_expected().0, 0)
    );
    text.close().await;
    let mut resumed = RawClient::connect(&server.url).await;
    let result = resumed
        .ok(
            "initialize",
            json!({"clientName": "resumer", "resumeSessionId": text_session, "binaryOutput": true}),
        )
        .await;
    assert_eq!(result["binaryOutput"], json!(true));
    let printed = resumed.read_printed("t", async |_| {}).await;
    assert_eq!(printed.stdout, mixed_expected().0);
    assert!(resumed.binary_frames > 0);
}

#[tokio::test]
async fn the_rust_client_can_turn_binary_output_off() {
    let server = TestServer::start();
    let mut config = ClientConfig::new(server.url.clone());
    config.binary_output = false;
    let client = ExecServerClient::connect(config).await.unwrap();
    assert!(!client.binary_output());
    let dir = cwd();
    let exec = RemoteProcess::new(client);
    exec.client()
        .start(typed_start(
            "p",
            &["/bin/sh", "-c", "printf 'out\\377\\000\\n'; exit 3"],
            dir.path(),
        ))
        .await
        .unwrap();
    assert_eq!(
        read_until_closed(&exec, "p").await,
        (b"out\xff\x00\n".to_vec(), Some(3))
    );
}

/// The error a malformed binary frame from a client is answered with.
fn malformed(message: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": -32600, "message": format!("malformed binary frame: {message}")},
    })
}

/// A version-1 frame of `header` (its true length) and `payload`.
fn v1(header: &str, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![1];
    frame.extend_from_slice(&u32::try_from(header.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(header.as_bytes());
    frame.extend_from_slice(payload);
    frame
}

#[tokio::test]
async fn malformed_binary_frames_from_a_client_get_clear_errors_and_the_server_keeps_going() {
    let server = TestServer::start();
    let output_header = r#"{"jsonrpc":"2.0","method":"process/output","params":{"processId":"p","seq":1,"stream":"stdout","chunkLength":10}}"#;
    let cases: Vec<(Vec<u8>, Value)> = vec![
        (
            vec![1, 0, 0],
            malformed(
                "binary frame of 3 bytes is shorter than its 5-byte prefix (version, header \
                 length)",
            ),
        ),
        (
            vec![1, 0xff, 0xff, 0xff, 0xff, b'{', b'}'],
            malformed(
                "binary frame header length 4294967295 is more than the 2 bytes that follow \
                 the prefix",
            ),
        ),
        (
            vec![2, 0, 0, 0, 2, b'{', b'}'],
            malformed("binary frame version 2 is not supported (this side reads version 1)"),
        ),
        (
            v1("{}", b""),
            malformed(
                "binary frame header is not a process/output notification or a process/read \
                 reply: missing field `jsonrpc` at line 1 column 2",
            ),
        ),
        (
            v1(output_header, b"abc"),
            malformed(
                "binary frame chunk lengths add up to 10 bytes, but 3 bytes follow the header",
            ),
        ),
        (
            v1(output_header, b"0123456789"),
            json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": {
                    "code": -32600,
                    "message": "binary frames carry only the server's output (process/output \
                                notifications and process/read replies); send requests as \
                                JSON text frames",
                },
            }),
        ),
    ];
    // Before `initialize`, and on a binary connection after it.
    let mut fresh = RawClient::connect(&server.url).await;
    let (mut client, _) = RawClient::initialized_binary(&server.url).await;
    for (frame, expected) in cases {
        fresh.send_binary(frame.clone()).await;
        assert_eq!(fresh.recv().await, expected);
        client.send_binary(frame).await;
        assert_eq!(client.recv().await, expected);
    }

    // Both connections and the server go on.
    let dir = cwd();
    fresh.ok("initialize", json!({"clientName": "after"})).await;
    for (client, id) in [(&mut fresh, "a"), (&mut client, "b")] {
        client
            .ok(
                "process/start",
                start_params(id, "printf alive", dir.path()),
            )
            .await;
        let (output, _) = client.read_all(id).await;
        assert_eq!(output, b"alive".to_vec());
    }
    let (mut other, _) = RawClient::initialized(&server.url).await;
    other
        .ok(
            "process/start",
            start_params("c", "printf fine", dir.path()),
        )
        .await;
    assert_eq!(other.read_all("c").await.0, b"fine".to_vec());
}

#[tokio::test]
async fn against_a_server_without_binary_output_the_client_falls_back_to_text() {
    let (params_tx, mut params_rx) = tokio::sync::mpsc::unbounded_channel();
    let server = ScriptedServer::start(move |mut conn| {
        let params_tx = params_tx.clone();
        async move {
            // What a server from before binary output frames answers.
            conn.refuse_initialize(json!({
                "code": -32602,
                "message": "invalid params: unknown field `binaryOutput`, expected one of \
                            `clientName`, `resumeSessionId`, `outputNotifications`",
            }))
            .await;
            let params = conn.handshake().await;
            let _ = params_tx.send(params);
            while let Some(request) = conn.request().await {
                conn.reply(&request, empty_read()).await;
            }
        }
    })
    .await;
    let client = ExecServerClient::connect(ClientConfig::new(server.url.clone()))
        .await
        .unwrap();
    let read = client
        .read(ReadParams {
            process_id: "p".to_string(),
            ..ReadParams::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (
            client.binary_output(),
            params_rx.recv().await,
            server.connections(),
            read.next_seq,
        ),
        (
            false,
            Some(json!({"clientName": "codex-exec-server-client"})),
            1,
            1,
        )
    );
}

#[tokio::test]
async fn the_client_skips_a_malformed_binary_frame_and_reads_the_next() {
    let server = ScriptedServer::start(|mut conn| async move {
        let params = conn.handshake().await;
        assert_eq!(params["binaryOutput"], json!(true));
        while let Some(request) = conn.request().await {
            let result = ReadResponse {
                chunks: vec![codex_exec_server::protocol::OutputChunk {
                    seq: 1,
                    stream: OutputStream::Stdout,
                    chunk: b"raw \xff bytes".as_slice().into(),
                }],
                next_seq: 2,
                ..ReadResponse::default()
            };
            let frame = result.to_binary_frame(&request["id"]).unwrap();
            // A truncated copy first: the client drops it and waits on.
            for frame in [frame[..frame.len() - 1].to_vec(), frame] {
                let _ = conn.ws.send(Message::Binary(frame.into())).await;
            }
        }
    })
    .await;
    let mut config = ClientConfig::new(server.url.clone());
    config.output_notifications = false;
    let client = ExecServerClient::connect(config).await.unwrap();
    let read = client
        .read(ReadParams {
            process_id: "p".to_string(),
            ..ReadParams::default()
        })
        .await
        .unwrap();
    let chunks: Vec<(u64, Vec<u8>)> = read
        .chunks
        .iter()
        .map(|chunk| (chunk.seq, chunk.chunk.as_bytes().to_vec()))
        .collect();
    assert_eq!(
        (chunks, read.next_seq),
        (vec![(1, b"raw \xff bytes".to_vec())], 2)
    );
}
