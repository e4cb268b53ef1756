//! `Environment`: one scenario, run against the local backend and against a real server,
//! must give the same transcript (sandboxed commands included: a local `Environment`
//! runs them under bubblewrap as the server does).

use std::path::Path;

use codex_exec_server::Environment;
use codex_exec_server::ExecError;
use codex_exec_server::ExecProcess;
use codex_exec_server::protocol::ProcessEvent;
use codex_exec_server::protocol::ReadParams;
use codex_exec_server::protocol::StartParams;
use codex_exec_server::protocol::TerminateParams;
use codex_exec_server::protocol::WriteParams;
use codex_exec_server::protocol::WriteStatus;
use pretty_assertions::assert_eq;

use super::harness::EVENT_TIMEOUT;
use super::harness::TestServer;
use super::harness::child_env;
use super::harness::cwd;
use super::harness::next_event;
use super::harness::pid_alive;
use super::harness::read_until_closed;
use super::harness::wait_until;

#[derive(Debug, PartialEq)]
struct Transcript {
    write_status: WriteStatus,
    stdout: String,
    stderr: String,
    /// Event kinds in order, with output collapsed to one "output" entry per run.
    shape: Vec<&'static str>,
    seqs_contiguous: bool,
    read_state: (bool, Option<i32>, bool),
    unknown_write: WriteStatus,
    unknown_terminate: String,
    duplicate: String,
    sandbox: String,
    /// stdout and exit code of a command under `workspaceWrite` (Linux).
    sandboxed_run: (String, Option<i32>),
    spawn_failed: String,
    empty_argv: String,
}

fn start(process_id: &str, script: &str, dir: &Path) -> StartParams {
    StartParams {
        process_id: process_id.to_string(),
        argv: vec!["/bin/sh".to_string(), "-c".to_string(), script.to_string()],
        cwd: dir.try_into().unwrap(),
        env: child_env(),
        tty: false,
        pty_size: None,
        pipe_stdin: true,
        arg0: None,
        sandbox_policy: None,
        limits: None,
        output_mode: codex_exec_server::protocol::OutputMode::Pace,
        escalation: None,
    }
}

fn kind(err: ExecError) -> String {
    match err {
        ExecError::UnknownProcess(_) => "unknownProcess".to_string(),
        ExecError::DuplicateProcess(_) => "duplicateProcess".to_string(),
        ExecError::SandboxDenied(_) => "sandboxDenied".to_string(),
        ExecError::SandboxUnavailable(_) => "sandboxUnavailable".to_string(),
        ExecError::SpawnFailed { program, message } => {
            format!("spawnFailed: {program}: {}", !message.is_empty())
        }
        ExecError::InvalidParams(message) => format!("invalidParams: {message}"),
        other => format!("other: {other}"),
    }
}

async fn scenario(exec: &impl ExecProcess) -> Transcript {
    let dir = cwd();
    let (_, mut events) = exec
        .start_streaming(start(
            "s1",
            "read x; echo \"out:$x\"; echo err >&2; exit 3",
            dir.path(),
        ))
        .await
        .unwrap();
    let write_status = exec
        .write(WriteParams {
            process_id: "s1".to_string(),
            chunk: b"hi\n".as_slice().into(),
            write_id: Some("w1".to_string()),
            close_stdin: false,
        })
        .await
        .unwrap()
        .status;

    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut shape = Vec::new();
    let mut seqs = Vec::new();
    loop {
        let event = next_event(&mut events).await;
        match event {
            ProcessEvent::Output(n) => {
                seqs.push(n.seq);
                match n.stream {
                    codex_exec_server::protocol::OutputStream::Stdout => {
                        stdout.extend_from_slice(n.chunk.as_bytes())
                    }
                    codex_exec_server::protocol::OutputStream::Stderr
                    | codex_exec_server::protocol::OutputStream::Pty => {
                        stderr.extend_from_slice(n.chunk.as_bytes())
                    }
                }
                if shape.last() != Some(&"output") {
                    shape.push("output");
                }
            }
            ProcessEvent::Exited(n) => {
                seqs.push(n.seq);
                shape.push("exited");
            }
            ProcessEvent::Closed(n) => {
                seqs.push(n.seq);
                shape.push("closed");
                break;
            }
            ProcessEvent::Gap { .. } => shape.push("gap"),
        }
    }
    let read = exec
        .read(ReadParams {
            process_id: "s1".to_string(),
            ..ReadParams::default()
        })
        .await
        .unwrap();
    let unknown_write = exec
        .write(WriteParams {
            process_id: "ghost".to_string(),
            chunk: b"x".as_slice().into(),
            write_id: None,
            close_stdin: false,
        })
        .await
        .unwrap()
        .status;
    let unknown_terminate = kind(
        exec.terminate(TerminateParams {
            process_id: "ghost".to_string(),
        })
        .await
        .unwrap_err(),
    );
    let duplicate = kind(
        exec.start(start("s1", "true", dir.path()))
            .await
            .unwrap_err(),
    );
    let mut sandboxed = start("s2", "true", dir.path());
    // A policy naming a writable root that does not exist: refused before anything runs,
    // whatever the backend.
    sandboxed.sandbox_policy = Some(
        serde_json::from_value(serde_json::json!({
            "type": "workspaceWrite",
            "writableRoots": [dir.path().join("missing")],
            "readOnlyAccess": {"type": "fullAccess"},
            "networkAccess": false,
            "excludeTmpdirEnvVar": true,
            "excludeSlashTmp": true,
        }))
        .unwrap(),
    );
    let sandbox = kind(exec.start(sandboxed).await.unwrap_err());
    let sandboxed_run = if cfg!(target_os = "linux") {
        sandboxed_run(exec, dir.path()).await
    } else {
        expected().sandboxed_run
    };
    let mut missing = start("s3", "true", dir.path());
    missing.argv = vec!["/no/such/program".to_string()];
    let spawn_failed = kind(exec.start(missing).await.unwrap_err());
    let mut empty = start("s4", "true", dir.path());
    empty.argv = Vec::new();
    let empty_argv = kind(exec.start(empty).await.unwrap_err());
    Transcript {
        write_status,
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
        shape,
        seqs_contiguous: seqs == (1..=seqs.len() as u64).collect::<Vec<_>>(),
        read_state: (read.exited, read.exit_code, read.closed),
        unknown_write,
        unknown_terminate,
        duplicate,
        sandbox,
        sandboxed_run,
        spawn_failed,
        empty_argv,
    }
}

/// Runs a command under `workspaceWrite` over `dir` (no `/tmp`): it may write in `dir`
/// but not next to it, and it inherits no descriptor but its stdio. Returns its stdout
/// and exit code.
async fn sandboxed_run(exec: &impl ExecProcess, dir: &Path) -> (String, Option<i32>) {
    // Resolved, as policies want (under Bazel the temp dir may sit behind a symlink).
    let dir = &dir.canonicalize().unwrap();
    let escape = dir.with_extension("escaped");
    let mut params = start(
        "s5",
        &format!(
            "touch inside && echo wrote; touch {} 2>/dev/null || echo refused; \
             ls /proc/self/fd | tr '\\n' ' '",
            escape.display()
        ),
        dir,
    );
    params.pipe_stdin = false;
    params.sandbox_policy = Some(
        serde_json::from_value(serde_json::json!({
            "type": "workspaceWrite",
            "writableRoots": [dir],
            "readOnlyAccess": {"type": "fullAccess"},
            "networkAccess": false,
            "excludeTmpdirEnvVar": true,
            "excludeSlashTmp": true,
        }))
        .unwrap(),
    );
    exec.start(params).await.unwrap();
    let (stdout, exit_code) = read_until_closed(exec, "s5").await;
    assert!(dir.join("inside").exists() && !escape.exists());
    (String::from_utf8(stdout).unwrap(), exit_code)
}

fn expected() -> Transcript {
    Transcript {
        write_status: WriteStatus::Accepted,
        stdout: "out:hi\n".to_string(),
        stderr: "err\n".to_string(),
        shape: vec!["output", "exited", "closed"],
        seqs_contiguous: true,
        read_state: (true, Some(3), true),
        unknown_write: WriteStatus::UnknownProcess,
        unknown_terminate: "unknownProcess".to_string(),
        duplicate: "duplicateProcess".to_string(),
        sandbox: "sandboxDenied".to_string(),
        // Stdio and the directory `ls` lists, nothing the host process holds (under
        // `cargo test`, the jobserver's descriptors).
        sandboxed_run: ("wrote\nrefused\n0 1 2 3 ".to_string(), Some(0)),
        spawn_failed: "spawnFailed: /no/such/program: true".to_string(),
        empty_argv: "invalidParams: argv must contain at least the program".to_string(),
    }
}

#[tokio::test]
async fn local_and_remote_environments_behave_the_same() {
    let local = Environment::from_env_value(/*value*/ None).await.unwrap();
    assert!(!local.is_remote());
    let local_transcript = scenario(local.exec().unwrap()).await;

    let server = TestServer::start();
    let remote = Environment::from_env_value(Some(&server.url))
        .await
        .unwrap();
    assert!(remote.is_remote());
    assert_eq!(remote.capabilities(), local.capabilities());
    let remote_transcript = scenario(remote.exec().unwrap()).await;

    assert_eq!(local_transcript, expected());
    assert_eq!(remote_transcript, expected());
}

/// Like a server session that expires: once nothing can reach the processes of a local
/// environment any more, they are killed, not left running.
#[tokio::test]
async fn dropping_a_local_environment_kills_its_processes() {
    let local = Environment::from_env_value(/*value*/ None).await.unwrap();
    let dir = cwd();
    let exec = local.exec().unwrap();
    let mut long_running = start("long", "echo $$; exec sleep 1000", dir.path());
    long_running.pipe_stdin = false;
    exec.start(long_running).await.unwrap();
    let read = exec
        .read(ReadParams {
            process_id: "long".to_string(),
            after_seq: None,
            max_bytes: None,
            wait_ms: Some(EVENT_TIMEOUT.as_millis() as u64),
            resume_notifications: false,
        })
        .await
        .unwrap();
    let pid: i32 = String::from_utf8_lossy(read.chunks[0].chunk.as_bytes())
        .trim()
        .parse()
        .unwrap();
    assert!(pid_alive(pid));

    drop(local);

    wait_until("the process is killed", EVENT_TIMEOUT, || !pid_alive(pid)).await;
}

#[tokio::test]
async fn disabled_environment_runs_nothing() {
    let disabled = Environment::from_env_value(Some("none")).await.unwrap();
    assert_eq!(
        disabled.capabilities(),
        codex_exec_server::protocol::Capabilities {
            exec: false,
            filesystem: false
        }
    );
    assert!(matches!(disabled.exec(), Err(ExecError::Disabled)));
    assert!(matches!(
        disabled.file_system(),
        Err(codex_file_system::FileSystemError::Disabled)
    ));
}

#[tokio::test]
async fn unreachable_remote_is_a_typed_error() {
    // Bind then drop a listener to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let result = Environment::from_env_value(Some(&format!("ws://127.0.0.1:{port}"))).await;
    assert!(matches!(result, Err(ExecError::Transport(_))));
}
