//! `wss://`: the server with `--tls-cert`/`--tls-key`, the client trusting a CA file, and
//! everything that must be refused clearly (an untrusted certificate, plain `ws://` or
//! garbage on the TLS port, inconsistent flags, unreadable PEM files). The certificates
//! are test-only fixtures in `tests/suite/tls/` (see `generate.sh` there).

use std::io::Read;
use std::io::Write;
use std::path::PathBuf;

use codex_exec_server::ClientConfig;
use codex_exec_server::Environment;
use codex_exec_server::ExecProcess;
use codex_exec_server::ExecServerClient;
use codex_exec_server::RemoteProcess;
use codex_exec_server::RemoteSettings;
use codex_utils_cargo_bin::find_resource;
use pretty_assertions::assert_eq;

use super::harness::TestServer;
use super::harness::cwd;
use super::harness::read_until_closed;
use super::harness::typed_start;

/// A fixture of `tests/suite/tls/`.
fn fixture(name: &str) -> PathBuf {
    find_resource!(format!("tests/suite/tls/{name}")).unwrap_or_else(|err| panic!("{err}"))
}

fn path_arg(path: &std::path::Path) -> String {
    path.to_str().expect("UTF-8 fixture path").to_string()
}

/// A server on `wss://127.0.0.1:0` with the fixture certificate.
fn tls_server() -> TestServer {
    let (cert, key) = (
        path_arg(&fixture("server.pem")),
        path_arg(&fixture("server.key")),
    );
    TestServer::start_with(
        &[
            "--listen",
            "wss://127.0.0.1:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
        ],
        &[],
    )
}

fn client_config(url: &str, ca: Option<&str>) -> ClientConfig {
    let mut config = ClientConfig::new(url);
    config.tls_ca_file = ca.map(fixture);
    config
}

/// Runs `echo` through `client` and returns what it printed.
async fn echo_through(client: ExecServerClient, words: &str) -> String {
    let exec = RemoteProcess::new(client);
    let dir = cwd();
    exec.start(typed_start("echo", &["/bin/echo", words], dir.path()))
        .await
        .unwrap();
    let (output, exit_code) = read_until_closed(&exec, "echo").await;
    assert_eq!(exit_code, Some(0));
    String::from_utf8(output).unwrap()
}

#[tokio::test]
async fn a_wss_server_serves_a_client_that_trusts_its_ca() {
    let server = tls_server();
    assert!(server.url.starts_with("wss://127.0.0.1:"), "{}", server.url);

    let client = ExecServerClient::connect(client_config(&server.url, Some("ca.pem")))
        .await
        .unwrap();
    let by_client = echo_through(client, "over tls").await;
    let environment = Environment::from_env_value_with(
        Some(&server.url),
        RemoteSettings {
            auth_token: None,
            tls_ca_file: Some(fixture("ca.pem")),
        },
    )
    .await
    .unwrap();
    assert!(environment.is_remote());

    assert_eq!(by_client, "over tls\n");
}

#[tokio::test]
async fn a_certificate_the_client_does_not_trust_is_refused_and_the_server_keeps_serving() {
    let server = tls_server();

    let refusals = [Some("other-ca.pem"), None].map(|ca| {
        let config = client_config(&server.url, ca);
        async move {
            match ExecServerClient::connect(config).await {
                Ok(_) => panic!("connected although the certificate is not trusted"),
                Err(err) => err.to_string(),
            }
        }
    });
    for refusal in refusals {
        let message = refusal.await;
        assert!(
            message.contains("invalid peer certificate: UnknownIssuer"),
            "{message}"
        );
    }

    let client = ExecServerClient::connect(client_config(&server.url, Some("ca.pem")))
        .await
        .unwrap();
    assert_eq!(echo_through(client, "still here").await, "still here\n");
}

#[tokio::test]
async fn plain_websocket_and_garbage_on_the_tls_port_are_dropped_and_the_server_keeps_serving() {
    let server = tls_server();
    let plain_url = server.url.replacen("wss://", "ws://", /*count*/ 1);

    let plain = ExecServerClient::connect(ClientConfig::new(&plain_url)).await;
    let mut raw = std::net::TcpStream::connect(server.addr()).unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = raw.read_to_end(&mut answer);

    assert!(plain.is_err(), "plain ws:// to a TLS port must fail");
    // Whatever TLS answers a plaintext request with (an alert, or nothing), it is never
    // an HTTP response.
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    let client = ExecServerClient::connect(client_config(&server.url, Some("ca.pem")))
        .await
        .unwrap();
    assert_eq!(echo_through(client, "unharmed").await, "unharmed\n");
}

#[tokio::test]
async fn a_missing_or_unreadable_ca_file_is_a_clear_client_error() {
    let server = tls_server();
    let missing = cwd().path().join("missing.pem");

    let mut config = ClientConfig::new(&server.url);
    config.tls_ca_file = Some(missing.clone());
    let missing_error = ExecServerClient::connect(config).await.err().unwrap();
    let not_pem = client_config(&server.url, Some("generate.sh"));
    let not_pem_error = ExecServerClient::connect(not_pem).await.err().unwrap();

    assert!(
        missing_error
            .to_string()
            .contains(&format!("TLS CA file `{}`", missing.display())),
        "{missing_error}"
    );
    assert!(
        not_pem_error
            .to_string()
            .ends_with("no PEM certificate in the file"),
        "{not_pem_error}"
    );
}

/// The binary's own refusals, each before it binds anything: (arguments, what stderr says).
#[test]
fn inconsistent_tls_flags_and_bad_pem_files_are_refused_at_start_up() {
    let (cert, key) = (
        path_arg(&fixture("server.pem")),
        path_arg(&fixture("server.key")),
    );
    let (ca, script) = (
        path_arg(&fixture("ca.pem")),
        path_arg(&fixture("generate.sh")),
    );
    let home = tempfile::tempdir().unwrap();
    let missing = path_arg(&home.path().join("missing.pem"));
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["--listen", "wss://127.0.0.1:0"],
            "--listen wss://127.0.0.1:0 asks for TLS: pass --tls-cert and --tls-key".to_string(),
        ),
        (
            vec![
                "--listen",
                "ws://127.0.0.1:0",
                "--tls-cert",
                &cert,
                "--tls-key",
                &key,
            ],
            "--tls-cert and --tls-key are for a wss:// --listen, not ws://127.0.0.1:0".to_string(),
        ),
        (
            vec!["--listen", "wss://127.0.0.1:0", "--tls-cert", &cert],
            "--tls-key <PEM>".to_string(),
        ),
        (
            vec![
                "--listen",
                "wss://127.0.0.1:0",
                "--tls-cert",
                &missing,
                "--tls-key",
                &key,
            ],
            format!("cannot use TLS certificate chain `{missing}`"),
        ),
        (
            vec![
                "--listen",
                "wss://127.0.0.1:0",
                "--tls-cert",
                &script,
                "--tls-key",
                &key,
            ],
            format!("cannot use TLS certificate chain `{script}`: no PEM certificate in the file"),
        ),
        (
            vec![
                "--listen",
                "wss://127.0.0.1:0",
                "--tls-cert",
                &cert,
                "--tls-key",
                &cert,
            ],
            format!("cannot use TLS private key `{cert}`"),
        ),
        (
            vec![
                "--listen",
                "wss://127.0.0.1:0",
                "--tls-cert",
                &ca,
                "--tls-key",
                &key,
            ],
            "invalid TLS certificate and key".to_string(),
        ),
    ];

    for (args, expected) in cases {
        let output = TestServer::command(home.path().to_path_buf(), &args, &[])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            (
                output.status.success(),
                String::from_utf8_lossy(&output.stdout).into_owned()
            ),
            (false, String::new()),
            "{args:?}: {stderr}"
        );
        assert!(
            stderr.contains(&expected),
            "{args:?}: expected `{expected}` in: {stderr}"
        );
    }
}

/// A CA file means the caller expects TLS; with a `ws://` URL the connection (and its
/// token) would go in plain text, so the client refuses rather than ignoring the file.
#[tokio::test]
async fn a_ca_file_with_a_plain_url_is_refused() {
    let server = TestServer::start();

    let error = ExecServerClient::connect(client_config(&server.url, Some("ca.pem")))
        .await
        .err()
        .unwrap();

    assert!(error.to_string().contains("is not a wss:// URL"), "{error}");
}
