//! Section `throughput` of the benchmark: 1 GiB through the server, every byte delivered,
//! against a local pipe read by the same process; and a stalled client beside a streaming
//! one.

use std::time::Duration;
use std::time::Instant;

use base64::Engine;
use codex_exec_server::ClientConfig;
use codex_exec_server::ExecServerClient;
use codex_exec_server::protocol::OutputMode;
use codex_exec_server::protocol::ProcessEvent;
use codex_exec_server::protocol::ReadParams;
use futures_util::SinkExt;
use futures_util::StreamExt;
use serde_json::Value;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::STREAM_BYTES;
use super::Server;
use super::next_event;
use super::params;

const MIB: f64 = 1024.0 * 1024.0;
/// What the stalled client's process writes.
const STALLED_BYTES: u64 = 256 << 20;

/// `head -c STREAM_BYTES /dev/zero` read through a pipe by this process.
async fn local_pipe() -> Duration {
    let started = Instant::now();
    let mut child = tokio::process::Command::new("head")
        .args(["-c", &STREAM_BYTES.to_string(), "/dev/zero"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = stdout.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    child.wait().await.unwrap();
    assert_eq!(total, STREAM_BYTES);
    started.elapsed()
}

/// `bytes` of `head` through `client`'s notifications: (time, bytes received, bytes
/// reported lost).
async fn through_notifications(
    client: &ExecServerClient,
    process_id: &str,
    bytes: u64,
    mode: OutputMode,
) -> (Duration, u64, u64) {
    let started = Instant::now();
    let mut start = params(
        process_id.to_string(),
        &["head", "-c", &bytes.to_string(), "/dev/zero"],
    );
    start.output_mode = mode;
    let (_, mut events) = client.start_streaming(start).await.unwrap();
    let (mut received, mut lost) = (0u64, 0u64);
    loop {
        match next_event(&mut events).await {
            ProcessEvent::Output(n) if n.process_id == process_id => {
                received += n.chunk.as_bytes().len() as u64
            }
            ProcessEvent::Gap {
                process_id: id,
                gap,
            } if id == process_id => lost += gap.dropped_bytes,
            ProcessEvent::Closed(n) if n.process_id == process_id => break,
            _ => {}
        }
    }
    (started.elapsed(), received, lost)
}

/// `STREAM_BYTES` of `head` read with a `process/read` loop by a client that asked for no
/// output notifications (and for binary output frames or not): (time, bytes received,
/// bytes reported lost).
async fn through_reads(url: &str, process_id: &str, binary_output: bool) -> (Duration, u64, u64) {
    let mut config = ClientConfig::new(url);
    config.output_notifications = false;
    config.binary_output = binary_output;
    let client = ExecServerClient::connect(config).await.unwrap();
    let started = Instant::now();
    client
        .start(params(
            process_id.to_string(),
            &["head", "-c", &STREAM_BYTES.to_string(), "/dev/zero"],
        ))
        .await
        .unwrap();
    let (mut received, mut lost, mut after) = (0u64, 0u64, 0u64);
    loop {
        let read = client
            .read(ReadParams {
                process_id: process_id.to_string(),
                after_seq: Some(after),
                max_bytes: Some(8 << 20),
                wait_ms: Some(10_000),
                resume_notifications: false,
            })
            .await
            .unwrap();
        lost += read.gap.map_or(/*default*/ 0, |gap| gap.dropped_bytes);
        received += read
            .chunks
            .iter()
            .map(|chunk| chunk.chunk.as_bytes().len() as u64)
            .sum::<u64>();
        after = read.next_seq - 1;
        if read.closed {
            return (started.elapsed(), received, lost);
        }
    }
}

fn rate(bytes: u64, time: Duration) -> f64 {
    bytes as f64 / MIB / time.as_secs_f64()
}

/// Rounds of the lossless measurement.
const ROUNDS: usize = 3;

/// The median and the range of `values`.
fn spread(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

/// What a lossless run of `what` missed (or got twice) of `STREAM_BYTES`, plus what it
/// was told is lost, said when it is not 0.
fn shortfall(what: &str, received: u64, dropped: u64) -> u64 {
    let missed = STREAM_BYTES.abs_diff(received) + dropped;
    if missed != 0 {
        println!(
            "    LOSS in {what}: received {received} of {STREAM_BYTES} bytes, {dropped} \
             reported as gap"
        );
    }
    missed
}

/// One round's ratios to the pipe: (notifications, read loop).
type Ratios = (f64, f64);

/// One round of the lossless measurement for `client` (and, for the read loop, a client
/// of the same framing): the ratios to `pipe_rate`, adding what was lost to `lost`.
async fn lossless_round(
    server: &Server,
    client: &ExecServerClient,
    name: &str,
    pipe_rate: f64,
    lost: &mut u64,
) -> Ratios {
    // Counts the client's reconnects during the transfer, which a loss report names.
    let mut states = client.state_changes();
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = std::sync::Arc::clone(&count);
    let watcher = tokio::spawn(async move {
        while states.changed().await.is_ok() {
            let state = states.borrow_and_update().clone();
            if matches!(
                state,
                codex_exec_server::ConnectionState::Reconnecting { .. }
            ) {
                counter.fetch_add(/*val*/ 1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    let (time, received, dropped) = through_notifications(
        client,
        &format!("notify-{name}"),
        STREAM_BYTES,
        OutputMode::Pace,
    )
    .await;
    watcher.abort();
    let reconnects = count.load(std::sync::atomic::Ordering::Relaxed);
    let notify_rate = rate(received, time);
    let missed = shortfall(&format!("notify-{name}"), received, dropped);
    if missed != 0 || reconnects != 0 {
        println!("    (the client reconnected {reconnects} times during notify-{name})");
    }
    *lost += missed;
    let (time, received, dropped) = through_reads(
        &server.url,
        &format!("reads-{name}"),
        client.binary_output(),
    )
    .await;
    let read_rate = rate(received, time);
    *lost += shortfall(&format!("reads-{name}"), received, dropped);
    println!(
        "    {:6}: notifications {notify_rate:6.1} MiB/s ({:.2} of the pipe)   read loop \
         {read_rate:6.1} MiB/s ({:.2})",
        if client.binary_output() {
            "binary"
        } else {
            "text"
        },
        notify_rate / pipe_rate,
        read_rate / pipe_rate
    );
    (notify_rate / pipe_rate, read_rate / pipe_rate)
}

/// The medians (and ranges) of `rounds`, under `label`.
fn print_medians(label: &str, rounds: &[Ratios]) {
    let (mut notified, mut read): (Vec<f64>, Vec<f64>) = rounds.iter().copied().unzip();
    let (notified, notified_low, notified_high) = spread(&mut notified);
    let (read, read_low, read_high) = spread(&mut read);
    println!(
        "  {label}, of the pipe, median (range): notifications {notified:.2} \
         ({notified_low:.2}-{notified_high:.2}), read loop {read:.2} ({read_low:.2}-{read_high:.2})"
    );
}

pub(crate) async fn section() {
    let server = Server::start(&[]);
    // The default client (binary output frames), and one with text frames for comparison.
    let client = ExecServerClient::connect(ClientConfig::new(server.url.clone()))
        .await
        .unwrap();
    let mut text_config = ClientConfig::new(server.url.clone());
    text_config.binary_output = false;
    let text_client = ExecServerClient::connect(text_config).await.unwrap();
    // Each round measures its own pipe right before the clients: on this kind of machine
    // one pipe run can take half as long as the next, and a ratio is only fair to a
    // baseline taken in the same minute.
    println!(
        "streaming 1 GiB (head -c 1G /dev/zero), default server flags, {ROUNDS} rounds of: \
         a local pipe read by this process, then notifications and a process/read loop by the \
         default Rust client (binary output frames: {}) and by one with text frames:",
        client.binary_output()
    );
    let (mut binary, mut text, mut lost) = (Vec::new(), Vec::new(), 0);
    for round in 1..=ROUNDS {
        let pipe_rate = rate(STREAM_BYTES, local_pipe().await);
        println!("  round {round}: pipe {pipe_rate:7.1} MiB/s");
        binary.push(
            lossless_round(&server, &client, &format!("{round}"), pipe_rate, &mut lost).await,
        );
        text.push(
            lossless_round(
                &server,
                &text_client,
                &format!("text-{round}"),
                pipe_rate,
                &mut lost,
            )
            .await,
        );
    }
    print_medians("default client (binary)", &binary);
    print_medians("text frames            ", &text);
    println!("  {lost} bytes lost in all");
    let (time, received, lost) =
        through_notifications(&client, "drop", STREAM_BYTES, OutputMode::Drop).await;
    println!(
        "  outputMode \"drop\" (never blocks the process): over in {:.2} s; {:.1} MiB delivered, \
         {:.1} MiB reported as gap",
        time.as_secs_f64(),
        received as f64 / MIB,
        lost as f64 / MIB
    );
    println!("  (goal: pace loses 0 bytes both ways, at >= 0.5 of the pipe)\n");
    stalled_beside_streaming(&server, &client).await;
}

/// A client that stops reading its socket after starting a 256 MiB writer, while another
/// session streams 256 MiB: the first process is paused (alive, not done), the second
/// streams at full speed; then the first client reads again and gets every byte.
async fn stalled_beside_streaming(server: &Server, client: &ExecServerClient) {
    let dir = tempfile::tempdir().unwrap();
    let rss_before = server.rss_kib();
    let (mut stalled, _) = raw_session(&server.url).await;
    let script = format!("echo $$ > pid; head -c {STALLED_BYTES} /dev/zero; touch done",);
    let mut start =
        serde_json::to_value(params("stalled".to_string(), &["/bin/sh", "-c", &script])).unwrap();
    start["cwd"] = json!(dir.path());
    send(&mut stalled, /*id*/ 2, "process/start", start).await;
    // From here on nothing is read from `stalled`.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (time, received, _) =
        through_notifications(client, "beside", STALLED_BYTES, OutputMode::Pace).await;
    let (alone, _, _) =
        through_notifications(client, "alone", STALLED_BYTES, OutputMode::Pace).await;
    let pid: i32 = std::fs::read_to_string(dir.path().join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: signal 0 only checks that the process exists.
    let alive = unsafe {
        libc::kill(pid, /*sig*/ 0)
    } == 0;
    let done = dir.path().join("done").exists();
    println!("a client that stops reading after starting `head -c 256M`, beside another session:");
    println!(
        "  the other session's 256 MiB         {:8.1} MiB/s  ({:.2} of the same stream with no stalled client)",
        rate(received, time),
        alone.as_secs_f64() / time.as_secs_f64()
    );
    println!(
        "  the stalled client's process        {} and {}; server RSS {} KiB (before: {rss_before} KiB)",
        if alive { "alive" } else { "NOT ALIVE" },
        if done {
            "FINISHED (not paused)"
        } else {
            "paused"
        },
        server.rss_kib()
    );
    let (received, took) = drain(&mut stalled, "stalled").await;
    println!(
        "  once it reads again                 {:.1} MiB of {} MiB received in {:.2} s, {} bytes lost\n",
        received as f64 / MIB,
        STALLED_BYTES >> 20,
        took.as_secs_f64(),
        STALLED_BYTES - received
    );
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket session driven by hand (the Rust client would keep reading its socket).
async fn raw_session(url: &str) -> (Ws, String) {
    let (base, token) = match url.split_once("/?token=") {
        Some((base, token)) => (base.to_string(), Some(token.to_string())),
        None => (url.to_string(), None),
    };
    let mut request = base.into_client_request().unwrap();
    if let Some(token) = token {
        request
            .headers_mut()
            .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    send(
        &mut ws,
        /*id*/ 1,
        "initialize",
        json!({"clientName": "stalled"}),
    )
    .await;
    let reply = loop {
        let Some(Ok(Message::Text(text))) = ws.next().await else {
            panic!("initialize");
        };
        let value: Value = serde_json::from_str(text.as_str()).unwrap();
        if value["id"] == json!(1) {
            break value;
        }
    };
    let notification = json!({"jsonrpc": "2.0", "method": "initialized", "params": {}});
    ws.send(Message::text(notification.to_string()))
        .await
        .unwrap();
    let session = reply["result"]["sessionId"].as_str().unwrap().to_string();
    (ws, session)
}

async fn send(ws: &mut Ws, id: u64, method: &str, params: Value) {
    let frame = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    ws.send(Message::text(frame.to_string())).await.unwrap();
}

/// Reads `ws` until `process_id` closed: (output bytes received, time taken).
async fn drain(ws: &mut Ws, process_id: &str) -> (u64, Duration) {
    let started = Instant::now();
    let mut received = 0u64;
    while let Some(Ok(message)) = ws.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let value: Value = serde_json::from_str(text.as_str()).unwrap();
        if value["params"]["processId"] != json!(process_id) {
            continue;
        }
        match value["method"].as_str() {
            Some("process/output") => {
                let chunk = value["params"]["chunk"].as_str().unwrap();
                received += base64::engine::general_purpose::STANDARD
                    .decode(chunk)
                    .unwrap()
                    .len() as u64;
            }
            Some("process/closed") => break,
            _ => {}
        }
    }
    (received, started.elapsed())
}
