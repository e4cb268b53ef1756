//! Sessions: detach on disconnect, resume with takeover, TTL expiry.

use pretty_assertions::assert_eq;
use serde_json::json;

use super::harness::EVENT_TIMEOUT;
use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::cwd;
use super::harness::pid_alive;
use super::harness::start_params;
use super::harness::unb64;
use super::harness::wait_until;

/// Start `sleep 1000` in its own group and return the pid it reports.
async fn start_sleeper(client: &mut RawClient, process_id: &str) -> i32 {
    let dir = cwd();
    client
        .ok(
            "process/start",
            start_params(process_id, "echo $$; exec sleep 1000", dir.path()),
        )
        .await;
    let read = client
        .ok(
            "process/read",
            json!({"processId": process_id, "afterSeq": 0, "waitMs": 10000}),
        )
        .await;
    String::from_utf8(unb64(&read["chunks"][0]["chunk"]))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn detached_session_keeps_running_and_resumes() {
    let server = TestServer::start();
    let (mut client, session_id) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    let mut params = start_params("p", "read line; echo \"after-resume:$line\"", dir.path());
    params["pipeStdin"] = json!(true);
    client.ok("process/start", params).await;
    client.close().await;

    let mut resumed = RawClient::connect(&server.url).await;
    let result = resumed
        .ok(
            "initialize",
            json!({"clientName": "t", "resumeSessionId": session_id}),
        )
        .await;
    assert_eq!(result["sessionId"], json!(session_id));
    use super::harness::b64;
    assert_eq!(
        resumed
            .ok(
                "process/write",
                json!({"processId": "p", "chunk": b64(b"x\n")})
            )
            .await,
        json!({"status": "accepted"})
    );
    let (output, _) = resumed.read_all("p").await;
    assert_eq!(output, b"after-resume:x\n".to_vec());
}

#[tokio::test]
async fn expired_session_kills_its_processes_and_cannot_resume() {
    let server = TestServer::start_with(&["--session-ttl", "300ms"], &[]);
    let (mut client, session_id) = RawClient::initialized(&server.url).await;
    let pid = start_sleeper(&mut client, "sleeper").await;
    // A background child in the same process group, whose parent stays: the whole group
    // goes at expiry, not just the process the client started.
    let dir = cwd();
    client
        .ok(
            "process/start",
            start_params("group", "sleep 1000 & echo $!; wait", dir.path()),
        )
        .await;
    let read = client
        .ok(
            "process/read",
            json!({"processId": "group", "afterSeq": 0, "waitMs": 10000}),
        )
        .await;
    let grandchild: i32 = String::from_utf8(unb64(&read["chunks"][0]["chunk"]))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pid_alive(pid) && pid_alive(grandchild));
    client.close().await;

    wait_until(
        "the processes are killed after the TTL",
        EVENT_TIMEOUT,
        || !pid_alive(pid) && !pid_alive(grandchild),
    )
    .await;
    let mut late = RawClient::connect(&server.url).await;
    let response = late
        .request(
            "initialize",
            json!({"clientName": "t", "resumeSessionId": session_id}),
        )
        .await;
    assert_eq!(
        (
            response["error"]["code"].as_i64(),
            response["error"]["data"]["kind"].as_str()
        ),
        (Some(-32004), Some("sessionExpired"))
    );
}

#[tokio::test]
async fn takeover_answers_the_old_long_poll_with_an_error() {
    let server = TestServer::start();
    let (mut old, session_id) = RawClient::initialized(&server.url).await;
    start_sleeper(&mut old, "quiet").await;
    let poll = old
        .send_request(
            "process/read",
            json!({"processId": "quiet", "afterSeq": 1, "waitMs": 60000}),
        )
        .await;
    // Make sure the long-poll is registered before the takeover: a request sent after it
    // on the same connection is answered after it was dispatched.
    old.ok("process/read", json!({"processId": "quiet"})).await;

    let mut new = RawClient::connect(&server.url).await;
    let result = new
        .ok(
            "initialize",
            json!({"clientName": "new", "resumeSessionId": session_id}),
        )
        .await;
    assert_eq!(result["sessionId"], json!(session_id));

    let answer = old.response(poll).await;
    assert_eq!(
        (
            answer["error"]["code"].as_i64(),
            answer["error"]["data"]["kind"].as_str()
        ),
        (Some(-32006), Some("sessionTakenOver"))
    );
    // The old attachment can no longer act on the session...
    let response = old
        .request("process/read", json!({"processId": "quiet"}))
        .await;
    assert_eq!(response["error"]["data"]["kind"], json!("sessionTakenOver"));
    // ...and the new one owns it.
    assert_eq!(
        new.ok("process/terminate", json!({"processId": "quiet"}))
            .await,
        json!({"running": true})
    );
}

#[tokio::test]
async fn closed_process_is_readable_for_the_grace_period_then_unknown() {
    let server = TestServer::start_with(&["--closed-grace", "500ms"], &[]);
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    client
        .ok(
            "process/start",
            start_params("brief", "echo tail", dir.path()),
        )
        .await;
    let (output, read) = client.read_all("brief").await;
    assert_eq!(
        (output, &read["closed"]),
        (b"tail\n".to_vec(), &json!(true))
    );
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        let response = client
            .request("process/read", json!({"processId": "brief"}))
            .await;
        if response["error"]["data"]["kind"] == json!("unknownProcess") {
            break;
        }
        // Until forgotten, the tail stays readable.
        assert_eq!(response["result"]["closed"], json!(true), "{response}");
        assert!(tokio::time::Instant::now() < deadline, "never forgotten");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The id can be used again.
    client
        .ok("process/start", start_params("brief", "true", dir.path()))
        .await;
}

/// A client that vanishes without closing its connection (here: it stops reading, so it
/// answers no ping) is taken for gone after `--client-timeout`: its session is detached,
/// the TTL runs out, and its processes are killed. Otherwise they would run forever.
#[tokio::test]
async fn a_client_that_goes_silent_is_detached_and_its_session_expires() {
    let server = TestServer::start_with(&["--client-timeout", "1s", "--session-ttl", "1s"], &[]);
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let pid = start_sleeper(&mut client, "sleeper").await;

    // `client` stays open but is never polled again: no pongs, no requests.
    wait_until(
        "the silent client's process is killed",
        EVENT_TIMEOUT,
        || !pid_alive(pid),
    )
    .await;
    drop(client);
}

/// A client that is alive but quiet (waiting on a long-poll longer than the timeout)
/// answers the server's pings and keeps its connection.
#[tokio::test]
async fn a_client_waiting_on_a_long_poll_is_not_taken_for_gone() {
    let server = TestServer::start_with(&["--client-timeout", "2s"], &[]);
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let pid = start_sleeper(&mut client, "sleeper").await;

    let read = client
        .ok(
            "process/read",
            json!({"processId": "sleeper", "afterSeq": 1, "waitMs": 5000}),
        )
        .await;
    let again = client
        .ok("process/terminate", json!({"processId": "sleeper"}))
        .await;

    assert_eq!(read["chunks"], json!([]));
    assert_eq!(again, json!({"running": true}));
    wait_until("terminated", EVENT_TIMEOUT, || !pid_alive(pid)).await;
}

/// Our own client answers the server's pings while it waits for nothing in particular,
/// so an idle but live `ExecServerClient` is never taken for gone.
#[tokio::test]
async fn an_idle_exec_server_client_keeps_its_connection() {
    let server = TestServer::start_under(&["env"], &["--client-timeout", "2s"]);
    let client = codex_exec_server::ExecServerClient::connect(
        codex_exec_server::ClientConfig::new(server.url.clone()),
    )
    .await
    .unwrap();

    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let response = client
        .terminate(codex_exec_server::protocol::TerminateParams {
            process_id: "nothing".to_string(),
        })
        .await;

    assert!(response.is_err(), "an unknown process: {response:?}");
    assert!(
        !server.stderr().contains("no sign of life"),
        "the server closed an idle live client: {}",
        server.stderr()
    );
}

/// An upload that takes longer than `--client-timeout` but keeps moving is a sign of life
/// all along (the client cannot answer a ping in the middle of its own frame): the
/// request is answered, not cut off. A raw client sends one 600 KB `initialize` frame
/// over about three seconds against a one-second timeout.
#[test]
fn a_slow_but_moving_upload_is_not_taken_for_silence() {
    use std::io::Read;
    use std::io::Write;

    let server = TestServer::start_with(&["--client-timeout", "1s"], &[]);
    let mut socket = std::net::TcpStream::connect(server.addr()).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        socket,
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.upgrade_target(),
        server.addr()
    )
    .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        socket.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );

    let name = "x".repeat(600 * 1024);
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                         "params": {"clientName": name}})
    .to_string();
    let mask = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | 127];
    frame.extend_from_slice(&(request.len() as u64).to_be_bytes());
    frame.extend_from_slice(&mask);
    frame.extend(
        request
            .bytes()
            .enumerate()
            .map(|(i, byte)| byte ^ mask[i % 4]),
    );
    for chunk in frame.chunks(frame.len() / 30 + 1) {
        socket.write_all(chunk).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // Frames back: skip the server's pings (0x89) until the first text frame (0x81).
    let text = loop {
        let mut header = [0u8; 2];
        socket.read_exact(&mut header).unwrap();
        let len = match header[1] & 0x7f {
            126 => {
                let mut len = [0u8; 2];
                socket.read_exact(&mut len).unwrap();
                u64::from(u16::from_be_bytes(len))
            }
            127 => {
                let mut len = [0u8; 8];
                socket.read_exact(&mut len).unwrap();
                u64::from_be_bytes(len)
            }
            len => u64::from(len),
        };
        let mut payload = vec![0u8; usize::try_from(len).unwrap()];
        socket.read_exact(&mut payload).unwrap();
        match header[0] {
            0x89 => continue,
            0x81 => break String::from_utf8(payload).unwrap(),
            other => panic!(
                "unexpected frame {other:#x}: {}",
                String::from_utf8_lossy(&payload)
            ),
        }
    };
    let reply: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(reply["id"], json!(1));
    assert!(reply["result"]["sessionId"].is_string(), "{reply}");
}

/// A client that asks for large answers and then never reads them: once it showed no
/// sign of life for the timeout, the connection ends, and the writer stuck on the full
/// socket is given the timeout once more and then dropped with what it still holds,
/// instead of keeping it (up to 1024 answers of several MiB) for as long as the peer's
/// kernel keeps the connection open.
#[tokio::test]
async fn a_connection_whose_client_stopped_reading_is_dropped_after_the_timeout() {
    let server = TestServer::start_under(&["env"], &["--client-timeout", "1s"]);
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    let file = dir.path().join("big");
    std::fs::write(&file, vec![b'x'; 4 * 1024 * 1024]).unwrap();

    for _ in 0..20 {
        client
            .send_request("fs/readFile", json!({"path": file}))
            .await;
    }

    // `client` is never read again.
    wait_until("the stuck writer is dropped", EVENT_TIMEOUT, || {
        server
            .stderr()
            .contains("dropping the connection and what was still queued")
    })
    .await;
    assert!(
        server.stderr().contains("no sign of life"),
        "{}",
        server.stderr()
    );
    drop(client);
}
