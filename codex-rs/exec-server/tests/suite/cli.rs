//! The binary's command line and process-level behaviour.

use std::time::Duration;

use pretty_assertions::assert_eq;

use super::harness::EVENT_TIMEOUT;
use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::cwd;
use super::harness::pid_alive;
use super::harness::start_params;
use super::harness::unb64;
use super::harness::wait_until;

#[test]
fn help_lists_the_flags() {
    let home = tempfile::tempdir().unwrap();
    let output = TestServer::command(home.path().to_path_buf(), &["--help"], &[])
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--listen",
        "--session-ttl",
        "--max-retained-bytes",
        "--auth-token-file",
        "--max-fs-bytes",
        "--max-fs-copy-bytes",
        "--no-auth",
        "--tls-cert",
        "--tls-key",
        "CODEX_EXEC_SERVER_TOKEN",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}

/// Without `--listen`, the server binds loopback only.
#[test]
fn the_default_listen_address_is_loopback() {
    let home = tempfile::tempdir().unwrap();
    let bin = codex_utils_cargo_bin::cargo_bin("codex-exec-server").unwrap();
    let mut child = std::process::Command::new(bin)
        .env("HOME", home.path())
        .env_remove("CODEX_EXEC_SERVER_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    let read = std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut first_line,
    );
    let _ = child.kill();
    let _ = child.wait();

    read.unwrap();
    assert!(
        first_line.starts_with("ws://127.0.0.1:"),
        "first stdout line: {first_line:?}"
    );
}

#[test]
fn non_loopback_without_token_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let output = TestServer::command(
        home.path().to_path_buf(),
        &["--listen", "ws://0.0.0.0:0"],
        &[],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.success(), false);
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to listen on non-loopback"),
        "{stderr}"
    );
}

#[test]
fn an_fs_limit_that_cannot_fit_in_a_message_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let output = TestServer::command(
        home.path().to_path_buf(),
        &[
            "--max-fs-bytes",
            "16777216",
            "--max-message-bytes",
            "16777216",
        ],
        &[],
    )
    .output()
    .unwrap();
    assert_eq!(output.status.success(), false);
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--max-fs-bytes 16777216 does not fit in one message"),
        "{stderr}"
    );
}

#[tokio::test]
async fn sigterm_kills_every_child_process_group() {
    shutdown_kills_children(libc::SIGTERM).await;
}

#[tokio::test]
async fn sigint_kills_every_child_process_group() {
    shutdown_kills_children(libc::SIGINT).await;
}

async fn shutdown_kills_children(signal: libc::c_int) {
    let mut server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    client
        .ok(
            "process/start",
            start_params("sleeper", "sleep 1000 & echo $!; wait", dir.path()),
        )
        .await;
    let read = client
        .ok(
            "process/read",
            serde_json::json!({"processId": "sleeper", "afterSeq": 0, "waitMs": 10000}),
        )
        .await;
    let grandchild: i32 = String::from_utf8(unb64(&read["chunks"][0]["chunk"]))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pid_alive(grandchild));
    // SAFETY: signalling the server child this test spawned.
    assert_eq!(unsafe { libc::kill(server.pid() as i32, signal) }, 0);
    let status = server.wait_exit(EVENT_TIMEOUT).expect("server exited");
    assert!(status.success(), "{status:?}");
    wait_until("grandchild killed", Duration::from_secs(10), || {
        !pid_alive(grandchild)
    })
    .await;
}

/// Off loopback with a token but without TLS, the server starts but says plainly that the
/// token crosses the network in plain text.
#[test]
fn a_plaintext_listen_off_loopback_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret").unwrap();
    let token = token.to_str().unwrap();

    let server = TestServer::start_under(
        &["env"],
        &["--listen", "ws://0.0.0.0:0", "--auth-token-file", token],
    );

    wait_until_sync("the warning", || server.stderr().contains("without TLS"));
    assert!(
        server.stderr().contains(
            "the bearer token and all traffic cross the network in plain text; use wss:// \
             with --tls-cert and --tls-key"
        ),
        "{}",
        server.stderr()
    );
}

/// Polls `check` for up to `EVENT_TIMEOUT`.
fn wait_until_sync(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + EVENT_TIMEOUT;
    while !check() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
