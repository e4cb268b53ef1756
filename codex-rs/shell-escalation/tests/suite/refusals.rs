//! The wrapper refuses (exit 126, a message, nothing run) whenever it cannot get a
//! decision: no socket variable, a forged one (not a number, not open, not a socket,
//! the wrong kind of socket), a socket nobody serves, and input it cannot put in a
//! request.

use std::ffi::OsStr;
use std::os::fd::AsRawFd;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::process::CommandExt as _;

use codex_shell_escalation::EscalationDecision;
use codex_shell_escalation::clear_cloexec;
use codex_utils_test_support::Who;
use codex_utils_test_support::both_users;
use pretty_assertions::assert_eq;

use super::harness::Session;
use super::harness::StubPolicy;
use super::harness::code;
use super::harness::output;
use super::harness::stderr;
use super::raw::seqpacket_pair;

both_users!(async
    no_socket_variable,
    a_socket_variable_that_is_not_a_number,
    a_descriptor_that_is_not_open,
    a_descriptor_that_is_not_a_socket,
    a_stream_socket,
    a_socket_nobody_serves,
    a_stopped_server,
);

/// Runs `sh -c 'touch <marker>'` through the wrapper with `CODEX_ESCALATE_SOCKET`
/// set to `value` (unset for `None`) and `fd` inherited, and checks that it refused
/// with a message containing `expected` and that nothing ran.
async fn assert_refused(
    session: &Session,
    value: Option<&str>,
    fd: Option<&OwnedFd>,
    expected: &str,
) {
    let marker = session.dir.path("ran");
    let script = format!("touch {}", marker.display());
    let mut command = session.wrapper_command("/bin/sh", &["sh", "-c", &script]);
    match value {
        Some(value) => command.env("CODEX_ESCALATE_SOCKET", value),
        None => command.env_remove("CODEX_ESCALATE_SOCKET"),
    };
    if let Some(fd) = fd {
        let raw = fd.as_raw_fd();
        unsafe {
            command.pre_exec(move || clear_cloexec(raw));
        }
    }

    let out = output(command).await;

    assert_eq!(code(&out), 126, "stderr: {}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.starts_with("codex-execve-wrapper: refusing to run /bin/sh: "),
        "stderr: {message}"
    );
    assert!(
        message.contains(expected),
        "expected {expected:?} in {message:?}"
    );
    assert!(!marker.exists(), "the program ran");
    assert_eq!(session.policy.requests(), []);
}

fn run_session(who: Who) -> Session {
    Session::start(who, StubPolicy::always(EscalationDecision::Run))
}

async fn no_socket_variable(who: Who) {
    let session = run_session(who);
    assert_refused(
        &session,
        /*value*/ None,
        /*fd*/ None,
        "CODEX_ESCALATE_SOCKET is not set",
    )
    .await;
}

async fn a_socket_variable_that_is_not_a_number(who: Who) {
    let session = run_session(who);
    for value in ["", "abc", "-1", "+3", " 3", "3 ", "99999999999999999999"] {
        assert_refused(
            &session,
            Some(value),
            /*fd*/ None,
            "is not a descriptor number",
        )
        .await;
    }
}

async fn a_descriptor_that_is_not_open(who: Who) {
    let session = run_session(who);
    assert_refused(
        &session,
        Some("1000"),
        /*fd*/ None,
        "descriptor 1000 (CODEX_ESCALATE_SOCKET) is not open",
    )
    .await;
}

async fn a_descriptor_that_is_not_a_socket(who: Who) {
    let session = run_session(who);
    let file: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
    let number = file.as_raw_fd().to_string();
    assert_refused(&session, Some(&number), Some(&file), "is not a socket").await;
}

async fn a_stream_socket(who: Who) {
    let session = run_session(who);
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let theirs: OwnedFd = theirs.into();
    let number = theirs.as_raw_fd().to_string();
    assert_refused(
        &session,
        Some(&number),
        Some(&theirs),
        "is not a Unix SOCK_SEQPACKET socket",
    )
    .await;
    drop(ours);
}

/// The right kind of socket, but its other end is closed: the handshake fails.
async fn a_socket_nobody_serves(who: Who) {
    let session = run_session(who);
    let (orphan, other) = seqpacket_pair();
    drop(other);
    let number = orphan.as_raw_fd().to_string();
    assert_refused(
        &session,
        Some(&number),
        Some(&orphan),
        "no escalation server is listening",
    )
    .await;
}

/// The session's own socket after its server was dropped.
async fn a_stopped_server(who: Who) {
    let mut session = run_session(who);
    drop(session.server.take());
    // The abort completes at the runtime's next turn.
    tokio::task::yield_now().await;
    let number = session.shell.raw_fd().to_string();
    assert_refused(&session, Some(&number), /*fd*/ None, "").await;
}

/// Without FILE and ARGV0 the wrapper refuses with its usage.
#[tokio::test]
async fn missing_arguments() {
    let session = run_session(Who::Caller);
    for args in [&[][..], &["/bin/true"][..]] {
        let mut command = std::process::Command::new(session.wrapper());
        command.args(args);
        session.shell.configure(&mut command);

        let out = output(command).await;

        assert_eq!(code(&out), 126);
        assert!(
            stderr(&out).contains("usage: codex-execve-wrapper FILE ARGV0 [ARGS...]"),
            "stderr: {}",
            stderr(&out)
        );
    }
    assert_eq!(session.policy.requests(), []);
}

/// Arguments, paths and environment entries must be UTF-8 to be decided on: anything
/// else is refused, never passed along lossily.
#[tokio::test]
async fn input_that_is_not_utf8() {
    let session = run_session(Who::Caller);
    let bad = OsStr::from_bytes(b"caf\xe9");

    let out = session.run("/bin/echo", &[OsStr::new("echo"), bad]).await;
    assert_eq!(code(&out), 126);
    assert!(
        stderr(&out).contains("argument 1 is not valid UTF-8"),
        "stderr: {}",
        stderr(&out)
    );

    let out = session.run(bad, &["x"]).await;
    assert_eq!(code(&out), 126);
    assert!(
        stderr(&out).contains("the program path is not valid UTF-8"),
        "stderr: {}",
        stderr(&out)
    );

    let mut command = session.wrapper_command("/bin/true", &["true"]);
    command.env("ODD", bad);
    let out = output(command).await;
    assert_eq!(code(&out), 126);
    assert!(
        stderr(&out).contains("environment variable ODD is not valid UTF-8"),
        "stderr: {}",
        stderr(&out)
    );

    assert_eq!(session.policy.requests(), []);
}
