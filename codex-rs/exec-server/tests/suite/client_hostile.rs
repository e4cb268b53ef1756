//! The client against servers that misbehave (scripted, see `scripted_server.rs`) and
//! against our own server's large replies: every call ends (answered, or with a typed
//! error), memory and reconnects stay bounded, and the client stays usable whenever the
//! session still exists.

use std::time::Duration;

use codex_exec_server::ClientConfig;
use codex_exec_server::ConnectionState;
use codex_exec_server::ExecError;
use codex_exec_server::ExecServerClient;
use codex_exec_server::RemoteFileSystem;
use codex_exec_server::SessionLoss;
use codex_exec_server::protocol::ReadParams;
use codex_exec_server::protocol::ReadResponse;
use codex_exec_server::protocol::WriteParams;
use codex_exec_server::protocol::WriteResponse;
use codex_exec_server::protocol::WriteStatus;
use codex_file_system::ExecutorFileSystem;
use codex_file_system::FileSystemError;
use codex_utils_absolute_path::AbsolutePathBuf;
use futures_util::SinkExt;
use futures_util::StreamExt;
use futures_util::future::join_all;
use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::harness::TestServer;
use super::scripted_server::CountingProxy;
use super::scripted_server::SESSION_ID;
use super::scripted_server::ScriptedServer;
use super::scripted_server::empty_read;

/// Upper bound for a call that must end soon (generous: the point is that it ends).
const ENDS_WITHIN: Duration = Duration::from_secs(10);

/// A configuration with small deadlines, so failures show quickly.
fn quick_config(url: &str) -> ClientConfig {
    let mut config = ClientConfig::new(url);
    config.request_timeout = Duration::from_secs(2);
    config.send_timeout = Duration::from_secs(1);
    config.reconnect_timeout = Duration::from_secs(3);
    config
}

fn read_params(process_id: &str) -> ReadParams {
    ReadParams {
        process_id: process_id.to_string(),
        after_seq: None,
        max_bytes: None,
        wait_ms: None,
        resume_notifications: false,
    }
}

fn empty_read_response() -> ReadResponse {
    serde_json::from_value(empty_read()).unwrap()
}

/// `Debug` of a value, to compare errors (which are not `PartialEq`) whole.
fn debug(value: &impl std::fmt::Debug) -> String {
    format!("{value:?}")
}

/// A script answering every request but those for `process/read` of `held`.
async fn answer_all_but_held(mut conn: super::scripted_server::Conn) {
    conn.handshake().await;
    while let Some(request) = conn.request().await {
        if request["params"]["processId"] != json!("held") {
            conn.reply(&request, empty_read()).await;
        }
    }
}

#[tokio::test]
async fn a_reply_with_the_wrong_id_times_out_and_the_next_request_is_answered() {
    let server = ScriptedServer::start(|mut conn| async move {
        conn.handshake().await;
        let first = conn.request().await.unwrap();
        let wrong = json!({"id": first["id"].as_u64().unwrap() + 1000});
        conn.reply(&wrong, empty_read()).await;
        while let Some(request) = conn.request().await {
            conn.reply(&request, empty_read()).await;
        }
    })
    .await;
    let mut config = quick_config(&server.url);
    config.request_timeout = Duration::from_secs(1);
    let client = ExecServerClient::connect(config).await.unwrap();

    let err = client.read(read_params("p")).await.unwrap_err();
    assert_eq!(
        debug(&err),
        debug(&ExecError::Timeout {
            method: "process/read".to_string(),
            timeout: Duration::from_secs(1),
        })
    );
    assert_eq!(
        client.read(read_params("p")).await.unwrap(),
        empty_read_response()
    );
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_server_that_holds_requests_but_answers_pings_times_them_out() {
    let server = ScriptedServer::start(|mut conn| async move {
        conn.handshake().await;
        // Reading answers the client's pings; requests are never answered.
        while conn.message().await.is_some() {}
    })
    .await;
    let mut config = quick_config(&server.url);
    // Pings every 333 ms, all answered: the connection looks alive throughout.
    config.server_timeout = Duration::from_secs(1);
    config.request_timeout = Duration::from_secs(2);
    let client = ExecServerClient::connect(config).await.unwrap();

    let err = client.read(read_params("p")).await.unwrap_err();
    assert_eq!(
        debug(&err),
        debug(&ExecError::Timeout {
            method: "process/read".to_string(),
            timeout: Duration::from_secs(2),
        })
    );
    assert_eq!(server.connections(), 1);
    assert_eq!(client.state(), ConnectionState::Connected);
}

#[tokio::test]
async fn a_send_stuck_on_a_server_that_stopped_reading_is_given_up_and_resent() {
    // A small receive buffer, so the client's 8 MiB write cannot complete while the first
    // connection is not read.
    let server = ScriptedServer::start_with(Some(16 * 1024), |mut conn| async move {
        conn.handshake().await;
        if conn.number == 1 {
            std::future::pending::<()>().await;
        }
        while let Some(request) = conn.request().await {
            let chunk_len = request["params"]["chunk"]
                .as_str()
                .map_or(/*default*/ 0, str::len);
            assert!(chunk_len > 8 << 20, "the whole chunk arrived: {chunk_len}");
            conn.reply(&request, json!({"status": "accepted"})).await;
        }
    })
    .await;
    let mut config = quick_config(&server.url);
    config.send_timeout = Duration::from_secs(1);
    config.request_timeout = ENDS_WITHIN;
    let client = ExecServerClient::connect(config).await.unwrap();

    let response = client
        .write(WriteParams {
            process_id: "p".to_string(),
            chunk: vec![b'x'; 8 << 20].into(),
            write_id: None,
            close_stdin: false,
        })
        .await
        .unwrap();
    assert_eq!(
        response,
        WriteResponse {
            status: WriteStatus::Accepted
        }
    );
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn a_reply_over_the_limit_fails_that_request_and_the_client_stays_usable() {
    let server = ScriptedServer::start(|mut conn| async move {
        conn.handshake().await;
        while let Some(request) = conn.request().await {
            if request["params"]["processId"] == json!("big") {
                conn.reply(&request, json!({"padding": "x".repeat(100_000)}))
                    .await;
            } else {
                conn.reply(&request, empty_read()).await;
            }
        }
    })
    .await;
    let mut config = quick_config(&server.url);
    config.max_message_bytes = 64 * 1024;
    let client = ExecServerClient::connect(config).await.unwrap();

    let err = client.read(read_params("big")).await.unwrap_err();
    assert_eq!(
        debug(&err),
        debug(&ExecError::ReplyTooLarge {
            method: "process/read".to_string(),
            limit: 64 * 1024,
        })
    );
    assert_eq!(
        client.read(read_params("small")).await.unwrap(),
        empty_read_response()
    );
    // One reconnect for the broken connection, no storm.
    assert_eq!(server.connections(), 2);
    assert_eq!(client.state(), ConnectionState::Connected);
}

#[tokio::test]
async fn a_server_that_always_closes_mid_frame_loses_the_session() {
    let server = ScriptedServer::start(|mut conn| async move {
        conn.handshake().await;
        if conn.request().await.is_some() {
            // A text frame announcing 1000 bytes, cut after 10; then the connection drops.
            conn.write_raw(&[0x81, 126, 0x03, 0xe8]).await;
            conn.write_raw(br#"{"jsonrpc""#).await;
        }
    })
    .await;
    let mut config = quick_config(&server.url);
    config.request_timeout = ENDS_WITHIN;
    config.reconnect_timeout = ENDS_WITHIN;
    let client = ExecServerClient::connect(config).await.unwrap();

    let err = client.read(read_params("p")).await.unwrap_err();
    assert!(
        matches!(
            &err,
            ExecError::SessionLost {
                session_id,
                cause: SessionLoss::RetryBudgetExhausted(_),
            } if session_id == SESSION_ID
        ),
        "{err:?}"
    );
    assert!(
        matches!(
            client.state(),
            ConnectionState::Lost(SessionLoss::RetryBudgetExhausted(_))
        ),
        "{:?}",
        client.state()
    );
    assert!(
        server.connections() <= 5,
        "{} connections",
        server.connections()
    );
    // Later calls fail the same way, at once.
    let err = client.read(read_params("p")).await.unwrap_err();
    assert!(
        matches!(
            &err,
            ExecError::SessionLost {
                cause: SessionLoss::RetryBudgetExhausted(_),
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn abandoned_requests_free_their_slots() {
    let server = ScriptedServer::start(answer_all_but_held).await;
    let mut config = quick_config(&server.url);
    config.request_timeout = Duration::from_secs(1);
    let client = ExecServerClient::connect(config).await.unwrap();

    // 600 callers give up: half by the request deadline, half by dropping the call.
    let timed_out = join_all((0..300).map(|_| client.read(read_params("held"))));
    let dropped = join_all((0..300).map(|_| {
        tokio::time::timeout(Duration::from_millis(100), client.read(read_params("held")))
    }));
    let (timed_out, dropped) = tokio::join!(timed_out, dropped);
    let timeouts = timed_out
        .iter()
        .filter(|result| matches!(result, Err(ExecError::Timeout { .. })))
        .count();
    assert_eq!(timeouts, 300);
    assert_eq!(dropped.iter().filter(|result| result.is_err()).count(), 300);

    // Every slot was taken by an abandoned request; the next one is still answered.
    assert_eq!(
        client.read(read_params("answered")).await.unwrap(),
        empty_read_response()
    );
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_flood_of_pings_and_unsolicited_messages_does_not_stop_requests() {
    let server = ScriptedServer::start(|mut conn| async move {
        conn.handshake().await;
        let (mut sink, mut stream) = conn.ws.split();
        // Read all along (answering the client's pongs is not the point here).
        let (requests_tx, mut requests) = mpsc::unbounded_channel::<Value>();
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Text(text) = message {
                    let _ = requests_tx.send(serde_json::from_str(text.as_str()).unwrap());
                }
            }
        });
        let Some(first) = requests.recv().await else {
            return;
        };
        for i in 0..10_000u64 {
            let unknown_reply = json!({"jsonrpc": "2.0", "id": 1_000_000 + i, "result": {}});
            let notification = json!({"jsonrpc": "2.0", "method": "no/such", "params": {"i": i}});
            let _ = sink.feed(Message::Ping(Default::default())).await;
            let _ = sink.feed(Message::text(unknown_reply.to_string())).await;
            let _ = sink.feed(Message::text(notification.to_string())).await;
        }
        let reply = json!({"jsonrpc": "2.0", "id": first["id"], "result": empty_read()});
        let _ = sink.send(Message::text(reply.to_string())).await;
        // The second request is never answered: pings only, until the client is gone.
        let _ = requests.recv().await;
        while sink.send(Message::Ping(Default::default())).await.is_ok() {}
    })
    .await;
    let client = ExecServerClient::connect(quick_config(&server.url))
        .await
        .unwrap();

    assert_eq!(
        client.read(read_params("p")).await.unwrap(),
        empty_read_response()
    );
    let err = client.read(read_params("p")).await.unwrap_err();
    assert_eq!(
        debug(&err),
        debug(&ExecError::Timeout {
            method: "process/read".to_string(),
            timeout: Duration::from_secs(2),
        })
    );
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_dead_server_fails_requests_fast_and_then_the_session_is_lost() {
    let server = ScriptedServer::start(answer_all_but_held).await;
    let mut config = quick_config(&server.url);
    // Far longer than the test: a request that waits for it fails the test.
    config.request_timeout = Duration::from_secs(60);
    let client = ExecServerClient::connect(config).await.unwrap();
    assert_eq!(
        client.read(read_params("p")).await.unwrap(),
        empty_read_response()
    );

    server.stop();
    let err = tokio::time::timeout(ENDS_WITHIN, client.read(read_params("p")))
        .await
        .expect("the request failed fast instead of waiting")
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ExecError::Disconnected { attempts, last_error }
                if *attempts >= 1 && !last_error.is_empty()
        ),
        "{err:?}"
    );

    let mut changes = client.state_changes();
    tokio::time::timeout(
        ENDS_WITHIN,
        changes.wait_for(|state| matches!(state, ConnectionState::Lost(_))),
    )
    .await
    .expect("the session is lost after the reconnect window")
    .unwrap();
    assert!(
        matches!(
            client.state(),
            ConnectionState::Lost(SessionLoss::Unreachable { attempts, .. }) if attempts >= 1
        ),
        "{:?}",
        client.state()
    );
    let err = client.read(read_params("p")).await.unwrap_err();
    assert!(
        matches!(
            &err,
            ExecError::SessionLost {
                cause: SessionLoss::Unreachable { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_refused_resume_loses_the_session_with_its_cause() {
    let refusals = [
        (
            ExecError::UnknownSession(SESSION_ID.to_string()),
            SessionLoss::ServerRestarted,
        ),
        (
            ExecError::SessionExpired(SESSION_ID.to_string()),
            SessionLoss::Expired,
        ),
    ];
    for (refusal, cause) in refusals {
        let error = serde_json::to_value(refusal.to_rpc_error()).unwrap();
        let server = ScriptedServer::start(move |mut conn| {
            let error = error.clone();
            async move {
                if conn.number == 1 {
                    // Take the first request, then drop the connection.
                    conn.handshake().await;
                    let _ = conn.request().await;
                } else {
                    conn.refuse_initialize(error).await;
                }
            }
        })
        .await;
        let client = ExecServerClient::connect(quick_config(&server.url))
            .await
            .unwrap();

        let err = client.read(read_params("p")).await.unwrap_err();
        assert_eq!(
            debug(&err),
            debug(&ExecError::SessionLost {
                session_id: SESSION_ID.to_string(),
                cause: cause.clone(),
            })
        );
        assert_eq!(client.state(), ConnectionState::Lost(cause));
        assert_eq!(server.connections(), 2);
    }
}

#[tokio::test]
async fn a_session_taken_over_is_lost() {
    let server = ScriptedServer::start(|mut conn| async move {
        conn.handshake().await;
        while let Some(request) = conn.request().await {
            let error = serde_json::to_value(ExecError::SessionTakenOver.to_rpc_error()).unwrap();
            conn.send(json!({"jsonrpc": "2.0", "id": request["id"], "error": error}))
                .await;
        }
    })
    .await;
    let client = ExecServerClient::connect(quick_config(&server.url))
        .await
        .unwrap();

    let err = client.read(read_params("p")).await.unwrap_err();
    assert_eq!(
        debug(&err),
        debug(&ExecError::SessionLost {
            session_id: SESSION_ID.to_string(),
            cause: SessionLoss::TakenOver,
        })
    );
    assert_eq!(
        client.state(),
        ConnectionState::Lost(SessionLoss::TakenOver)
    );
    assert_eq!(server.connections(), 1);
}

fn abs(path: &std::path::Path) -> AbsolutePathBuf {
    AbsolutePathBuf::try_from_absolute(path).unwrap()
}

/// Our own server: a file whose `fs/readFile` reply is over the client's limit is a typed
/// error for that call only; the client reconnects once and goes on.
#[tokio::test]
async fn a_file_over_the_client_limit_is_a_typed_error_without_a_reconnect_storm() {
    let server = TestServer::start();
    let proxy = CountingProxy::start(server.addr()).await;
    let mut config = ClientConfig::new(server.url_via(&proxy.addr));
    config.max_message_bytes = 256 * 1024;
    let client = ExecServerClient::connect(config).await.unwrap();
    let fs = RemoteFileSystem::new(client.clone());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big"), vec![b'x'; 1 << 20]).unwrap();
    std::fs::write(dir.path().join("small"), b"small").unwrap();

    let err = fs
        .read_file(&abs(&dir.path().join("big")), /*sandbox_policy*/ None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        FileSystemError::Transport(
            ExecError::ReplyTooLarge {
                method: "fs/readFile".to_string(),
                limit: 256 * 1024,
            }
            .to_string()
        )
    );
    assert_eq!(
        fs.read_file(
            &abs(&dir.path().join("small")),
            /*sandbox_policy*/ None
        )
        .await
        .unwrap(),
        b"small".to_vec()
    );
    assert_eq!(proxy.connections(), 2);
    assert_eq!(client.state(), ConnectionState::Connected);
}

/// Our own server allowed large files: with the client's default limits, a 20 MiB file
/// (27 MiB as base64, in one frame) arrives whole on the first connection.
#[tokio::test]
async fn the_default_limits_take_our_servers_largest_replies() {
    let server = TestServer::start_with(
        &[
            "--max-fs-bytes",
            &(32 << 20).to_string(),
            "--max-message-bytes",
            &(48 << 20).to_string(),
        ],
        &[],
    );
    let proxy = CountingProxy::start(server.addr()).await;
    let client = ExecServerClient::connect(ClientConfig::new(server.url_via(&proxy.addr)))
        .await
        .unwrap();
    let fs = RemoteFileSystem::new(client);
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..20u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("large"), &data).unwrap();

    let read = fs
        .read_file(
            &abs(&dir.path().join("large")),
            /*sandbox_policy*/ None,
        )
        .await
        .unwrap();
    assert!(read == data, "the file arrived whole");
    assert_eq!(proxy.connections(), 1);
}
