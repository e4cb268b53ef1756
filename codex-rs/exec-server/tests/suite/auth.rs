//! The per-server secret: a server started without a token generates one, prints it in
//! the URL of its first stdout line, and requires it (also on loopback); `--no-auth` is
//! the explicit, loopback-only way out; the token never shows up in logs, and same-uid
//! processes cannot read it out of the server's `/proc` entries.

use std::io::Read;
use std::io::Write;

use codex_exec_server::ClientConfig;
use codex_exec_server::Environment;
use codex_exec_server::ExecServerClient;
use codex_exec_server::RemoteSettings;
use pretty_assertions::assert_eq;

use super::harness::EVENT_TIMEOUT;
use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::wait_until;

/// The status line the server answers a hand-written upgrade to `target` with.
fn upgrade_status(addr: &str, target: &str, extra_headers: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(EVENT_TIMEOUT)).unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         {extra_headers}\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    let mut byte = [0u8; 1];
    while !response.ends_with(b"\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        response.push(byte[0]);
    }
    String::from_utf8_lossy(&response).trim_end().to_string()
}

fn plain_url(server: &TestServer) -> String {
    format!("ws://{}", server.addr())
}

#[tokio::test]
async fn a_default_server_prints_and_requires_a_generated_token() {
    let server = TestServer::start_under_with(
        &["env"],
        /*program*/ None,
        &[],
        &[("RUST_LOG", "debug")],
    );
    let token = server.token.clone().expect("a token in the first line");
    let addr = server.addr();
    let other = "0".repeat(64);

    assert_eq!(server.url, format!("ws://{addr}/?token={token}"));
    assert_eq!(
        (
            token.len(),
            token.bytes().all(|byte| byte.is_ascii_hexdigit())
        ),
        (64, true)
    );
    let statuses = [
        upgrade_status(&addr, "/", ""),
        upgrade_status(&addr, &format!("/?token={other}"), ""),
        upgrade_status(&addr, "/", &format!("Authorization: Bearer {other}\r\n")),
        upgrade_status(&addr, &format!("/?token={}", &token[..63]), ""),
        upgrade_status(&addr, &format!("/?token={token}"), ""),
        upgrade_status(&addr, "/", &format!("Authorization: Bearer {token}\r\n")),
    ];
    assert_eq!(
        statuses.map(|status| status.split_whitespace().nth(1).unwrap_or("").to_string()),
        ["401", "401", "401", "401", "101", "101"].map(str::to_string)
    );

    // The printed line alone is enough, for the client, an Environment and raw clients.
    let client = ExecServerClient::connect(ClientConfig::new(server.url.clone()))
        .await
        .unwrap();
    assert!(!client.session_id().is_empty());
    let environment = Environment::from_env_value(Some(&server.url))
        .await
        .unwrap();
    assert!(environment.is_remote());
    RawClient::initialized(&server.url).await;

    // Without it, the library client gets a typed 401.
    let refused = ExecServerClient::connect(ClientConfig::new(plain_url(&server)))
        .await
        .err()
        .map(|err| err.to_string())
        .unwrap_or_default();
    assert!(refused.contains("401"), "{refused}");

    // The logs name the URL, never the token (the log is read by a thread: wait for it).
    let listening = format!("listening on ws://{addr}");
    wait_until("the log line", EVENT_TIMEOUT, || {
        server.stderr().contains(&listening)
    })
    .await;
    let log = server.stderr();
    assert!(!log.contains(&token), "the token is in the log:\n{log}");
}

/// The client sends the URL's token as a bearer header, never in the request line (which
/// proxies and access logs record): a listener of the test records what arrives.
#[tokio::test]
async fn the_client_sends_the_url_token_only_as_a_bearer_header() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let recorder = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        // No answer: the connection attempt fails, which is all the test needs.
        String::from_utf8_lossy(&head).to_lowercase()
    });
    let token = "a".repeat(64);
    let config = ClientConfig::new(format!("ws://{addr}/?token={token}"));

    let refused = ExecServerClient::connect(config.clone()).await;
    let head = recorder.join().unwrap();

    assert!(refused.is_err());
    assert_eq!(
        (
            head.lines().next().unwrap_or_default(),
            head.contains(&format!("\r\nauthorization: bearer {token}\r\n"))
        ),
        ("get / http/1.1", true),
        "{head}"
    );
    let message = refused.err().map(|err| err.to_string()).unwrap_or_default();
    assert!(!message.contains(&token), "{message}");
    assert!(!format!("{config:?}").contains(&token), "{config:?}");
}

#[tokio::test]
async fn a_token_in_the_url_and_a_different_explicit_one_are_an_error() {
    let server = TestServer::start();
    let token = server.token.clone().unwrap();

    let mut same = ClientConfig::new(server.url.clone());
    same.auth_token = Some(token.clone());
    let mut different = ClientConfig::new(server.url.clone());
    different.auth_token = Some("not-the-token".to_string());
    let environment = Environment::from_env_value_with(
        Some(&server.url),
        RemoteSettings {
            auth_token: Some("not-the-token".to_string()),
            tls_ca_file: None,
        },
    )
    .await;

    assert!(ExecServerClient::connect(same).await.is_ok());
    let conflict = "the URL's `token` query parameter differs from the auth token given \
                    explicitly";
    let different = ExecServerClient::connect(different)
        .await
        .err()
        .map(|err| err.to_string())
        .unwrap_or_default();
    assert!(different.contains(conflict), "{different}");
    let environment = environment
        .err()
        .map(|err| err.to_string())
        .unwrap_or_default();
    assert!(environment.contains(conflict), "{environment}");
}

/// A token the operator gave is not printed: the first line is the plain URL.
#[tokio::test]
async fn an_operator_token_is_not_printed() {
    let server = TestServer::start_with(&[], &[("CODEX_EXEC_SERVER_TOKEN", "env-token")]);

    assert_eq!(server.url, plain_url(&server));
    assert_eq!(
        upgrade_status(&server.addr(), "/?token=env-token", "")
            .split_whitespace()
            .nth(1),
        Some("101")
    );
}

#[tokio::test]
async fn no_auth_works_on_loopback_and_says_it_is_unsafe() {
    let server = TestServer::start_under(&["env"], &["--no-auth"]);

    assert_eq!(server.url, plain_url(&server));
    RawClient::initialized(&server.url).await;
    let warning = "--no-auth: any local process, including a sandboxed command that is allowed \
                   network access, can connect to this server and run unsandboxed commands";
    // The log is read by a thread: wait for the line rather than race it.
    wait_until("the --no-auth warning", EVENT_TIMEOUT, || {
        server.stderr().contains(warning)
    })
    .await;
}

#[test]
fn no_auth_is_refused_off_loopback_and_with_a_token() {
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let output = TestServer::command(home.path().to_path_buf(), args, env)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };

    let off_loopback = run(&["--no-auth", "--listen", "ws://0.0.0.0:0"], &[]);
    let with_token = run(&["--no-auth"], &[("CODEX_EXEC_SERVER_TOKEN", "t")]);

    assert_eq!((off_loopback.0, off_loopback.1.as_str()), (false, ""));
    assert!(
        off_loopback
            .2
            .contains("--no-auth is only allowed on a loopback --listen address, not 0.0.0.0:0"),
        "{}",
        off_loopback.2
    );
    assert_eq!((with_token.0, with_token.1.as_str()), (false, ""));
    assert!(
        with_token
            .2
            .contains("--no-auth contradicts the token in CODEX_EXEC_SERVER_TOKEN"),
        "{}",
        with_token.2
    );
}

/// The server is not dumpable: a process of the same (non-root) user cannot read its
/// environment, where `CODEX_EXEC_SERVER_TOKEN` lives. Both run as `nobody`.
#[tokio::test]
async fn a_same_uid_process_cannot_read_the_servers_environment() {
    let Some((server, _copy)) =
        TestServer::start_as_nobody(&[], &[("CODEX_EXEC_SERVER_TOKEN", "environ-secret")])
    else {
        return;
    };
    let environ = format!("/proc/{}/environ", server.pid());
    let owner = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .unwrap()
        .lines()
        .find(|line| line.starts_with("Uid:"))
        .map(|line| line.split_whitespace().nth(1).unwrap_or("").to_string());

    let output = std::process::Command::new(codex_utils_test_support::NOBODY_SETPRIV[0])
        .args(&codex_utils_test_support::NOBODY_SETPRIV[1..])
        .args(["cat", &environ])
        .output()
        .unwrap();

    assert_eq!(owner.as_deref(), Some("65534"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stdout.contains("environ-secret"),
        "nobody read the token out of the server's environment"
    );
    assert_eq!(
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).trim().to_string()
        ),
        (false, format!("cat: {environ}: Permission denied"))
    );
    // It serves all the same.
    let mut config = ClientConfig::new(server.url.clone());
    config.auth_token = Some("environ-secret".to_string());
    ExecServerClient::connect(config).await.unwrap();
}
