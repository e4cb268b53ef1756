use std::collections::BTreeMap;

use pretty_assertions::assert_eq;

use super::*;

fn request(file: &str, argv: &[&str], cwd: &str) -> ExecRequest {
    ExecRequest {
        file: file.into(),
        argv: argv.iter().map(|arg| arg.to_string()).collect(),
        cwd: cwd.into(),
        env: BTreeMap::new(),
    }
}

struct RunAll;

impl EscalationPolicy for RunAll {
    fn decide(&self, _request: ExecRequest) -> crate::BoxFuture<'_, EscalationDecision> {
        Box::pin(async { EscalationDecision::Run })
    }
}

#[test]
fn validate_checks_counts_and_paths() {
    let limits = Limits {
        max_args: 3,
        ..Limits::default()
    };
    assert_eq!(
        validate(&request("/bin/true", &["true"], "/"), limits),
        Ok(())
    );
    assert_eq!(
        validate(&request("/bin/true", &["a", "b", "c", "d"], "/"), limits),
        Err("the command has 4 arguments, more than the limit of 3".to_string())
    );
    assert!(validate(&request("/bin/true", &[], "/"), limits).is_err());
    assert!(validate(&request("true", &["true"], "/"), limits).is_err());
    assert!(validate(&request("/bin/true", &["true"], "."), limits).is_err());
}

fn received(len: usize, fds: Vec<OwnedFd>) -> sys::Received {
    sys::Received {
        len,
        fds,
        truncated: false,
        fds_truncated: false,
    }
}

#[test]
fn only_a_well_formed_handshake_yields_a_channel() {
    let stream = || -> OwnedFd { sys::socketpair(libc::SOCK_STREAM).unwrap().0 };
    let good = classify_handshake(&HANDSHAKE, received(/*len*/ 4, vec![stream()]));
    assert!(matches!(good, Handshake::Channel(_)));

    let cases = [
        classify_handshake(b"CXE2", received(/*len*/ 4, vec![stream()])),
        classify_handshake(&HANDSHAKE, received(/*len*/ 3, vec![stream()])),
        classify_handshake(&HANDSHAKE, received(/*len*/ 4, vec![])),
        classify_handshake(&HANDSHAKE, received(/*len*/ 4, vec![stream(), stream()])),
        classify_handshake(
            &HANDSHAKE,
            received(
                /*len*/ 4,
                vec![sys::socketpair(libc::SOCK_SEQPACKET).unwrap().0],
            ),
        ),
        classify_handshake(
            &HANDSHAKE,
            received(
                /*len*/ 4,
                vec![std::fs::File::open("/dev/null").unwrap().into()],
            ),
        ),
    ];
    for case in cases {
        assert!(matches!(case, Handshake::Invalid(_)));
    }
}

#[test]
fn starting_needs_a_runtime() {
    let err = EscalationServer::start_with(Arc::new(RunAll), ServerOptions::new("/bin/true"))
        .unwrap_err();
    assert!(matches!(err, EscalationError::NoRuntime));
}

#[tokio::test]
async fn the_shell_side_names_its_descriptor_and_the_wrapper() {
    let (server, shell) = EscalationServer::start_with(
        Arc::new(RunAll),
        ServerOptions::new("/opt/codex/codex-execve-wrapper"),
    )
    .unwrap();
    assert_eq!(
        shell.env(),
        vec![
            (
                "CODEX_ESCALATE_SOCKET",
                OsString::from(shell.raw_fd().to_string())
            ),
            (
                "EXEC_WRAPPER",
                OsString::from("/opt/codex/codex-execve-wrapper")
            ),
        ]
    );
    assert!(sys::is_unix_socket(shell.fd(), libc::SOCK_SEQPACKET));

    // A child that runs with `configure` sees the socket under the same number; one
    // without does not (the descriptor is close-on-exec here).
    let check = format!("test -S /proc/self/fd/{} && echo inherited", shell.raw_fd());
    let mut with = std::process::Command::new("/bin/sh");
    with.args(["-c", &check]);
    shell.configure(&mut with);
    let mut without = std::process::Command::new("/bin/sh");
    without.args(["-c", &check]);
    assert_eq!(with.output().unwrap().stdout, b"inherited\n");
    assert_eq!(without.output().unwrap().stdout, b"");

    // Every copy of the shell's end gone: the server stops by itself.
    drop(shell);
    let started = std::time::Instant::now();
    while !server.is_finished() {
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn locating_the_wrapper_checks_it_is_executable() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("codex-execve-wrapper");
    assert!(matches!(
        check_executable(&missing),
        Err(EscalationError::WrapperNotFound { .. })
    ));
    std::fs::write(&missing, "").unwrap();
    assert!(check_executable(&missing).is_err());
    std::fs::set_permissions(
        &missing,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    assert!(check_executable(&missing).is_ok());
    assert!(check_executable(dir.path()).is_err());
}

/// Nothing of the request's environment reaches an escalated program but the kept names
/// and prefixes, only with values that name no path, never the escalation variables;
/// `set` comes on top.
#[test]
fn escalated_env_keeps_only_what_it_names() {
    let env = EscalatedEnv {
        keep: vec![
            "TERM".to_string(),
            "COLUMNS".to_string(),
            "CODEX_ESCALATE_SOCKET".to_string(),
        ],
        keep_prefixes: vec!["LC_".to_string()],
        set: BTreeMap::from([
            ("PATH".to_string(), "/usr/bin".to_string()),
            ("TERM".to_string(), "host".to_string()),
        ]),
    };
    let request: BTreeMap<String, String> = [
        ("TERM", "xterm"),
        ("COLUMNS", "/planted"),
        ("LC_ALL", "C"),
        ("LC_CTYPE", "../x/y"),
        ("BASH_ENV", "/planted.sh"),
        ("PATH", "/planted:/usr/bin"),
        ("CODEX_ESCALATE_SOCKET", "3"),
        ("OPENSSL_CONF", "x.cnf"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .collect();
    assert_eq!(
        env.apply(&request),
        BTreeMap::from([
            ("LC_ALL".to_string(), "C".to_string()),
            ("PATH".to_string(), "/usr/bin".to_string()),
            ("TERM".to_string(), "host".to_string()),
        ])
    );
    assert_eq!(EscalatedEnv::default().apply(&request), BTreeMap::new());
}
