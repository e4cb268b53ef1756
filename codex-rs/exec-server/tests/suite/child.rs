//! `Command` / `Child`: every behaviour runs against a local `Environment` and against a
//! real server, and both must report the same thing.

use std::sync::Arc;
use std::time::Duration;

use codex_exec_server::Child;
use codex_exec_server::ChildEvent;
use codex_exec_server::ClientConfig;
use codex_exec_server::Command;
use codex_exec_server::ConnectionState;
use codex_exec_server::Environment;
use codex_exec_server::ExecError;
use codex_exec_server::ExecProcess;
use codex_exec_server::ExitStatus;
use codex_exec_server::OnDrop;
use codex_exec_server::Output;
use codex_exec_server::SessionLoss;
use codex_exec_server::protocol::OutputMode;
use codex_exec_server::protocol::ProcessEvent;
use codex_exec_server::protocol::PtySize;
use codex_exec_server::protocol::TerminateParams;
use futures_util::StreamExt;
use pretty_assertions::assert_eq;
use tempfile::TempDir;

use super::harness::EVENT_TIMEOUT;
use super::harness::TestServer;
use super::harness::cwd;
use super::harness::pid_alive;
use super::harness::wait_until;

/// An environment and what keeps it alive.
struct Backend {
    name: &'static str,
    env: Environment,
    _server: Option<TestServer>,
}

async fn backends() -> Vec<Backend> {
    let server = TestServer::start();
    let remote = Environment::remote(ClientConfig::new(server.url.clone()))
        .await
        .unwrap();
    vec![
        Backend {
            name: "local",
            env: Environment::from_env_value(/*value*/ None).await.unwrap(),
            _server: None,
        },
        Backend {
            name: "remote",
            env: remote,
            _server: Some(server),
        },
    ]
}

fn sh(script: &str, dir: &TempDir) -> Command {
    Command::new("/bin/sh")
        .args(["-c", script])
        .cwd(dir.path())
        .unwrap()
}

/// `head -c total /dev/zero` in `dir`.
fn head_zero(total: u64, dir: &TempDir) -> Command {
    Command::new("head")
        .args(["-c", &total.to_string(), "/dev/zero"])
        .cwd(dir.path())
        .unwrap()
}

async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(EVENT_TIMEOUT, future)
        .await
        .unwrap_or_else(|_| panic!("{what} took longer than {EVENT_TIMEOUT:?}"))
}

/// Take events until the terminal output contains `needle`.
async fn pty_until(child: &mut Child, seen: &mut String, needle: &str) {
    while !seen.contains(needle) {
        match within(needle, child.next_event()).await {
            Some(Ok(ChildEvent::Pty(bytes))) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            other => panic!("waiting for {needle:?} in {seen:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn output_collects_both_streams_and_the_exit() {
    let dir = cwd();
    for backend in backends().await {
        let output = within(
            "output",
            sh("echo out; echo err >&2; exit 3", &dir).output(&backend.env),
        )
        .await
        .unwrap();
        assert_eq!(
            (backend.name, output),
            (
                backend.name,
                Output {
                    status: ExitStatus::from_code(3),
                    stdout: b"out\n".to_vec(),
                    stderr: b"err\n".to_vec(),
                    pty: Vec::new(),
                    gaps: Vec::new(),
                }
            )
        );
    }
}

#[tokio::test]
async fn closing_stdin_lets_the_process_finish() {
    let dir = cwd();
    for backend in backends().await {
        let child = Command::new("wc")
            .arg("-c")
            .cwd(dir.path())
            .unwrap()
            .stdin_piped()
            .spawn(&backend.env)
            .await
            .unwrap();
        let stdin = child.stdin();
        stdin.write(b"hello").await.unwrap();
        stdin.close().await.unwrap();
        // Closing twice is fine; writing after closing is a typed error.
        stdin.close().await.unwrap();
        let late = stdin.write(b"more").await.unwrap_err();
        assert!(
            matches!(late, ExecError::StdinClosed(ref id) if id == child.id()),
            "{}: {late:?}",
            backend.name
        );
        let output = within("wc", child.output()).await.unwrap();
        assert_eq!(
            (backend.name, String::from_utf8_lossy(&output.stdout).trim()),
            (backend.name, "5")
        );
    }
}

#[tokio::test]
async fn a_terminal_starts_at_its_size_and_follows_resizes() {
    let dir = cwd();
    for backend in backends().await {
        let mut child = sh("stty size; read line; stty size", &dir)
            .pty(/*rows*/ 30, /*cols*/ 100)
            .spawn(&backend.env)
            .await
            .unwrap();
        assert!(child.is_terminal());
        let mut seen = String::new();
        pty_until(&mut child, &mut seen, "30 100").await;
        child
            .resize(PtySize {
                rows: 40,
                cols: 120,
            })
            .await
            .unwrap();
        child.stdin().write(b"\n").await.unwrap();
        pty_until(&mut child, &mut seen, "40 120").await;
        let status = within("exit", child.wait()).await.unwrap();
        assert_eq!((backend.name, status.code()), (backend.name, 0));

        // Bad sizes and pipe processes are typed errors.
        let pipe = sh("sleep 5", &dir).spawn(&backend.env).await.unwrap();
        let not_a_terminal = pipe
            .resize(PtySize { rows: 10, cols: 10 })
            .await
            .unwrap_err();
        assert!(
            matches!(not_a_terminal, ExecError::NotATerminal(_)),
            "{}: {not_a_terminal:?}",
            backend.name
        );
        let terminal = sh("sleep 5", &dir)
            .pty(/*rows*/ 24, /*cols*/ 80)
            .spawn(&backend.env)
            .await
            .unwrap();
        for (rows, cols) in [(0, 80), (24, 0), (u16::MAX, 80)] {
            let err = terminal.resize(PtySize { rows, cols }).await.unwrap_err();
            assert!(
                matches!(err, ExecError::InvalidParams(_)),
                "{}: {rows}x{cols}: {err:?}",
                backend.name
            );
        }
        let zero = sh("true", &dir)
            .pty(/*rows*/ 0, /*cols*/ 80)
            .spawn(&backend.env)
            .await
            .err();
        assert!(
            matches!(zero, Some(ExecError::InvalidParams(_))),
            "{}: {zero:?}",
            backend.name
        );
    }
}

#[tokio::test]
async fn kill_ends_the_process_with_its_signal() {
    let dir = cwd();
    for backend in backends().await {
        let mut child = sh("sleep 1000", &dir).spawn(&backend.env).await.unwrap();
        child.kill().await.unwrap();
        let status = within("exit after kill", child.wait()).await.unwrap();
        assert_eq!((backend.name, status.code()), (backend.name, 128 + 9));
        // Waiting again answers at once.
        assert_eq!(child.wait().await.unwrap(), status);
    }
}

async fn first_line(child: &mut Child) -> String {
    let mut line = Vec::new();
    while !line.ends_with(b"\n") {
        match within("first line", child.next_event()).await {
            Some(Ok(ChildEvent::Stdout(bytes))) => line.extend_from_slice(&bytes),
            other => panic!("{other:?}"),
        }
    }
    String::from_utf8(line).unwrap().trim().to_string()
}

#[tokio::test]
async fn a_dropped_child_is_killed_unless_detached() {
    let dir = cwd();
    for backend in backends().await {
        let script = "echo $$; exec sleep 1000";
        let mut killed = sh(script, &dir).spawn(&backend.env).await.unwrap();
        let killed_pid: i32 = first_line(&mut killed).await.parse().unwrap();
        drop(killed);
        wait_until("the dropped child is killed", EVENT_TIMEOUT, || {
            !pid_alive(killed_pid)
        })
        .await;

        let mut detached = sh(script, &dir)
            .on_drop(OnDrop::Detach)
            .spawn(&backend.env)
            .await
            .unwrap();
        let detached_pid: i32 = first_line(&mut detached).await.parse().unwrap();
        let id = detached.id().to_string();
        drop(detached);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            pid_alive(detached_pid),
            "{}: detached child died",
            backend.name
        );
        // Still reachable by id.
        let exec = backend.env.exec().unwrap();
        let mut stream = exec.subscribe(&id).await;
        exec.terminate(TerminateParams { process_id: id })
            .await
            .unwrap();
        let mut exit = None;
        while let Some(event) = within("events of the detached child", stream.recv()).await {
            if let ProcessEvent::Exited(exited) = event.unwrap() {
                exit = Some(exited.exit_code);
            }
        }
        assert_eq!((backend.name, exit), (backend.name, Some(128 + 9)));
    }
}

#[tokio::test]
async fn a_child_is_a_stream_that_ends_after_its_output() {
    let dir = cwd();
    for backend in backends().await {
        let child = sh("printf abc; printf def", &dir)
            .spawn(&backend.env)
            .await
            .unwrap();
        let events: Vec<ChildEvent> =
            within("all events", child.map(Result::unwrap).collect()).await;
        let mut stdout = Vec::new();
        let mut rest = Vec::new();
        for event in events {
            match event {
                ChildEvent::Stdout(bytes) => stdout.extend_from_slice(&bytes),
                other => rest.push(other),
            }
        }
        assert_eq!(
            (backend.name, stdout, rest),
            (
                backend.name,
                b"abcdef".to_vec(),
                vec![ChildEvent::Exited(ExitStatus::from_code(0))]
            )
        );
    }
}

/// Received bytes plus the bytes reported lost, and whether it ended with exit 0.
async fn account(child: &mut Child) -> (u64, u64, Option<i32>) {
    let (mut received, mut lost) = (0u64, 0u64);
    while let Some(event) = within("drain", child.next_event()).await {
        match event.unwrap() {
            ChildEvent::Stdout(bytes) => received += bytes.len() as u64,
            ChildEvent::Gap(gap) => lost += gap.dropped_bytes,
            ChildEvent::Stderr(_) | ChildEvent::Pty(_) | ChildEvent::Exited(_) => {}
        }
    }
    (received, lost, child.status().map(|status| status.code()))
}

/// In `outputMode: "drop"`, a consumer that stalls loses output, and both backends say
/// exactly how much, as `Gap`s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_consumer_in_drop_mode_sees_gaps_that_account_for_every_byte() {
    const TOTAL: u64 = 64 * 1024 * 1024;
    let dir = cwd();
    for backend in backends().await {
        // The consumer reads nothing until the producer is done (however slow a loaded
        // machine makes it): far more than any buffer on the way then waited.
        let done = dir.path().join(format!("{}-done", backend.name));
        let mut child = sh(
            &format!("head -c {TOTAL} /dev/zero; touch {}", done.display()),
            &dir,
        )
        .output_mode(OutputMode::Drop)
        .spawn(&backend.env)
        .await
        .unwrap();
        wait_until("the producer finished", EVENT_TIMEOUT, || done.exists()).await;
        let (received, lost, exit) = account(&mut child).await;
        assert_eq!(
            (backend.name, received + lost, exit),
            (backend.name, TOTAL, Some(0))
        );
        assert!(
            lost > 0,
            "{}: a stall over 64 MiB lost nothing",
            backend.name
        );
    }
}

/// With the default pacing, a consumer that stalls loses nothing: the process waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_consumer_in_pace_mode_loses_nothing() {
    const TOTAL: u64 = 64 * 1024 * 1024;
    let dir = cwd();
    for backend in backends().await {
        let mut child = head_zero(TOTAL, &dir).spawn(&backend.env).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let accounted = account(&mut child).await;
        assert_eq!(
            (backend.name, accounted),
            (backend.name, (TOTAL, 0, Some(0)))
        );
    }
}

/// A subscription made after the process started reads back what is retained; both
/// backends account for every byte (received + reported lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_subscriber_accounts_for_every_byte() {
    const TOTAL: u64 = 40 * 1024 * 1024;
    let dir = cwd();
    for backend in backends().await {
        let exec = backend.env.exec().unwrap();
        let params = head_zero(TOTAL, &dir).to_start_params().unwrap();
        let id = params.process_id.clone();
        exec.start(params).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let stream = exec.subscribe(&id).await;
        let exec: Arc<dyn ExecProcess> = Arc::new(exec.clone());
        let (mut received, mut lost, mut exit) = (0u64, 0u64, None);
        let mut stream = stream;
        while let Some(event) = within("late events", stream.recv()).await {
            match event.unwrap() {
                ProcessEvent::Output(output) => received += output.chunk.as_bytes().len() as u64,
                ProcessEvent::Gap { gap, .. } => lost += gap.dropped_bytes,
                ProcessEvent::Exited(exited) => exit = Some(exited.exit_code),
                ProcessEvent::Closed(_) => {}
            }
        }
        drop(exec);
        assert_eq!(
            (backend.name, received + lost, exit),
            (backend.name, TOTAL, Some(0))
        );
        eprintln!(
            "{}: late subscriber got {received} bytes, {lost} reported lost",
            backend.name
        );
    }
}

/// A server that goes away for good: the child's events end with a typed `SessionLost`,
/// the client says so, and calls fail the same way instead of hanging.
#[tokio::test]
async fn a_lost_session_ends_the_stream_with_a_typed_error() {
    let dir = cwd();
    let server = TestServer::start();
    let mut config = ClientConfig::new(server.url.clone());
    config.reconnect_timeout = Duration::from_millis(500);
    let env = Environment::remote(config).await.unwrap();
    let mut child = sh("sleep 1000", &dir).spawn(&env).await.unwrap();
    drop(server);
    let first = within("the loss", child.next_event()).await;
    assert!(
        matches!(
            first,
            Some(Err(ExecError::SessionLost {
                cause: SessionLoss::Unreachable { .. },
                ..
            }))
        ),
        "{first:?}"
    );
    assert!(within("the end", child.next_event()).await.is_none());
    let client = env.client().unwrap();
    assert!(
        matches!(
            client.state(),
            ConnectionState::Lost(SessionLoss::Unreachable { .. })
        ),
        "{:?}",
        client.state()
    );
    let err = within("a call after the loss", child.kill())
        .await
        .unwrap_err();
    assert!(matches!(err, ExecError::SessionLost { .. }), "{err:?}");
    let err = within("a spawn after the loss", sh("true", &dir).spawn(&env))
        .await
        .err();
    assert!(
        matches!(err, Some(ExecError::SessionLost { .. })),
        "{err:?}"
    );
}

/// A child whose events nobody takes holds back only itself: another child of the same
/// environment runs to the end meanwhile, and the held-back one then delivers every byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_child_holds_back_only_itself() {
    const TOTAL: u64 = 64 * 1024 * 1024;
    let dir = cwd();
    for backend in backends().await {
        let mut flood = head_zero(TOTAL, &dir).spawn(&backend.env).await.unwrap();
        // Let the flood fill everything between it and this test.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let other = within(
            "another child while the first is unread",
            sh("echo hi", &dir).output(&backend.env),
        )
        .await
        .unwrap();
        assert_eq!(
            (backend.name, other.stdout),
            (backend.name, b"hi\n".to_vec())
        );
        assert_eq!(
            flood.status(),
            None,
            "{}: the flood finished unread",
            backend.name
        );
        let accounted = account(&mut flood).await;
        assert_eq!(
            (backend.name, accounted),
            (backend.name, (TOTAL, 0, Some(0)))
        );
    }
}

/// Shutting down an in-process server closes the connections it serves: its clients see
/// the session lost instead of being served by a server that is gone.
#[tokio::test]
async fn a_loopback_server_shutdown_closes_its_connections() {
    let dir = cwd();
    let server = codex_exec_server::LoopbackServer::start().await.unwrap();
    let mut config = ClientConfig::new(server.url());
    config.reconnect_timeout = Duration::from_millis(300);
    let env = Environment::remote(config).await.unwrap();
    let mut child = sh("sleep 1000", &dir).spawn(&env).await.unwrap();
    within("shutdown", server.shutdown()).await;
    // The shutdown may kill the process before it closes the connection: the stream ends
    // with the loss, or with the exit the shutdown caused.
    let end = within("the end", child.next_event()).await;
    match end {
        Some(Err(ExecError::SessionLost { .. })) => {}
        Some(Ok(ChildEvent::Exited(_))) => {
            let after = within("the end", child.next_event()).await;
            assert!(
                matches!(after, None | Some(Err(ExecError::SessionLost { .. }))),
                "{after:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Nothing is served any more: a new command fails at once.
    let spawned = within("a spawn after the shutdown", sh("true", &dir).spawn(&env)).await;
    assert!(
        matches!(
            spawned,
            Err(ExecError::SessionLost { .. } | ExecError::Disconnected { .. })
        ),
        "{:?}",
        spawned.map(|child| child.id().to_string())
    );
}
