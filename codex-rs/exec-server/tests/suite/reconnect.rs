//! The client reconnects and resumes through connection cuts without losing a byte.

use std::sync::Arc;
use std::sync::Mutex;

use codex_exec_server::ClientConfig;
use codex_exec_server::ExecServerClient;
use codex_exec_server::protocol::OutputStream;
use codex_exec_server::protocol::ProcessEvent;
use pretty_assertions::assert_eq;
use tokio::net::TcpListener;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::harness::EVENT_TIMEOUT;
use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::cwd;
use super::harness::next_event;
use super::harness::typed_start;
use super::harness::wait_until;

/// A TCP proxy whose live connections the test can cut at will.
struct Proxy {
    addr: String,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let tracked = Arc::clone(&connections);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let handle = tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = inbound.set_nodelay(/*nodelay*/ true);
                    let _ = outbound.set_nodelay(/*nodelay*/ true);
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
                tracked.lock().unwrap().push(handle);
            }
        });
        Self {
            addr,
            connections,
            accept,
        }
    }

    /// Drop every live connection (both sides see the socket die).
    fn cut(&self) {
        for handle in self.connections.lock().unwrap().drain(..) {
            handle.abort();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

#[tokio::test]
async fn three_disconnects_lose_no_byte() {
    three_disconnects(/*binary_output*/ true).await;
}

#[tokio::test]
async fn three_disconnects_lose_no_byte_with_text_output() {
    three_disconnects(/*binary_output*/ false).await;
}

/// Cuts the connection of a client streaming a process's output three times, with
/// `binary_output` as the client's [`ClientConfig::binary_output`].
async fn three_disconnects(binary_output: bool) {
    let server = TestServer::start();
    let proxy = Proxy::start(server.addr()).await;
    let mut config = ClientConfig::new(server.url_via(&proxy.addr));
    config.binary_output = binary_output;
    let client = ExecServerClient::connect(config).await.unwrap();
    assert_eq!(client.binary_output(), binary_output);
    let dir = cwd();
    // Writes numbered lines as fast as it can until the test creates `stop`.
    let (_, mut events) = client
        .start_streaming(typed_start(
            "writer",
            &[
                "/bin/sh",
                "-c",
                "i=0; while [ ! -e stop ]; do echo \"line $i\"; i=$((i+1)); done; echo end",
            ],
            dir.path(),
        ))
        .await
        .unwrap();

    let mut output = Vec::new();
    let mut seqs = Vec::new();
    let mut cuts = 0;
    let mut bytes_at_last_cut = 0;
    let mut exit_code = None;
    loop {
        let event = next_event(&mut events).await;
        match event {
            ProcessEvent::Output(n) => {
                assert_eq!(n.stream, OutputStream::Stdout);
                seqs.push(n.seq);
                output.extend_from_slice(n.chunk.as_bytes());
                // Cut whenever new output arrived since the previous cut (so each cut
                // happens while the writer is running and after a successful resume).
                if cuts < 3 && output.len() > bytes_at_last_cut + 4096 {
                    proxy.cut();
                    cuts += 1;
                    bytes_at_last_cut = output.len();
                } else if cuts == 3 && output.len() > bytes_at_last_cut + 4096 {
                    std::fs::write(dir.path().join("stop"), b"").unwrap();
                    cuts += 1;
                }
            }
            ProcessEvent::Exited(n) => {
                seqs.push(n.seq);
                exit_code = Some(n.exit_code);
            }
            ProcessEvent::Closed(n) => {
                seqs.push(n.seq);
                break;
            }
            ProcessEvent::Gap { gap, .. } => panic!("unexpected gap {gap:?}"),
        }
    }
    assert_eq!(cuts, 4, "three cuts and the stop happened");
    assert_eq!(exit_code, Some(0));
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let text = String::from_utf8(output).unwrap();
    let lines = text.lines().count() - 1;
    let expected: String = (0..lines)
        .map(|i| format!("line {i}\n"))
        .chain(std::iter::once("end\n".to_string()))
        .collect();
    assert_eq!(text, expected);
    assert!(lines > 0);
}

/// A `process/read` loop (binary replies) whose connection is cut after each of its first
/// three replies: the reads are re-sent on the resumed session and every byte arrives
/// once. (About 4 MiB of output: the server reads at most 1 MiB at a time, so the process
/// cannot close before the third reply, whatever the timing.)
#[tokio::test]
async fn a_binary_read_loop_resumes_through_disconnects_without_loss() {
    const LINES: u32 = 600_000;
    let server = TestServer::start();
    let proxy = Proxy::start(server.addr()).await;
    let mut config = ClientConfig::new(server.url_via(&proxy.addr));
    config.output_notifications = false;
    let client = ExecServerClient::connect(config).await.unwrap();
    assert!(client.binary_output());
    let dir = cwd();
    let script = format!("seq 0 {}", LINES - 1);
    client
        .start(typed_start(
            "counter",
            &["/bin/sh", "-c", &script],
            dir.path(),
        ))
        .await
        .unwrap();
    let (mut output, mut after, mut cuts) = (Vec::new(), 0, 0);
    loop {
        let read = client
            .read(codex_exec_server::protocol::ReadParams {
                process_id: "counter".to_string(),
                after_seq: Some(after),
                max_bytes: Some(4096),
                wait_ms: Some(2_000),
                resume_notifications: false,
            })
            .await
            .unwrap();
        assert_eq!(read.gap, None);
        for chunk in &read.chunks {
            output.extend_from_slice(chunk.chunk.as_bytes());
        }
        after = read.next_seq - 1;
        if read.closed {
            break;
        }
        if cuts < 3 {
            proxy.cut();
            cuts += 1;
        }
    }
    let expected: String = (0..LINES).map(|i| format!("{i}\n")).collect();
    assert_eq!((String::from_utf8(output).unwrap(), cuts), (expected, 3));
}

#[tokio::test]
async fn stalled_client_learns_of_dropped_output_from_a_quiet_process() {
    // The client does not read while a process (`outputMode: "drop"`) writes 64 MiB and
    // then stays alive without writing, so its one-slot notification queue overflows and
    // the newest output is dropped. When it reads again, it must still receive a notification carrying the
    // process's last output seq (revealing the hole), without waiting for an exit.
    let server = TestServer::start_with(&["--notification-queue", "1"], &[]);
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    client
        .ok(
            "process/start",
            super::harness::drop_mode(super::harness::start_params(
                "burst",
                "head -c 67108864 /dev/zero; touch finished; exec sleep 1000",
                dir.path(),
            )),
        )
        .await;
    let finished = dir.path().join("finished");
    super::harness::wait_until("burst written", EVENT_TIMEOUT, || finished.exists()).await;
    let state = client
        .ok(
            "process/read",
            serde_json::json!({"processId": "burst", "afterSeq": u64::MAX / 2}),
        )
        .await;
    let last_seq = state["nextSeq"].as_u64().unwrap() - 1;
    assert_eq!(state["exited"], serde_json::json!(false));
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        let message = match client.notifications.pop_front() {
            Some(message) => message,
            None => {
                let remaining = deadline - tokio::time::Instant::now();
                tokio::time::timeout(remaining, client.recv())
                    .await
                    .expect("the last output seq is announced")
            }
        };
        if message["params"]["seq"].as_u64() == Some(last_seq) {
            assert_eq!(message["method"], serde_json::json!("process/output"));
            break;
        }
    }
    client
        .ok(
            "process/terminate",
            serde_json::json!({"processId": "burst"}),
        )
        .await;
}

#[tokio::test]
async fn dropped_notifications_are_refilled_in_order() {
    // A one-slot notification queue: most notifications are dropped for this connection,
    // and the client must fill every hole from the retention log.
    let server = TestServer::start_with(&["--notification-queue", "1"], &[]);
    let client = ExecServerClient::connect(ClientConfig::new(server.url.clone()))
        .await
        .unwrap();
    let dir = cwd();
    let (_, mut events) = client
        .start_streaming(typed_start(
            "counter",
            &[
                "/bin/sh",
                "-c",
                "i=0; while [ $i -lt 20000 ]; do echo $i; i=$((i+1)); done",
            ],
            dir.path(),
        ))
        .await
        .unwrap();
    let mut output = Vec::new();
    let mut seqs = Vec::new();
    loop {
        let event = next_event(&mut events).await;
        match event {
            ProcessEvent::Output(n) => {
                seqs.push(n.seq);
                output.extend_from_slice(n.chunk.as_bytes());
            }
            ProcessEvent::Exited(n) => seqs.push(n.seq),
            ProcessEvent::Closed(n) => {
                seqs.push(n.seq);
                break;
            }
            ProcessEvent::Gap { gap, .. } => panic!("unexpected gap {gap:?}"),
        }
    }
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let expected: String = (0..20000).map(|i| format!("{i}\n")).collect();
    assert_eq!(String::from_utf8(output).unwrap(), expected);
}

/// A server that stops answering without closing the connection (here: stopped with
/// SIGSTOP) is noticed after `server_timeout`: the client tries to reconnect, gives up
/// after `reconnect_timeout`, and the waiting request fails instead of hanging forever.
#[tokio::test]
async fn a_server_that_goes_silent_fails_requests_instead_of_hanging() {
    let server = TestServer::start();
    let mut config = ClientConfig::new(server.url.clone());
    config.server_timeout = std::time::Duration::from_secs(1);
    config.reconnect_timeout = std::time::Duration::from_secs(2);
    let client = ExecServerClient::connect(config).await.unwrap();
    let pid = i32::try_from(server.pid()).unwrap();

    // SAFETY: kill(2) with plain integers; the server is our child.
    unsafe {
        libc::kill(pid, libc::SIGSTOP);
    }
    // kill(2) returns before every thread has stopped: a thread in the middle of its work
    // could still answer the request below (with `unknownProcess`). Wait until all are.
    wait_until("every server thread stopped", EVENT_TIMEOUT, || {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|tasks| {
                tasks.flatten().all(|task| {
                    std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| {
                        stat.rsplit_once(") ")
                            .is_some_and(|(_, rest)| rest.starts_with('T'))
                    })
                })
            })
            .unwrap_or(false)
    })
    .await;
    let read = tokio::time::timeout(
        EVENT_TIMEOUT,
        client.read(codex_exec_server::protocol::ReadParams {
            process_id: "anything".to_string(),
            after_seq: None,
            max_bytes: None,
            wait_ms: None,
            resume_notifications: false,
        }),
    )
    .await;
    // SAFETY: as above.
    unsafe {
        libc::kill(pid, libc::SIGCONT);
    }

    let error = read
        .expect("the request ended instead of hanging")
        .unwrap_err();
    // The server is stopped, not gone: the client reconnects, finds nobody answering, and
    // says so as a typed error.
    assert!(
        matches!(
            error,
            codex_exec_server::ExecError::Disconnected { .. }
                | codex_exec_server::ExecError::SessionLost { .. }
        ),
        "{error:?}"
    );
}

/// A flood (256 MiB as fast as `head` writes) whose connection is cut five times while
/// the client takes everything in at full speed, with a window of 1 MiB: output that was
/// on its way when the connection broke (far more than the window, in the sockets and the
/// proxy) is still retained at the resume, because the client acknowledges what it
/// received (`acknowledgeOutput`) and the server counts only that as delivered. Without
/// acknowledgements it lost several MiB per cut (reported as gaps).
#[tokio::test]
async fn cuts_of_a_flood_lose_nothing_with_acknowledgements() {
    let (received, gap_bytes, total) = flood_with_cuts(/*acknowledge_output*/ true).await;
    assert_eq!((received, gap_bytes), (total, 0));
}

/// The same without acknowledgements (a client that does not offer them, or an older
/// server): output sent when the connection broke may be gone by the resume, but never
/// silently: every byte is either received or reported in a gap.
#[tokio::test]
async fn without_acknowledgements_a_cut_loses_nothing_silently() {
    let (received, gap_bytes, total) = flood_with_cuts(/*acknowledge_output*/ false).await;
    assert_eq!(received + gap_bytes, total);
}

/// Streams 256 MiB of `head` through a proxy cut five times, from a server with a 1 MiB
/// window, with `acknowledge_output` as the client's: (bytes received, bytes reported in
/// gaps, bytes written).
async fn flood_with_cuts(acknowledge_output: bool) -> (u64, u64, u64) {
    const TOTAL: u64 = 256 << 20;
    let server = TestServer::start_with(&["--max-retained-bytes", "1048576"], &[]);
    let proxy = Proxy::start(server.addr()).await;
    let mut config = ClientConfig::new(server.url_via(&proxy.addr));
    config.acknowledge_output = acknowledge_output;
    let client = ExecServerClient::connect(config).await.unwrap();
    let dir = cwd();
    let script = format!("head -c {TOTAL} /dev/zero");
    let (_, mut events) = client
        .start_streaming(typed_start(
            "flood",
            &["/bin/sh", "-c", &script],
            dir.path(),
        ))
        .await
        .unwrap();
    let (mut received, mut gap_bytes, mut cuts, mut outputs) = (0u64, 0u64, 0, 0u64);
    loop {
        let event = next_event(&mut events).await;
        match event {
            ProcessEvent::Output(output) => {
                received += output.chunk.as_bytes().len() as u64;
                outputs += 1;
                if outputs % 4 == 0 && cuts < 5 {
                    proxy.cut();
                    cuts += 1;
                }
            }
            ProcessEvent::Gap { gap, .. } => gap_bytes += gap.dropped_bytes,
            ProcessEvent::Closed(_) => break,
            ProcessEvent::Exited(_) => {}
        }
    }
    assert_eq!(cuts, 5, "the flood ended before five cuts");
    (received, gap_bytes, TOTAL)
}
