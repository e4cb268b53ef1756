//! Shared helpers: a real `codex-exec-server` child per test (ephemeral port, temp HOME,
//! killed on drop) and a raw WebSocket client for protocol-level assertions.

use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::io::BufRead;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;

use futures_util::SinkExt;
use futures_util::StreamExt;
use serde_json::Value;
use serde_json::json;
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// How long a server may take to print its URL.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound for any single expected message or condition.
pub const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

pub struct TestServer {
    child: Child,
    /// The first line the server printed: `ws://127.0.0.1:PORT/?token=HEX` with the token
    /// it generated, or `ws://127.0.0.1:PORT` when it was given one (or `--no-auth`).
    pub url: String,
    /// The token in [`TestServer::url`], if any.
    pub token: Option<String>,
    /// What the server logged, when started with its stderr captured.
    stderr: Option<std::sync::Arc<std::sync::Mutex<String>>>,
    _home: TempDir,
}

impl TestServer {
    pub fn start() -> Self {
        Self::start_with(&[], &[])
    }

    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Self {
        let home = tempfile::tempdir().expect("temp home");
        let command = Self::command(home.path().to_path_buf(), args, env);
        Self::spawn(command, home, /*capture_stderr*/ false)
    }

    /// Like [`TestServer::start_with`], but the server runs as the last word of
    /// `wrapper` (which must execute it in its place or kill it when it dies; `env` will
    /// do), and the warnings it logs are kept for [`TestServer::stderr`].
    pub fn start_under(wrapper: &[&str], args: &[&str]) -> Self {
        Self::start_under_with(wrapper, /*program*/ None, args, &[])
    }

    /// [`TestServer::start_under`] with `env` for the server (`RUST_LOG` in it overrides
    /// the `warn` level), and `program` in place of the built binary if given.
    pub fn start_under_with(
        wrapper: &[&str],
        program: Option<&std::path::Path>,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let home = tempfile::tempdir().expect("temp home");
        // The warnings are what such tests look for, whatever a developer's RUST_LOG says.
        let env: Vec<(&str, &str)> = [("RUST_LOG", "warn")]
            .into_iter()
            .chain(env.iter().copied())
            .collect();
        let server = Self::command(home.path().to_path_buf(), args, &env);
        let mut command = Command::new(wrapper[0]);
        command
            .args(&wrapper[1..])
            .arg(program.map_or(server.get_program(), std::path::Path::as_os_str))
            .args(server.get_args());
        for (key, value) in server.get_envs() {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        Self::spawn(command, home, /*capture_stderr*/ true)
    }

    /// The server running as the unprivileged user `nobody` (uid and gid 65534, no
    /// groups), through `setpriv`, from a copy of the binary in a world-readable
    /// directory (the build's own directory may not be: `/root` is mode 0700). Needs
    /// root; `None` otherwise. The copy lives as long as the returned directory.
    pub fn start_as_nobody(
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Option<(Self, codex_utils_test_support::InstalledCopy)> {
        if !codex_utils_test_support::Who::Nobody.available() {
            eprintln!("skipped: starting a server as another user needs root");
            return None;
        }
        let copy = installed_server();
        let server = Self::start_under_with(
            &codex_utils_test_support::NOBODY_SETPRIV,
            Some(&copy.path),
            args,
            env,
        );
        Some((server, copy))
    }

    fn spawn(mut command: Command, home: TempDir, capture_stderr: bool) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(if capture_stderr {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .expect("spawn codex-exec-server");
        let stderr = child.stderr.take().map(|pipe| {
            let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
            let sink = std::sync::Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut log = sink.lock().expect("log");
                    log.push_str(&line);
                    log.push('\n');
                }
            });
            log
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(STARTUP_TIMEOUT)
            .expect("server printed its URL in time");
        let url = line.trim().to_string();
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            // It died instead: say what it (or its wrapper) logged, once it is gone.
            let status = child.wait();
            std::thread::sleep(Duration::from_millis(100));
            let logged = stderr.as_ref().map(|log| log.lock().expect("log").clone());
            panic!("first stdout line: {url:?}; exit: {status:?}; stderr: {logged:?}");
        }
        let token = url
            .split_once("?token=")
            .map(|(_, token)| token.to_string());
        Self {
            child,
            url,
            token,
            stderr,
            _home: home,
        }
    }

    /// What the server logged so far (only for [`TestServer::start_under`]).
    pub fn stderr(&self) -> String {
        let log = self.stderr.as_ref().expect("started with stderr captured");
        log.lock().expect("log").clone()
    }

    pub fn command(home: PathBuf, args: &[&str], env: &[(&str, &str)]) -> Command {
        let bin = codex_utils_cargo_bin::cargo_bin("codex-exec-server").expect("binary");
        let mut command = Command::new(bin);
        if !args.contains(&"--listen") {
            command.arg("--listen").arg("ws://127.0.0.1:0");
        }
        command
            .args(args)
            .env("HOME", home)
            // Quiet by default; a developer's RUST_LOG wins.
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_string()),
            )
            .env_remove("CODEX_EXEC_SERVER_TOKEN")
            .envs(env.iter().copied());
        command
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        let addr = self.url.trim_start_matches("wss://");
        let addr = addr.trim_start_matches("ws://");
        addr.split('/').next().unwrap_or(addr).to_string()
    }

    /// The request target of a hand-written upgrade that the server accepts: `/?token=HEX`
    /// (or `/` for a server without a generated token).
    pub fn upgrade_target(&self) -> String {
        match &self.token {
            Some(token) => format!("/?token={token}"),
            None => "/".to_string(),
        }
    }

    /// [`TestServer::url`] with `addr` (say, a proxy's) in place of the server's.
    pub fn url_via(&self, addr: &str) -> String {
        self.url.replacen(&self.addr(), addr, /*count*/ 1)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait for the server to exit (after a signal the test sent).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for TestServer {
    /// SIGTERM first, so the server kills its processes' groups as it does on shutdown
    /// (a SIGKILL leaves them running, orphaned); SIGKILL if it is not gone within 5 s.
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) with plain integers.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while std::time::Instant::now() < deadline {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A temp dir usable as a process cwd.
pub fn cwd() -> TempDir {
    tempfile::tempdir().expect("temp cwd")
}

/// A minimal complete environment for children.
pub fn child_env() -> BTreeMap<String, String> {
    BTreeMap::from([("PATH".to_string(), "/usr/bin:/bin".to_string())])
}

pub fn start_params(process_id: &str, script: &str, cwd: &std::path::Path) -> Value {
    json!({
        "processId": process_id,
        "argv": ["/bin/sh", "-c", script],
        "cwd": cwd,
        "env": child_env(),
        "tty": false,
    })
}

/// Typed `process/start` params: `argv` in `cwd` with the test environment, no tty, no
/// stdin, no sandbox.
pub fn typed_start(
    process_id: &str,
    argv: &[&str],
    cwd: &std::path::Path,
) -> codex_exec_server::protocol::StartParams {
    codex_exec_server::protocol::StartParams {
        process_id: process_id.to_string(),
        argv: argv.iter().map(ToString::to_string).collect(),
        cwd: cwd.try_into().unwrap(),
        env: child_env(),
        tty: false,
        pty_size: None,
        pipe_stdin: false,
        arg0: None,
        sandbox_policy: None,
        limits: None,
        output_mode: codex_exec_server::protocol::OutputMode::Pace,
        escalation: None,
    }
}

/// `params` (of `process/start`) with `outputMode: "drop"`.
pub fn drop_mode(mut params: Value) -> Value {
    params["outputMode"] = Value::from("drop");
    params
}

pub fn b64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

pub fn unb64(value: &Value) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(value.as_str().expect("base64 string"))
        .expect("valid base64")
}

/// Poll `check` until it returns true, failing after `timeout`.
pub async fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn pid_alive(pid: i32) -> bool {
    // A zombie still "exists" for kill(0); treat it as dead.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A JSON-RPC client with no smarts, to assert on exact wire behaviour.
pub struct RawClient {
    ws: Ws,
    next_id: u64,
    pub notifications: VecDeque<Value>,
    responses: std::collections::HashMap<u64, Value>,
    /// Binary frames received so far (each is handed on as the text message it stands
    /// for; see [`binary_frame_as_json`]).
    pub binary_frames: usize,
}

impl RawClient {
    pub async fn connect(url: &str) -> Self {
        let (ws, _) = tokio::time::timeout(EVENT_TIMEOUT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("connect");
        Self {
            ws,
            next_id: 1,
            notifications: VecDeque::new(),
            responses: std::collections::HashMap::new(),
            binary_frames: 0,
        }
    }

    /// Connect and run the handshake; returns the client and the session id.
    pub async fn initialized(url: &str) -> (Self, String) {
        Self::initialized_with(url, json!({"clientName": "test"})).await
    }

    /// [`RawClient::initialized`] for a client that reads output with `process/read`
    /// only (`outputNotifications: false`): paced processes wait for its reads.
    pub async fn initialized_reader(url: &str) -> (Self, String) {
        Self::initialized_with(
            url,
            json!({"clientName": "reader", "outputNotifications": false}),
        )
        .await
    }

    /// [`RawClient::initialized`] for a client that asks for binary output frames
    /// (`binaryOutput: true`), which the server must grant.
    pub async fn initialized_binary(url: &str) -> (Self, String) {
        Self::initialized_binary_with(url, json!({"clientName": "binary"})).await
    }

    /// [`RawClient::initialized_binary`] that reads output with `process/read` only.
    pub async fn initialized_binary_reader(url: &str) -> (Self, String) {
        Self::initialized_binary_with(
            url,
            json!({"clientName": "binary reader", "outputNotifications": false}),
        )
        .await
    }

    async fn initialized_binary_with(url: &str, mut params: Value) -> (Self, String) {
        params["binaryOutput"] = json!(true);
        let mut client = Self::connect(url).await;
        let response = client.request("initialize", params).await;
        assert_eq!(
            response["result"]["binaryOutput"],
            json!(true),
            "{response}"
        );
        let session_id = response["result"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("initialize failed: {response}"))
            .to_string();
        client.notify("initialized", json!({})).await;
        (client, session_id)
    }

    async fn initialized_with(url: &str, params: Value) -> (Self, String) {
        let mut client = Self::connect(url).await;
        let response = client.request("initialize", params).await;
        let session_id = response["result"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("initialize failed: {response}"))
            .to_string();
        client.notify("initialized", json!({})).await;
        (client, session_id)
    }

    pub async fn send_text(&mut self, text: String) {
        self.try_send_text(text).await.expect("send");
    }

    pub async fn try_send_text(
        &mut self,
        text: String,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        self.ws.send(Message::text(text)).await
    }

    pub async fn send_binary(&mut self, data: Vec<u8>) {
        self.ws
            .send(Message::Binary(data.into()))
            .await
            .expect("send");
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        self.send_text(json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string())
            .await;
    }

    /// Send a request without waiting; returns its id.
    pub async fn send_request(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send_text(
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        )
        .await;
        id
    }

    /// A notification stashed while waiting for a response, oldest first.
    pub fn pending_notification(&mut self) -> Option<Value> {
        self.notifications.pop_front()
    }

    /// The next message of any kind.
    pub async fn recv(&mut self) -> Value {
        // One deadline for the whole wait: the server's pings must not keep extending it.
        let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
        loop {
            let message = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .expect("message in time")
                .expect("connection open")
                .expect("websocket message");
            match message {
                Message::Text(text) => {
                    return serde_json::from_str(text.as_str()).expect("server sends JSON");
                }
                Message::Binary(frame) => {
                    self.binary_frames += 1;
                    return binary_frame_as_json(&frame);
                }
                Message::Close(frame) => panic!("connection closed: {frame:?}"),
                _ => {}
            }
        }
    }

    /// The response with this id, stashing notifications and other responses (responses
    /// may come in any order).
    pub async fn response(&mut self, id: u64) -> Value {
        if let Some(message) = self.responses.remove(&id) {
            return message;
        }
        loop {
            let message = self.recv().await;
            if message.get("id").is_some_and(|v| *v == json!(id)) {
                return message;
            }
            if message.get("method").is_some() {
                self.notifications.push_back(message);
            } else if let Some(other) = message.get("id").and_then(Value::as_u64) {
                self.responses.insert(other, message);
            } else {
                panic!("unexpected message while waiting for id {id}: {message}");
            }
        }
    }

    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params).await;
        self.response(id).await
    }

    /// `result` of a request that must succeed.
    pub async fn ok(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params).await;
        assert!(
            response.get("error").is_none(),
            "{method} failed: {response}"
        );
        response["result"].clone()
    }

    /// Notifications for `process_id` until (and including) its `process/closed`.
    pub async fn events_until_closed(&mut self, process_id: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut others = VecDeque::new();
        loop {
            let message = match self.notifications.pop_front() {
                Some(message) => message,
                None => self.recv().await,
            };
            if message["params"]["processId"] != json!(process_id) {
                // Keep other processes' notifications for later calls, in order.
                others.push_back(message);
                continue;
            }
            let closed = message["method"] == json!("process/closed");
            events.push(message);
            if closed {
                others.append(&mut self.notifications);
                self.notifications = others;
                return events;
            }
        }
    }

    /// Read until closed via `process/read` (independent of notifications).
    pub async fn read_all(&mut self, process_id: &str) -> (Vec<u8>, Value) {
        let printed = self.read_printed(process_id, async |_| {}).await;
        (printed.all, printed.last)
    }

    /// Reads `process_id` with `process/read` until it closed, calling `each` with what
    /// it printed so far after every reply.
    pub async fn read_printed(
        &mut self,
        process_id: &str,
        mut each: impl AsyncFnMut(&Printed),
    ) -> Printed {
        let mut after = 0u64;
        let mut printed = Printed::default();
        loop {
            let result = self
                .ok(
                    "process/read",
                    json!({"processId": process_id, "afterSeq": after, "waitMs": 2000}),
                )
                .await;
            for chunk in result["chunks"].as_array().expect("chunks") {
                let bytes = unb64(&chunk["chunk"]);
                printed.all.extend(&bytes);
                match chunk["stream"].as_str() {
                    Some("stderr") => printed.stderr.extend(bytes),
                    _ => printed.stdout.extend(bytes),
                }
            }
            after = result["nextSeq"].as_u64().expect("nextSeq") - 1;
            let closed = result["closed"] == json!(true);
            printed.last = result;
            each(&printed).await;
            if closed {
                return printed;
            }
        }
    }

    /// The next raw WebSocket message (for close-frame assertions).
    pub async fn next_raw(
        &mut self,
    ) -> Option<Result<Message, tokio_tungstenite::tungstenite::Error>> {
        self.ws.next().await
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(/*msg*/ None).await;
    }
}

/// The message a binary output frame stands for, as it would be in a text frame: every
/// `chunkLength` of the header replaced by `chunk`, its bytes in base64. Written from
/// `docs/exec-server-protocol.md` ("Binary output frames") alone, independently of the
/// crate's decoder; panics on anything the document does not allow.
pub fn binary_frame_as_json(frame: &[u8]) -> Value {
    let (&version, rest) = frame.split_first().expect("a version byte");
    assert_eq!(version, 1, "binary frame version");
    let (length, rest) = rest.split_at(/*mid*/ 4);
    let length = u32::from_be_bytes(length.try_into().expect("4 bytes")) as usize;
    let (header, mut payload) = rest.split_at(length);
    let mut message: Value = serde_json::from_slice(header).expect("the header is JSON");
    let mut fill = |chunk: &mut Value| {
        let object = chunk.as_object_mut().expect("a chunk header is an object");
        let length = object
            .remove("chunkLength")
            .and_then(|length| length.as_u64())
            .expect("chunkLength") as usize;
        let (bytes, rest) = payload.split_at(length);
        object.insert("chunk".to_string(), Value::from(b64(bytes)));
        payload = rest;
    };
    if message["method"] == json!("process/output") {
        fill(&mut message["params"]);
    } else {
        assert!(message.get("id").is_some(), "{message}");
        for chunk in message["result"]["chunks"]
            .as_array_mut()
            .expect("a read reply's chunks")
        {
            fill(chunk);
        }
    }
    assert!(payload.is_empty(), "the chunk lengths cover the payload");
    message
}

/// Reads a process's output (every stream, in order) with `read` until it is closed;
/// returns the bytes and its exit code. Fails the test if that takes longer than
/// [`READ_TO_CLOSE_TIMEOUT`].
pub async fn read_until_closed(
    exec: &impl codex_exec_server::ExecProcess,
    process_id: &str,
) -> (Vec<u8>, Option<i32>) {
    tokio::time::timeout(READ_TO_CLOSE_TIMEOUT, read_to_close(exec, process_id))
        .await
        .unwrap_or_else(|_| panic!("`{process_id}` closed within {READ_TO_CLOSE_TIMEOUT:?}"))
}

/// Upper bound for [`read_until_closed`] (generous: a thousand processes on two cores).
pub const READ_TO_CLOSE_TIMEOUT: Duration = Duration::from_secs(120);

async fn read_to_close(
    exec: &impl codex_exec_server::ExecProcess,
    process_id: &str,
) -> (Vec<u8>, Option<i32>) {
    let mut after = 0;
    let mut output = Vec::new();
    loop {
        let read = exec
            .read(codex_exec_server::protocol::ReadParams {
                process_id: process_id.to_string(),
                after_seq: Some(after),
                max_bytes: None,
                wait_ms: Some(10_000),
                resume_notifications: false,
            })
            .await
            .unwrap();
        for chunk in &read.chunks {
            output.extend_from_slice(chunk.chunk.as_bytes());
        }
        after = read.next_seq - 1;
        if read.closed {
            return (output, read.exit_code);
        }
    }
}

/// What a process printed, read with [`RawClient::read_printed`].
#[derive(Debug, Default)]
pub struct Printed {
    /// Every chunk, in `seq` order.
    pub all: Vec<u8>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The last `process/read` reply (after the process closed: with its `exitCode`).
    pub last: Value,
}

impl Printed {
    /// `bytes` as text (lossily).
    pub fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    /// The exit code of a closed process.
    pub fn exit_code(&self) -> i64 {
        self.last["exitCode"].as_i64().expect("exitCode")
    }
}

/// The pinned shell `name` (`bash` or `zsh`): the DotSlash file beside this one, resolved
/// to its binary (see `pinned_shells.rs`); tests never run the host's shell.
pub fn pinned_shell(name: &str) -> String {
    let fixture = codex_utils_cargo_bin::find_resource!(format!("tests/suite/{name}"))
        .unwrap_or_else(|err| panic!("{err}"));
    let shell =
        codex_utils_dotslash::dotslash_fetch(&fixture).unwrap_or_else(|err| panic!("{err}"));
    shell.to_string_lossy().into_owned()
}

/// Bytes of the flood processes of the pacing tests.
pub const FLOOD_BYTES: usize = 64 << 20;

/// `head -c FLOOD_BYTES /dev/zero`, writing its pid first and `finished` after.
pub fn flood(process_id: &str, dir: &std::path::Path) -> Value {
    start_params(
        process_id,
        &format!("echo $$ > {process_id}.pid; head -c {FLOOD_BYTES} /dev/zero; touch finished"),
        dir,
    )
}

/// The pid a [`flood`] wrote.
pub async fn pid_of(dir: &std::path::Path, process_id: &str) -> i32 {
    let pid_file = dir.join(format!("{process_id}.pid"));
    wait_until("pid file", EVENT_TIMEOUT, || {
        std::fs::read_to_string(&pid_file).is_ok_and(|text| text.ends_with('\n'))
    })
    .await;
    std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// The next item of a process's event stream, which must come within [`EVENT_TIMEOUT`],
/// with the stream open and no error.
pub async fn next_event(
    events: &mut codex_exec_server::ProcessStream,
) -> codex_exec_server::protocol::ProcessEvent {
    tokio::time::timeout(EVENT_TIMEOUT, events.recv())
        .await
        .expect("event in time")
        .expect("event stream open")
        .expect("no stream error")
}

/// A copy of the server that another user can run, with codex-sandbox-launcher next to
/// it (where the server looks for it).
pub fn installed_server() -> codex_utils_test_support::InstalledCopy {
    let bin = codex_utils_cargo_bin::cargo_bin("codex-exec-server").expect("binary");
    let launcher = codex_utils_cargo_bin::cargo_bin("codex-sandbox-launcher").expect("binary");
    codex_utils_test_support::installed_copy_with(&bin, &[&launcher])
}
