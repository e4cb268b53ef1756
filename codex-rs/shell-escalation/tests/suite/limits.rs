//! The server's bounds and its resistance to bad input: each refusal reaches the one
//! wrapper it concerns with a clear message, and the server keeps serving.

use std::os::fd::AsFd;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use codex_shell_escalation::EscalationDecision;
use codex_shell_escalation::ExecRequest;
use codex_shell_escalation::Limits;
use codex_shell_escalation::client;
use codex_shell_escalation::protocol::Reply;
use codex_utils_test_support::Who;
use codex_utils_test_support::both_users;
use pretty_assertions::assert_eq;
use serde_json::json;

use super::harness::Session;
use super::harness::StubPolicy;
use super::harness::code;
use super::harness::stderr;
use super::harness::stdout;
use super::raw;

both_users!(async too_many_arguments, a_request_over_one_mib);

/// The session still answers a plain request.
async fn assert_still_serving(session: &Session) {
    let out = session
        .run("/bin/echo", &["echo", "still", "serving"])
        .await;
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "still serving\n");
}

/// 100 001 arguments (a small request: they are one byte each) are refused.
async fn too_many_arguments(who: Who) {
    let session = Session::start(who, StubPolicy::always(EscalationDecision::Run));
    let mut argv = vec!["true".to_string()];
    argv.extend(std::iter::repeat_n("x".to_string(), /*count*/ 100_000));

    let out = session.run("/bin/true", &argv).await;

    assert_eq!(code(&out), 126);
    assert_eq!(
        stderr(&out),
        "codex-execve-wrapper: refused: the command has 100001 arguments, more than the limit of 100000\n"
    );
    assert_eq!(session.policy.requests(), []);
    assert_still_serving(&session).await;
}

/// A request over 1 MiB is refused from its length, before the server reads it.
async fn a_request_over_one_mib(who: Who) {
    let session = Session::start(who, StubPolicy::always(EscalationDecision::Run));
    let mut argv = vec!["true".to_string()];
    argv.extend(std::iter::repeat_n(
        "a".repeat(64 * 1024),
        /*count*/ 17,
    ));

    let out = session.run("/bin/true", &argv).await;

    assert_eq!(code(&out), 126);
    let message = stderr(&out);
    assert!(
        message.starts_with("codex-execve-wrapper: refused: the request is ")
            && message.ends_with(" bytes, more than the limit of 1048576 bytes\n"),
        "stderr: {message}"
    );
    assert_eq!(session.policy.requests(), []);
    assert_still_serving(&session).await;
}

fn request(file: &str, argv: &[&str], cwd: &str) -> ExecRequest {
    ExecRequest {
        file: file.into(),
        argv: argv.iter().map(|arg| arg.to_string()).collect(),
        cwd: cwd.into(),
        env: Default::default(),
    }
}

/// What the server replies to `request`, sent by the library's client.
async fn reply_to(session: &Session, request: ExecRequest) -> Reply {
    let socket = session.shell.raw_fd();
    tokio::task::spawn_blocking(move || {
        let socket = unsafe { BorrowedFd::borrow_raw(socket) };
        let stdio = raw::null_stdio();
        client::request(
            socket,
            &request,
            [stdio[0].as_fd(), stdio[1].as_fd(), stdio[2].as_fd()],
        )
    })
    .await
    .unwrap()
    .unwrap()
}

fn refused(message: &str) -> Reply {
    Reply::Error {
        message: format!("refused: {message}"),
        exit_code: 126,
    }
}

/// What the wrapper never sends (it resolves paths and always has argv[0]) is still
/// refused by the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relative_paths_and_an_empty_argv() {
    let session = Session::start(Who::Caller, StubPolicy::always(EscalationDecision::Run));

    let reply = reply_to(&session, request("bin/true", &["true"], "/")).await;
    assert_eq!(
        reply,
        refused("the program path `bin/true` is relative; an absolute path is required")
    );

    let reply = reply_to(&session, request("/bin/true", &["true"], "work")).await;
    assert_eq!(
        reply,
        refused("the working directory `work` is relative; an absolute path is required")
    );

    let reply = reply_to(&session, request("/bin/true", &[], "/")).await;
    assert_eq!(
        reply,
        refused("the command has no arguments (argv[0] is required)")
    );

    assert_eq!(session.policy.requests(), []);
    assert_eq!(
        reply_to(&session, request("/bin/true", &["true"], "/")).await,
        Reply::Run
    );
}

/// Malformed handshakes are dropped (with whatever descriptors they carried) and
/// malformed requests answered with an error; none stops the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_traffic_never_stops_the_server() {
    let session = Session::start(Who::Caller, StubPolicy::always(EscalationDecision::Run));
    let socket = session.shell.fd();
    let timeout = Some(Duration::from_secs(10));

    // Handshakes: wrong bytes, no descriptor, two, one that is not a stream socket, an
    // empty packet, an oversized packet. A channel sent with a bad handshake is closed.
    let (mine, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    mine.set_read_timeout(timeout).unwrap();
    raw::send_with_fds(socket, b"XXXX", &[theirs.as_fd()]).unwrap();
    drop(theirs);
    assert_eq!(raw::read_reply(&mine), None);
    raw::send_with_fds(socket, b"CXE1", &[]).unwrap();
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    a.set_read_timeout(timeout).unwrap();
    raw::send_with_fds(socket, b"CXE1", &[b.as_fd(), b.as_fd()]).unwrap();
    drop(b);
    assert_eq!(raw::read_reply(&a), None);
    let (packet_a, packet_b) = raw::seqpacket_pair();
    raw::send_with_fds(socket, b"CXE1", &[packet_b.as_fd()]).unwrap();
    drop((packet_a, packet_b));
    raw::send_with_fds(socket, b"", &[]).unwrap();
    raw::send_with_fds(socket, &vec![b'C'; 60_000], &[]).unwrap();

    // Requests on a good channel.
    let stdio = raw::null_stdio();
    let stdio = [stdio[0].as_fd(), stdio[1].as_fd(), stdio[2].as_fd()];
    let good = json!({"file": "/bin/true", "argv": ["true"], "cwd": "/", "env": {}}).to_string();
    let cases: Vec<(Vec<u8>, &[BorrowedFd<'_>], &str)> = vec![
        (
            good.clone().into_bytes(),
            &[],
            "refused: a request carries 3 descriptors (stdin, stdout, stderr), this one 0",
        ),
        (
            good.clone().into_bytes(),
            &stdio[..2],
            "refused: a request carries 3 descriptors (stdin, stdout, stderr), this one 2",
        ),
        (
            b"not json".to_vec(),
            &stdio,
            "refused: malformed request: expected ident at line 1 column 2",
        ),
        (
            json!({"file": "/bin/true", "argv": ["true"], "cwd": "/", "env": {}, "extra": 1})
                .to_string()
                .into_bytes(),
            &stdio,
            "refused: malformed request: unknown field `extra`",
        ),
        (
            json!({"file": "/bin/true", "argv": "true", "cwd": "/", "env": {}})
                .to_string()
                .into_bytes(),
            &stdio,
            "refused: malformed request: invalid type: string \"true\", expected a sequence",
        ),
        // A name with `=` would be another variable once written out.
        (
            json!({"file": "/bin/true", "argv": ["true"], "cwd": "/", "env": {"BASH_ENV=/x": ""}})
                .to_string()
                .into_bytes(),
            &stdio,
            "refused: the environment variable name `BASH_ENV=/x` is not valid",
        ),
        (
            json!({"file": "/bin/true", "argv": ["true"], "cwd": "/", "env": {"": "x"}})
                .to_string()
                .into_bytes(),
            &stdio,
            "refused: the environment variable name `` is not valid",
        ),
        // A descriptor or a device, whatever it is called: never a program.
        (
            json!({"file": "/proc/self/fd/0", "argv": ["git"], "cwd": "/", "env": {}})
                .to_string()
                .into_bytes(),
            &stdio,
            "refused: `/proc/self/fd/0` is under /proc or /dev",
        ),
        (
            json!({"file": "/dev/stdin", "argv": ["git"], "cwd": "/", "env": {}})
                .to_string()
                .into_bytes(),
            &stdio,
            "refused: `/dev/stdin` is under /proc or /dev",
        ),
    ];
    for (body, fds, expected) in cases {
        let channel = raw::open_channel(socket);
        channel.set_read_timeout(timeout).unwrap();
        raw::send_request(&channel, &body, fds);
        let reply = raw::read_reply(&channel).expect("a reply");
        assert_eq!(reply["decision"], "error");
        let message = reply["message"].as_str().unwrap();
        assert!(
            message.starts_with(expected),
            "expected {expected:?}, got {message:?}"
        );
    }

    // A length of 4 GiB - 1, refused without reading on.
    let channel = raw::open_channel(socket);
    channel.set_read_timeout(timeout).unwrap();
    raw::send_with_fds(channel.as_fd(), &u32::MAX.to_le_bytes(), &stdio).unwrap();
    let reply = raw::read_reply(&channel).expect("a reply");
    assert_eq!(
        reply["message"],
        "refused: the request is 4294967295 bytes, more than the limit of 1048576 bytes"
    );

    // A request cut short, and a channel closed at once.
    let channel = raw::open_channel(socket);
    raw::send_with_fds(channel.as_fd(), &100u32.to_le_bytes(), &stdio).unwrap();
    raw::send_with_fds(channel.as_fd(), b"{\"file\"", &[]).unwrap();
    drop(channel);
    drop(raw::open_channel(socket));

    assert_still_serving(&session).await;
    assert_eq!(session.policy.requests().len(), 1);
}

/// A channel whose request never comes is answered with an error after the timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_never_arrives() {
    let limits = Limits {
        request_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let session = Session::start_with(
        Who::Caller,
        StubPolicy::always(EscalationDecision::Run),
        limits,
    );
    let channel = raw::open_channel(session.shell.fd());
    channel
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    let reply = raw::read_reply(&channel).expect("a reply");

    assert_eq!(
        reply,
        json!({"decision": "error", "message": "refused: the request did not arrive within 200ms", "exitCode": 126})
    );
    assert_still_serving(&session).await;
}

/// Past `max_in_flight` requests a new one is refused at once; once a wrapper goes
/// away its pending decision is dropped and its slot is free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_are_bounded() {
    let limits = Limits {
        max_in_flight: 1,
        ..Limits::default()
    };
    let policy = StubPolicy::with(|request| {
        let block = request.argv.iter().any(|arg| arg == "block");
        Box::pin(async move {
            if block {
                std::future::pending::<()>().await;
            }
            EscalationDecision::Run
        })
    });
    let session = Session::start_with(Who::Caller, policy, limits);
    let mut blocked =
        tokio::process::Command::from(session.wrapper_command("/bin/echo", &["echo", "block"]))
            .spawn()
            .unwrap();
    let started = tokio::time::Instant::now();
    while session.policy.requests().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the first request never arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let out = session.run("/bin/echo", &["echo", "second"]).await;
    assert_eq!(code(&out), 126);
    assert_eq!(
        stderr(&out),
        "codex-execve-wrapper: refused: 1 requests are already in flight, the most this server handles at once\n"
    );

    blocked.start_kill().unwrap();
    blocked.wait().await.unwrap();
    let started = tokio::time::Instant::now();
    loop {
        let out = session.run("/bin/echo", &["echo", "third"]).await;
        if code(&out) == 0 {
            assert_eq!(stdout(&out), "third\n");
            break;
        }
        // The server may not have noticed the first wrapper's end yet.
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "stderr: {}",
            stderr(&out)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
