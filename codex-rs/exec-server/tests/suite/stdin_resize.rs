//! `process/write {closeStdin}` and `process/resize` (with `process/start {ptySize}`): each
//! scenario runs against the local backend and against a real server and must give the
//! same transcript; then the wire shapes, checked with a raw client.

use codex_exec_server::Environment;
use codex_exec_server::ExecError;
use codex_exec_server::ExecProcess;
use codex_exec_server::protocol::ByteChunk;
use codex_exec_server::protocol::PtySize;
use codex_exec_server::protocol::ReadParams;
use codex_exec_server::protocol::ResizeParams;
use codex_exec_server::protocol::ResizeResponse;
use codex_exec_server::protocol::StartParams;
use codex_exec_server::protocol::TerminateParams;
use codex_exec_server::protocol::WriteParams;
use codex_exec_server::protocol::WriteStatus;
use pretty_assertions::assert_eq;
use serde_json::json;

use super::harness::EVENT_TIMEOUT;
use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::b64;
use super::harness::cwd;
use super::harness::pinned_shell;
use super::harness::read_until_closed;
use super::harness::typed_start;
use super::harness::unb64;

/// A local environment and one on a real server (which lives as long as this).
struct Backends {
    local: Environment,
    remote: Environment,
    _server: TestServer,
}

impl Backends {
    async fn new() -> Self {
        let server = TestServer::start();
        Self {
            local: Environment::from_env_value(/*value*/ None).await.unwrap(),
            remote: Environment::from_env_value(Some(&server.url))
                .await
                .unwrap(),
            _server: server,
        }
    }
}

/// `argv` in the temp directory, stdin `/dev/null`, no PTY.
fn plain(process_id: &str, argv: &[&str]) -> StartParams {
    typed_start(process_id, argv, &std::env::temp_dir())
}

/// `argv` in the temp directory, with a stdin pipe.
fn piped(process_id: &str, argv: &[&str]) -> StartParams {
    StartParams {
        pipe_stdin: true,
        ..plain(process_id, argv)
    }
}

/// `argv` in the temp directory under a PTY of `size` (the default without one).
fn terminal(process_id: &str, argv: &[&str], size: Option<PtySize>) -> StartParams {
    StartParams {
        tty: true,
        pty_size: size,
        ..plain(process_id, argv)
    }
}

fn size(rows: u16, cols: u16) -> PtySize {
    PtySize { rows, cols }
}

async fn write(
    exec: &impl ExecProcess,
    process_id: &str,
    chunk: &[u8],
    close_stdin: bool,
    write_id: Option<&str>,
) -> WriteStatus {
    exec.write(WriteParams {
        process_id: process_id.to_string(),
        chunk: ByteChunk::from(chunk),
        write_id: write_id.map(str::to_string),
        close_stdin,
    })
    .await
    .unwrap()
    .status
}

async fn resize(
    exec: &impl ExecProcess,
    process_id: &str,
    rows: u16,
    cols: u16,
) -> Result<ResizeResponse, String> {
    exec.resize(ResizeParams {
        process_id: process_id.to_string(),
        rows,
        cols,
    })
    .await
    .map_err(|err| format!("{err:?}"))
}

async fn terminate(exec: &impl ExecProcess, process_id: &str) {
    exec.terminate(TerminateParams {
        process_id: process_id.to_string(),
    })
    .await
    .unwrap();
}

/// Output and exit code of a process that ends by itself, as text.
async fn finished(exec: &impl ExecProcess, process_id: &str) -> (String, Option<i32>) {
    let (output, exit_code) = read_until_closed(exec, process_id).await;
    (String::from_utf8_lossy(&output).into_owned(), exit_code)
}

/// Reads `process_id` from the start until its output contains `needle`; returns the
/// output so far.
async fn output_until(exec: &impl ExecProcess, process_id: &str, needle: &str) -> String {
    let read = async {
        let mut after = 0;
        let mut output = Vec::new();
        loop {
            let read = exec
                .read(ReadParams {
                    process_id: process_id.to_string(),
                    after_seq: Some(after),
                    max_bytes: None,
                    wait_ms: Some(1_000),
                    resume_notifications: false,
                })
                .await
                .unwrap();
            for chunk in &read.chunks {
                output.extend_from_slice(chunk.chunk.as_bytes());
            }
            let text = String::from_utf8_lossy(&output).into_owned();
            assert!(
                !read.closed,
                "`{process_id}` closed without {needle:?}: {text:?}"
            );
            if text.contains(needle) {
                return text;
            }
            after = read.next_seq - 1;
        }
    };
    tokio::time::timeout(EVENT_TIMEOUT, read)
        .await
        .unwrap_or_else(|_| panic!("`{process_id}` printed {needle:?} in time"))
}

#[derive(Debug, PartialEq)]
struct PipeTranscript {
    /// `cat`: a line, then the rest with `closeStdin`.
    cat_writes: Vec<WriteStatus>,
    cat: (String, Option<i32>),
    /// After `cat` exited: a close without bytes, a write, the retried closing write.
    cat_after_exit: Vec<WriteStatus>,
    /// `wc -c`: one write with the bytes and `closeStdin`.
    wc: (String, Option<i32>),
    /// A process that reads to end-of-file, then keeps running.
    reader_close: WriteStatus,
    reader_output: String,
    /// Then: a write with bytes, a close without, the retried closing write, a new close.
    reader_after_close: Vec<WriteStatus>,
    /// A process without a stdin pipe: a close without bytes, a write.
    no_stdin: Vec<WriteStatus>,
}

async fn pipe_scenario(exec: &impl ExecProcess) -> PipeTranscript {
    exec.start(piped("cat", &["cat"])).await.unwrap();
    let cat_writes = vec![
        write(
            exec,
            "cat",
            b"hello\n",
            /*close_stdin*/ false,
            Some("w1"),
        )
        .await,
        write(exec, "cat", b"world", /*close_stdin*/ true, Some("w2")).await,
    ];
    let cat = finished(exec, "cat").await;
    let cat_after_exit = vec![
        write(
            exec, "cat", b"", /*close_stdin*/ true, /*write_id*/ None,
        )
        .await,
        write(
            exec, "cat", b"more", /*close_stdin*/ false, /*write_id*/ None,
        )
        .await,
        write(exec, "cat", b"world", /*close_stdin*/ true, Some("w2")).await,
    ];

    exec.start(piped("wc", &["wc", "-c"])).await.unwrap();
    write(
        exec, "wc", b"12345", /*close_stdin*/ true, /*write_id*/ None,
    )
    .await;
    let wc = finished(exec, "wc").await;

    let bash = pinned_shell("bash");
    exec.start(piped(
        "reader",
        &[&bash, "-c", "cat; echo '<eof>'; exec sleep 1000"],
    ))
    .await
    .unwrap();
    let reader_close = write(
        exec,
        "reader",
        b"abc",
        /*close_stdin*/ true,
        Some("r1"),
    )
    .await;
    let reader_output = output_until(exec, "reader", "<eof>").await;
    let reader_after_close = vec![
        write(
            exec, "reader", b"more", /*close_stdin*/ false, /*write_id*/ None,
        )
        .await,
        write(
            exec, "reader", b"", /*close_stdin*/ true, /*write_id*/ None,
        )
        .await,
        write(
            exec,
            "reader",
            b"abc",
            /*close_stdin*/ true,
            Some("r1"),
        )
        .await,
        write(exec, "reader", b"", /*close_stdin*/ true, Some("r2")).await,
    ];
    terminate(exec, "reader").await;

    exec.start(plain("no-stdin", &["sleep", "1000"]))
        .await
        .unwrap();
    let no_stdin = vec![
        write(
            exec, "no-stdin", b"", /*close_stdin*/ true, /*write_id*/ None,
        )
        .await,
        write(
            exec, "no-stdin", b"x", /*close_stdin*/ false, /*write_id*/ None,
        )
        .await,
    ];
    terminate(exec, "no-stdin").await;

    PipeTranscript {
        cat_writes,
        cat,
        cat_after_exit,
        wc,
        reader_close,
        reader_output,
        reader_after_close,
        no_stdin,
    }
}

/// `cat` and `wc -c` see end-of-file after `closeStdin`; later writes with bytes are
/// `stdinClosed`, closing again and retrying the closing write are `accepted`.
#[tokio::test]
async fn close_stdin_ends_pipe_input_locally_and_remotely() {
    let backends = Backends::new().await;

    let local = pipe_scenario(backends.local.exec().unwrap()).await;
    let remote = pipe_scenario(backends.remote.exec().unwrap()).await;

    use WriteStatus::Accepted;
    use WriteStatus::StdinClosed;
    let expected = || PipeTranscript {
        cat_writes: vec![Accepted, Accepted],
        cat: ("hello\nworld".to_string(), Some(0)),
        cat_after_exit: vec![Accepted, StdinClosed, Accepted],
        wc: ("5\n".to_string(), Some(0)),
        reader_close: Accepted,
        reader_output: "abc<eof>\n".to_string(),
        reader_after_close: vec![StdinClosed, Accepted, Accepted, Accepted],
        no_stdin: vec![Accepted, StdinClosed],
    };
    assert_eq!((local, remote), (expected(), expected()));
}

#[derive(Debug, PartialEq)]
struct TerminalTranscript {
    /// `stty size` started with `ptySize` 30×100, and without one.
    sized: (String, Option<i32>),
    default: (String, Option<i32>),
    /// Resizing `stty size`'s terminal after it exited.
    resize_after_exit: Result<ResizeResponse, String>,
    /// A shell that waits for a line, resized to 40×120 before the line comes.
    resized: Result<ResizeResponse, String>,
    resized_output: (String, Option<i32>),
    /// A shell whose `WINCH` trap prints the size, resized to 50×132.
    trapped: (String, Option<i32>),
    /// `wc -c` and `cat` on a PTY after `closeStdin`: an unfinished line, a finished one.
    wc: (WriteStatus, String, Option<i32>),
    cat: (WriteStatus, String, Option<i32>),
    /// Then a write with bytes, and a close without.
    cat_after_close: Vec<WriteStatus>,
}

async fn terminal_scenario(exec: &impl ExecProcess) -> TerminalTranscript {
    exec.start(terminal(
        "sized",
        &["stty", "size"],
        Some(size(/*rows*/ 30, /*cols*/ 100)),
    ))
    .await
    .unwrap();
    let sized = finished(exec, "sized").await;
    let resize_after_exit = resize(exec, "sized", /*rows*/ 40, /*cols*/ 120).await;
    exec.start(terminal("default", &["stty", "size"], /*size*/ None))
        .await
        .unwrap();
    let default = finished(exec, "default").await;

    let bash = pinned_shell("bash");
    exec.start(terminal(
        "resized",
        &[&bash, "-c", "echo ready; read line; stty size"],
        Some(size(/*rows*/ 30, /*cols*/ 100)),
    ))
    .await
    .unwrap();
    output_until(exec, "resized", "ready").await;
    let resized = resize(exec, "resized", /*rows*/ 40, /*cols*/ 120).await;
    write(
        exec, "resized", b"go\n", /*close_stdin*/ false, /*write_id*/ None,
    )
    .await;
    let resized_output = finished(exec, "resized").await;

    exec.start(terminal(
        "trapped",
        &[
            &bash,
            "-c",
            "trap 'stty size; exit 0' WINCH; echo ready; while :; do sleep 0.05; done",
        ],
        /*size*/ None,
    ))
    .await
    .unwrap();
    output_until(exec, "trapped", "ready").await;
    resize(exec, "trapped", /*rows*/ 50, /*cols*/ 132)
        .await
        .unwrap();
    let trapped = finished(exec, "trapped").await;

    exec.start(terminal("wc", &["wc", "-c"], /*size*/ None))
        .await
        .unwrap();
    let wc_write = write(
        exec, "wc", b"hello", /*close_stdin*/ true, /*write_id*/ None,
    )
    .await;
    let (wc_output, wc_exit) = finished(exec, "wc").await;

    exec.start(terminal("cat", &["cat"], /*size*/ None))
        .await
        .unwrap();
    let cat_write = write(
        exec, "cat", b"hi\n", /*close_stdin*/ true, /*write_id*/ None,
    )
    .await;
    let cat_after_close = vec![
        write(
            exec, "cat", b"more", /*close_stdin*/ false, /*write_id*/ None,
        )
        .await,
        write(
            exec, "cat", b"", /*close_stdin*/ true, /*write_id*/ None,
        )
        .await,
    ];
    let (cat_output, cat_exit) = finished(exec, "cat").await;

    TerminalTranscript {
        sized,
        default,
        resize_after_exit,
        resized,
        resized_output,
        trapped,
        wc: (wc_write, wc_output, wc_exit),
        cat: (cat_write, cat_output, cat_exit),
        cat_after_close,
    }
}

/// `ptySize` sets the size a PTY starts with, `process/resize` changes it (and the
/// foreground group gets `SIGWINCH`), and `closeStdin` on a PTY sends end-of-file (two
/// `^D` after an unfinished line). A PTY turns "\n" into "\r\n" and echoes its input.
#[tokio::test]
async fn pty_size_resize_and_close_stdin_on_a_pty_locally_and_remotely() {
    let backends = Backends::new().await;

    let local = terminal_scenario(backends.local.exec().unwrap()).await;
    let remote = terminal_scenario(backends.remote.exec().unwrap()).await;

    let expected = || TerminalTranscript {
        sized: ("30 100\r\n".to_string(), Some(0)),
        default: ("24 80\r\n".to_string(), Some(0)),
        resize_after_exit: Ok(ResizeResponse {}),
        resized: Ok(ResizeResponse {}),
        resized_output: ("ready\r\ngo\r\n40 120\r\n".to_string(), Some(0)),
        trapped: ("ready\r\n50 132\r\n".to_string(), Some(0)),
        wc: (WriteStatus::Accepted, "hello5\r\n".to_string(), Some(0)),
        cat: (WriteStatus::Accepted, "hi\r\nhi\r\n".to_string(), Some(0)),
        cat_after_close: vec![WriteStatus::StdinClosed, WriteStatus::Accepted],
    };
    assert_eq!((local, remote), (expected(), expected()));
}

#[derive(Debug, PartialEq)]
struct ErrorTranscript {
    pipe_resize: Result<ResizeResponse, String>,
    zero_rows: Result<ResizeResponse, String>,
    huge_cols: Result<ResizeResponse, String>,
    unknown: Result<ResizeResponse, String>,
    pty_size_without_tty: String,
    zero_pty_size: String,
}

async fn error_scenario(exec: &impl ExecProcess) -> ErrorTranscript {
    exec.start(plain("pipe", &["sleep", "1000"])).await.unwrap();
    let pipe_resize = resize(exec, "pipe", /*rows*/ 40, /*cols*/ 120).await;
    terminate(exec, "pipe").await;
    exec.start(terminal("tty", &["sleep", "1000"], /*size*/ None))
        .await
        .unwrap();
    let zero_rows = resize(exec, "tty", /*rows*/ 0, /*cols*/ 80).await;
    let huge_cols = resize(exec, "tty", /*rows*/ 24, /*cols*/ 5000).await;
    terminate(exec, "tty").await;
    let unknown = resize(exec, "ghost", /*rows*/ 24, /*cols*/ 80).await;
    let start_error = async |params: StartParams| -> String {
        let err: ExecError = exec.start(params).await.unwrap_err();
        format!("{err:?}")
    };
    let pty_size_without_tty = start_error(StartParams {
        pty_size: Some(size(/*rows*/ 30, /*cols*/ 100)),
        ..plain("sized-pipe", &["true"])
    })
    .await;
    let zero_pty_size = start_error(terminal(
        "zero",
        &["true"],
        Some(size(/*rows*/ 0, /*cols*/ 100)),
    ))
    .await;
    ErrorTranscript {
        pipe_resize,
        zero_rows,
        huge_cols,
        unknown,
        pty_size_without_tty,
        zero_pty_size,
    }
}

/// The refusals are typed, and the same from a server as locally.
#[tokio::test]
async fn resize_and_pty_size_errors_are_typed_locally_and_remotely() {
    let backends = Backends::new().await;

    let local = error_scenario(backends.local.exec().unwrap()).await;
    let remote = error_scenario(backends.remote.exec().unwrap()).await;

    let invalid = |message: &str| format!("{:?}", ExecError::InvalidParams(message.to_string()));
    let expected = || ErrorTranscript {
        pipe_resize: Err(format!("{:?}", ExecError::NotATerminal("pipe".to_string()))),
        zero_rows: Err(invalid("`rows` must be an integer from 1 to 4096, got 0")),
        huge_cols: Err(invalid(
            "`cols` must be an integer from 1 to 4096, got 5000",
        )),
        unknown: Err(format!(
            "{:?}",
            ExecError::UnknownProcess("ghost".to_string())
        )),
        pty_size_without_tty: invalid("`ptySize` needs `tty: true`"),
        zero_pty_size: invalid("`ptySize.rows` must be an integer from 1 to 4096, got 0"),
    };
    assert_eq!((local, remote), (expected(), expected()));
}

/// Output of `process_id` from its notifications, until it closed, and its exit code.
async fn notified_output(client: &mut RawClient, process_id: &str) -> (String, Option<i64>) {
    let mut output = Vec::new();
    let mut exit_code = None;
    for event in client.events_until_closed(process_id).await {
        match event["method"].as_str() {
            Some("process/output") => output.extend(unb64(&event["params"]["chunk"])),
            Some("process/exited") => exit_code = event["params"]["exitCode"].as_i64(),
            _ => {}
        }
    }
    (String::from_utf8_lossy(&output).into_owned(), exit_code)
}

/// `closeStdin` on the wire: `true` closes after the chunk, absent means `false`, another
/// type is `-32602`.
#[tokio::test]
async fn close_stdin_on_the_wire() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    client
        .ok(
            "process/start",
            json!({"processId": "cat", "argv": ["cat"], "cwd": dir.path(),
                   "env": {"PATH": "/usr/bin:/bin"}, "tty": false, "pipeStdin": true}),
        )
        .await;

    let wrong_type = client
        .request(
            "process/write",
            json!({"processId": "cat", "chunk": "", "closeStdin": "yes"}),
        )
        .await;
    let write = client
        .ok(
            "process/write",
            json!({"processId": "cat", "chunk": b64(b"hi\n")}),
        )
        .await;
    let close = client
        .ok(
            "process/write",
            json!({"processId": "cat", "chunk": b64(b"bye"), "closeStdin": true}),
        )
        .await;
    let printed = notified_output(&mut client, "cat").await;
    let close_again = client
        .ok(
            "process/write",
            json!({"processId": "cat", "chunk": "", "closeStdin": true}),
        )
        .await;
    let write_after = client
        .ok(
            "process/write",
            json!({"processId": "cat", "chunk": b64(b"x"), "closeStdin": false}),
        )
        .await;

    assert_eq!(
        (
            wrong_type["error"]["code"].clone(),
            write,
            close,
            printed,
            close_again,
            write_after
        ),
        (
            json!(-32602),
            json!({"status": "accepted"}),
            json!({"status": "accepted"}),
            ("hi\nbye".to_string(), Some(0)),
            json!({"status": "accepted"}),
            json!({"status": "stdinClosed"}),
        )
    );
}

/// `process/resize` on the wire: `{}` on success; a wrong type, a size out of bounds or an
/// unknown field is `-32602` naming the field, a pipe process `notATerminal` (-32017), an
/// unknown one `unknownProcess`; `ptySize` needs `tty`.
#[tokio::test]
async fn resize_on_the_wire() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = cwd();
    let start_json = |process_id: &str, tty: bool| {
        json!({"processId": process_id, "argv": ["sleep", "1000"], "cwd": dir.path(),
               "env": {"PATH": "/usr/bin:/bin"}, "tty": tty})
    };
    let mut sized = start_json("tty", /*tty*/ true);
    sized["ptySize"] = json!({"rows": 30, "cols": 100});
    client.ok("process/start", sized).await;
    client
        .ok("process/start", start_json("pipe", /*tty*/ false))
        .await;
    let mut sized_pipe = start_json("sized-pipe", /*tty*/ false);
    sized_pipe["ptySize"] = json!({"rows": 30, "cols": 100});

    let resized = client
        .request(
            "process/resize",
            json!({"processId": "tty", "rows": 40, "cols": 120}),
        )
        .await;
    let wrong_type = client
        .request(
            "process/resize",
            json!({"processId": "tty", "rows": "40", "cols": 120}),
        )
        .await;
    let zero = client
        .request(
            "process/resize",
            json!({"processId": "tty", "rows": 0, "cols": 120}),
        )
        .await;
    let unknown_field = client
        .request(
            "process/resize",
            json!({"processId": "tty", "rows": 40, "cols": 120, "xPixels": 0}),
        )
        .await;
    let pipe = client
        .request(
            "process/resize",
            json!({"processId": "pipe", "rows": 40, "cols": 120}),
        )
        .await;
    let ghost = client
        .request(
            "process/resize",
            json!({"processId": "ghost", "rows": 40, "cols": 120}),
        )
        .await;
    let pty_size_without_tty = client.request("process/start", sized_pipe).await;
    for process_id in ["tty", "pipe"] {
        client
            .ok("process/terminate", json!({"processId": process_id}))
            .await;
    }

    let invalid = |message: &str| {
        json!({"code": -32602, "message": format!("invalid params: {message}"),
               "data": {"reason": message}})
    };
    assert_eq!(
        (
            resized["result"].clone(),
            wrong_type["error"].clone(),
            zero["error"].clone(),
            unknown_field["error"]["code"].clone(),
            pipe["error"].clone(),
            ghost["error"]["data"].clone(),
            pty_size_without_tty["error"].clone(),
        ),
        (
            json!({}),
            json!({"code": -32602,
                   "message": "invalid params: `rows` must be an integer from 1 to 4096, got \"40\""}),
            invalid("`rows` must be an integer from 1 to 4096, got 0"),
            json!(-32602),
            json!({"code": -32017,
                   "message": "process `pipe` has no terminal to resize (it was started without `tty: true`)",
                   "data": {"kind": "notATerminal", "processId": "pipe"}}),
            json!({"kind": "unknownProcess", "processId": "ghost"}),
            invalid("`ptySize` needs `tty: true`"),
        )
    );
}
