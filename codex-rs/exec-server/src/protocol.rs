//! Wire types of the exec-server protocol (see `docs/exec-server-protocol.md`).
//!
//! These structs are the contract: field names are camelCase on the wire, byte payloads are
//! base64, and every params struct refuses unknown fields so that a restriction the caller
//! relies on is never silently ignored (fail closed). Both the server and the client use
//! these same types, so they cannot drift apart.

use std::collections::BTreeMap;
use std::path::PathBuf;

use codex_file_system::DirectoryEntry;
use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::Deserialize;
use serde::Deserializer;
use serde::Serialize;
use serde::Serializer;

/// The `jsonrpc` member written on every outgoing message.
pub const JSONRPC_VERSION: &str = "2.0";

/// Method names, in one place so server and client agree.
pub mod method {
    /// Handshake request.
    pub const INITIALIZE: &str = "initialize";
    /// Handshake notification sent by the client after `initialize` succeeded.
    pub const INITIALIZED: &str = "initialized";
    /// Start a process.
    pub const PROCESS_START: &str = "process/start";
    /// Read retained output and lifecycle state.
    pub const PROCESS_READ: &str = "process/read";
    /// Write to a process's stdin.
    pub const PROCESS_WRITE: &str = "process/write";
    /// Send a signal to a process group.
    pub const PROCESS_SIGNAL: &str = "process/signal";
    /// Kill a process group.
    pub const PROCESS_TERMINATE: &str = "process/terminate";
    /// Notification: output chunk.
    pub const PROCESS_OUTPUT: &str = "process/output";
    /// Notification: the process exited. Usually after all its output; output of a
    /// background child that still holds the pipes may follow it.
    pub const PROCESS_EXITED: &str = "process/exited";
    /// Notification: all output drained after exit; last event of a process.
    pub const PROCESS_CLOSED: &str = "process/closed";
    /// Read a whole file.
    pub const FS_READ_FILE: &str = "fs/readFile";
    /// Create or replace a file.
    pub const FS_WRITE_FILE: &str = "fs/writeFile";
    /// Create a directory.
    pub const FS_CREATE_DIRECTORY: &str = "fs/createDirectory";
    /// Metadata of a path.
    pub const FS_GET_METADATA: &str = "fs/getMetadata";
    /// List a directory.
    pub const FS_READ_DIRECTORY: &str = "fs/readDirectory";
    /// Remove a file or directory.
    pub const FS_REMOVE: &str = "fs/remove";
    /// Copy a file or directory tree.
    pub const FS_COPY: &str = "fs/copy";
    /// Check that a path could be written, without writing (see
    /// `codex_file_system::ExecutorFileSystem::check_write`).
    pub const FS_CHECK_WRITE: &str = "fs/checkWrite";
}

/// Standard JSON-RPC error codes and the application codes of this server.
pub mod error_code {
    /// The frame was not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// The JSON was not a valid request (or arrived before `initialize`).
    pub const INVALID_REQUEST: i64 = -32600;
    /// Unknown method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Params did not match the method (including unknown fields).
    pub const INVALID_PARAMS: i64 = -32602;
    /// Unexpected server-side failure.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// No process with that id in the session.
    pub const UNKNOWN_PROCESS: i64 = -32001;
    /// A process with that id already exists in the session.
    pub const DUPLICATE_PROCESS: i64 = -32002;
    /// The program could not be started.
    pub const SPAWN_FAILED: i64 = -32003;
    /// The session's TTL passed before it was resumed.
    pub const SESSION_EXPIRED: i64 = -32004;
    /// No session with that id.
    pub const UNKNOWN_SESSION: i64 = -32005;
    /// Another connection resumed this session.
    pub const SESSION_TAKEN_OVER: i64 = -32006;
    /// The sandbox a `process/start` policy asks for cannot be provided here (no backend
    /// on this platform, bubblewrap or the sandbox helper missing, `arg0` with a sandbox).
    pub const SANDBOX_UNAVAILABLE: i64 = -32007;
    /// The sandbox policy of an `fs/*` request does not allow the access, or a
    /// `process/start` policy cannot be enforced as written (nothing was run).
    pub const SANDBOX_DENIED: i64 = -32008;
    /// The path (or a parent of it) does not exist.
    pub const NOT_FOUND: i64 = -32009;
    /// The path already exists.
    pub const ALREADY_EXISTS: i64 = -32010;
    /// A directory was expected and something else was found.
    pub const NOT_A_DIRECTORY: i64 = -32011;
    /// A file was expected and a directory was found.
    pub const IS_A_DIRECTORY: i64 = -32012;
    /// A directory to remove without `recursive` is not empty.
    pub const DIRECTORY_NOT_EMPTY: i64 = -32013;
    /// The file is larger than one `fs/readFile` / `fs/writeFile` may carry.
    pub const TOO_LARGE: i64 = -32014;
    /// Any other I/O failure (permissions, disk full, ...).
    pub const IO_ERROR: i64 = -32015;
    /// The process is still starting (its `process/start` has not spawned it yet), so it
    /// cannot be signalled or terminated yet; retry.
    pub const PROCESS_STARTING: i64 = -32016;
}

/// Bytes that travel as standard padded base64 on the wire and are never UTF-8 decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ByteChunk(pub Bytes);

impl ByteChunk {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for ByteChunk {
    fn from(value: Vec<u8>) -> Self {
        Self(Bytes::from(value))
    }
}

impl From<&[u8]> for ByteChunk {
    fn from(value: &[u8]) -> Self {
        Self(Bytes::copy_from_slice(value))
    }
}

impl Serialize for ByteChunk {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for ByteChunk {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Decodes straight from the (usually borrowed) JSON string: no intermediate copy.
        struct Base64Visitor;

        impl serde::de::Visitor<'_> for Base64Visitor {
            type Value = ByteChunk;

            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a base64 string")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ByteChunk, E> {
                BASE64
                    .decode(text.as_bytes())
                    .map(|bytes| ByteChunk(Bytes::from(bytes)))
                    .map_err(|err| E::custom(format!("invalid base64: {err}")))
            }
        }

        deserializer.deserialize_str(Base64Visitor)
    }
}

/// `initialize` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InitializeParams {
    /// Free-form name of the client, for logs.
    pub client_name: String,
    /// Resume (and take over) this session instead of creating a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_session_id: Option<String>,
    /// Send `process/output` notifications on this connection (default). A client that
    /// reads output with `process/read` only sets `false`: then output counts as delivered
    /// only when a read passes it, so paced processes wait for its reads (with
    /// notifications, output the client threw away would count as delivered, and a slow
    /// read loop could fall more than the retention window behind). Lifecycle
    /// notifications (`process/exited`, `process/closed`) are sent either way.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub output_notifications: bool,
}

fn default_true() -> bool {
    true
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_true(value: &bool) -> bool {
    *value
}

/// What a server (or an [`crate::Environment`]) can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Capabilities {
    /// Processes can be started.
    pub exec: bool,
    /// `fs/*` methods are available.
    pub filesystem: bool,
}

/// `initialize` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InitializeResponse {
    /// The (new or resumed) session id, a random UUID.
    pub session_id: String,
    /// What this server offers.
    pub capabilities: Capabilities,
}

#[path = "protocol_limits.rs"]
mod limits;
pub use limits::ProcessLimits;

/// `process/start` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartParams {
    /// Client-chosen id, unique within the session.
    pub process_id: String,
    /// Program and arguments; the program is looked up in `env`'s `PATH` when it has no `/`.
    pub argv: Vec<String>,
    /// Absolute working directory.
    pub cwd: PathBuf,
    /// The complete environment; nothing is inherited.
    pub env: BTreeMap<String, String>,
    /// Run under a pseudo-terminal.
    pub tty: bool,
    /// Give the process a stdin pipe (without a tty); otherwise stdin is `/dev/null`.
    #[serde(default)]
    pub pipe_stdin: bool,
    /// Override `argv[0]` as seen by the program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arg0: Option<String>,
    /// Run the command confined by this policy (see the crate README, "Sandboxed
    /// processes"). A policy this server cannot enforce here is refused, never ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<SandboxPolicy>,
    /// Resource limits for the command and everything it starts (see the crate README,
    /// "Resource limits"). Sandboxed starts get defaults for what is left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ProcessLimits>,
    /// What happens to output the client does not take in time (see [`OutputMode`]).
    #[serde(default, skip_serializing_if = "OutputMode::is_pace")]
    pub output_mode: OutputMode,
}

/// `process/start`'s `outputMode`: what the server does when a process writes output
/// faster than the client takes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OutputMode {
    /// Lossless (the default): once the output not yet delivered to the client reaches
    /// half the retention window, the server stops reading the process's output, so the
    /// process blocks on its next write (as with a full pipe) until the client catches up,
    /// with notifications or `process/read`. Nothing is dropped while the session exists.
    #[default]
    Pace,
    /// Never block the process: output beyond the retention window drops the oldest
    /// retained output, and a client that falls behind sees a `gap`.
    Drop,
}

impl OutputMode {
    /// Whether this is [`OutputMode::Pace`] (the default, left out on the wire).
    pub fn is_pace(&self) -> bool {
        matches!(self, OutputMode::Pace)
    }
}

/// `process/start` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartResponse {
    /// The id the process was started under.
    pub process_id: String,
}

/// `process/read` params.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadParams {
    /// The process.
    pub process_id: String,
    /// Return events with `seq` greater than this (0 or absent: from the start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_seq: Option<u64>,
    /// Upper bound on chunk bytes in the reply (at least one chunk is always returned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<usize>,
    /// Long-poll: wait up to this many milliseconds for something new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
}

/// Which stream a chunk came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OutputStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
    /// The pseudo-terminal (tty processes have only this stream).
    Pty,
}

/// One retained output chunk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutputChunk {
    /// Event sequence number.
    pub seq: u64,
    /// Source stream.
    pub stream: OutputStream,
    /// The bytes.
    pub chunk: ByteChunk,
}

/// Output that was dropped from the retention buffer before it was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gap {
    /// First dropped `seq`.
    pub from_seq: u64,
    /// Last dropped `seq` (inclusive).
    pub to_seq: u64,
    /// Bytes lost in that range.
    pub dropped_bytes: u64,
}

/// `process/read` result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadResponse {
    /// Retained chunks with `seq > afterSeq`, in order.
    pub chunks: Vec<OutputChunk>,
    /// One past the last event covered by this reply; read on with `afterSeq = nextSeq - 1`.
    pub next_seq: u64,
    /// The process has exited and this reply reaches (or is past) its `exited` event; a
    /// reply cut short by `maxBytes` before it says `false`.
    pub exited: bool,
    /// Exit code (128 + signal when killed by a signal).
    pub exit_code: Option<i32>,
    /// All output was drained after exit and this reply reaches the last event; nothing
    /// more will come. (A reply from before `exited`, when output follows `exited`, ends at
    /// `exited` with `closed: false`; read on from `nextSeq`.)
    pub closed: bool,
    /// A failure of the server while running the process (I/O error), if any.
    pub failure: Option<String>,
    /// Output after `afterSeq` that is no longer retained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<Gap>,
}

/// `process/write` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteParams {
    /// The process.
    pub process_id: String,
    /// Bytes for stdin.
    pub chunk: ByteChunk,
    /// Idempotency key: a repeated id is answered `accepted` and not written twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_id: Option<String>,
}

/// Outcome of a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WriteStatus {
    /// Written (or already written under the same `writeId`).
    Accepted,
    /// No such process.
    UnknownProcess,
    /// The process has no stdin, or it was closed.
    StdinClosed,
    /// The process is still being started; retry.
    Starting,
}

/// `process/write` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteResponse {
    /// What happened.
    pub status: WriteStatus,
}

/// Signals a client may send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProcessSignal {
    /// SIGINT.
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGHUP.
    Hangup,
    /// SIGKILL.
    Kill,
}

/// `process/signal` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignalParams {
    /// The process.
    pub process_id: String,
    /// Which signal to send to its process group.
    pub signal: ProcessSignal,
}

/// `process/signal` result (empty object).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalResponse {}

/// `process/terminate` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TerminateParams {
    /// The process.
    pub process_id: String,
}

/// `process/terminate` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TerminateResponse {
    /// Whether the process was still running (not yet reaped) when the kill was sent.
    pub running: bool,
}

/// `process/output` notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutputNotification {
    /// The process.
    pub process_id: String,
    /// Event sequence number.
    pub seq: u64,
    /// Source stream.
    pub stream: OutputStream,
    /// The bytes.
    pub chunk: ByteChunk,
}

/// `process/exited` notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExitedNotification {
    /// The process.
    pub process_id: String,
    /// Event sequence number.
    pub seq: u64,
    /// Exit code, or 128 + signal.
    pub exit_code: i32,
}

/// `process/closed` notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClosedNotification {
    /// The process.
    pub process_id: String,
    /// Event sequence number (the last one of this process).
    pub seq: u64,
}

/// A process event as seen by callers of [`crate::ExecProcess::events`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProcessEvent {
    /// `process/output`.
    Output(OutputNotification),
    /// `process/exited`.
    Exited(ExitedNotification),
    /// `process/closed`.
    Closed(ClosedNotification),
    /// Output was lost before it could be delivered (only the client reports this; it comes
    /// from a `process/read` reply's `gap`).
    Gap {
        /// The process.
        process_id: String,
        /// What was lost.
        gap: Gap,
    },
}

impl ProcessEvent {
    /// The process this event belongs to.
    pub fn process_id(&self) -> &str {
        match self {
            ProcessEvent::Output(n) => &n.process_id,
            ProcessEvent::Exited(n) => &n.process_id,
            ProcessEvent::Closed(n) => &n.process_id,
            ProcessEvent::Gap { process_id, .. } => process_id,
        }
    }

    /// The JSON-RPC notification text for this event, or `None` for client-side-only events.
    ///
    /// Output is the hot path (a 64 KiB chunk per notification when streaming), so it is
    /// written directly: base64 is encoded once into the frame and never escape-scanned
    /// (the base64 alphabet needs no JSON escaping).
    pub(crate) fn to_notification_text(&self) -> Option<String> {
        #[derive(Serialize)]
        struct Notification<'a, P> {
            jsonrpc: &'static str,
            method: &'static str,
            params: &'a P,
        }
        fn text<P: Serialize>(method: &'static str, params: &P) -> Option<String> {
            serde_json::to_string(&Notification {
                jsonrpc: JSONRPC_VERSION,
                method,
                params,
            })
            .ok()
        }
        match self {
            ProcessEvent::Output(n) => {
                let process_id = serde_json::to_string(&n.process_id).ok()?;
                let stream = match n.stream {
                    OutputStream::Stdout => "stdout",
                    OutputStream::Stderr => "stderr",
                    OutputStream::Pty => "pty",
                };
                let mut out = String::with_capacity(n.chunk.0.len() * 4 / 3 + 160);
                out.push_str(
                    r#"{"jsonrpc":"2.0","method":"process/output","params":{"processId":"#,
                );
                out.push_str(&process_id);
                out.push_str(&format!(
                    r#","seq":{},"stream":"{stream}","chunk":""#,
                    n.seq
                ));
                BASE64.encode_string(&n.chunk.0, &mut out);
                out.push_str("\"}}");
                Some(out)
            }
            ProcessEvent::Exited(n) => text(method::PROCESS_EXITED, n),
            ProcessEvent::Closed(n) => text(method::PROCESS_CLOSED, n),
            ProcessEvent::Gap { .. } => None,
        }
    }

    /// Parse a notification received from a server (`params` is raw JSON text).
    pub(crate) fn from_notification(method_name: &str, params: &str) -> Option<ProcessEvent> {
        match method_name {
            method::PROCESS_OUTPUT => serde_json::from_str(params).ok().map(Self::Output),
            method::PROCESS_EXITED => serde_json::from_str(params).ok().map(Self::Exited),
            method::PROCESS_CLOSED => serde_json::from_str(params).ok().map(Self::Closed),
            _ => None,
        }
    }
}

/// `fs/readFile` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadFileParams {
    /// Absolute path of the file.
    pub path: AbsolutePathBuf,
    /// Check the access against this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<SandboxPolicy>,
}

/// `fs/readFile` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadFileResponse {
    /// The whole file.
    pub data_base64: ByteChunk,
}

/// `fs/writeFile` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteFileParams {
    /// Absolute path of the file; its parent must exist.
    pub path: AbsolutePathBuf,
    /// The new contents (the file is created or truncated).
    pub data_base64: ByteChunk,
    /// Check the access against this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<SandboxPolicy>,
}

/// `fs/createDirectory` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateDirectoryParams {
    /// Absolute path of the directory.
    pub path: AbsolutePathBuf,
    /// Also create missing parents, and succeed when the directory exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive: Option<bool>,
    /// Check the access against this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<SandboxPolicy>,
}

/// `fs/checkWrite` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckWriteParams {
    /// Absolute path that would be written, replaced or removed.
    pub path: AbsolutePathBuf,
    /// Check the access against this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<SandboxPolicy>,
}

/// `fs/getMetadata` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetMetadataParams {
    /// Absolute path.
    pub path: AbsolutePathBuf,
    /// Check the access against this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<SandboxPolicy>,
}

/// `fs/readDirectory` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadDirectoryParams {
    /// Absolute path of the directory.
    pub path: AbsolutePathBuf,
    /// Check the access against this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<SandboxPolicy>,
}

/// `fs/readDirectory` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadDirectoryResponse {
    /// The entries, sorted by name, without `.` and `..`.
    pub entries: Vec<DirectoryEntry>,
}

/// `fs/remove` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoveParams {
    /// Absolute path (a final symlink is removed, not its target).
    pub path: AbsolutePathBuf,
    /// Remove a directory with everything in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive: Option<bool>,
    /// A missing path is not an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// Check the access against this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<SandboxPolicy>,
}

/// `fs/copy` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CopyParams {
    /// Absolute path of the file or directory to copy.
    pub source_path: AbsolutePathBuf,
    /// Absolute path of the copy.
    pub destination_path: AbsolutePathBuf,
    /// Copy a directory tree (the destination must not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive: Option<bool>,
    /// Check the access against this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox_policy: Option<SandboxPolicy>,
}

/// The empty result of `fs/writeFile`, `fs/createDirectory`, `fs/remove` and `fs/copy`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyResponse {}

/// A JSON-RPC error object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpcError {
    /// Error code.
    pub code: i64,
    /// Message a person can act on.
    pub message: String,
    /// `{kind}` for application errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

impl RpcError {
    /// An error with `code`, `message` and, for application errors, `data: {kind}`.
    pub fn with_kind(code: i64, message: String, kind: Option<&str>) -> Self {
        Self {
            code,
            message,
            data: kind.map(|kind| serde_json::json!({ "kind": kind })),
        }
    }

    /// The `data.kind` of an application error, if any.
    pub fn kind(&self) -> Option<&str> {
        self.data.as_ref()?.get("kind")?.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use codex_file_system::FileMetadata;
    use pretty_assertions::assert_eq;

    #[test]
    fn start_params_refuse_unknown_fields() {
        let err = serde_json::from_value::<StartParams>(serde_json::json!({
            "processId": "p", "argv": ["true"], "cwd": "/", "env": {}, "tty": false,
            "readOnly": true,
        }))
        .unwrap_err();
        assert!(
            err.to_string().contains("unknown field `readOnly`"),
            "{err}"
        );
    }

    #[test]
    fn output_notification_text_round_trips() {
        let event = ProcessEvent::Output(OutputNotification {
            process_id: "p\"1".to_string(),
            seq: 7,
            stream: OutputStream::Stderr,
            chunk: ByteChunk::from(vec![0u8, 1, 2, 255]),
        });
        let text = event.to_notification_text().unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "jsonrpc": "2.0",
                "method": "process/output",
                "params": {"processId": "p\"1", "seq": 7, "stream": "stderr", "chunk": "AAEC/w=="},
            })
        );
        let params = serde_json::to_string(&value["params"]).unwrap();
        assert_eq!(
            ProcessEvent::from_notification("process/output", &params),
            Some(event)
        );
    }

    /// Each fs document parses into the typed value and serialises back to the same JSON.
    fn round_trip<T>(document: serde_json::Value, value: T)
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let parsed: T = serde_json::from_value(document.clone()).unwrap();
        assert_eq!(parsed, value);
        assert_eq!(serde_json::to_value(&value).unwrap(), document);
    }

    fn abs(path: &str) -> AbsolutePathBuf {
        AbsolutePathBuf::try_from_absolute(path).unwrap()
    }

    #[test]
    fn fs_requests_and_responses_round_trip_against_literal_documents() {
        let policy = SandboxPolicy::WorkspaceWrite {
            writable_roots: vec![abs("/work")],
            read_only_access: codex_protocol::ReadOnlyAccess::Restricted {
                include_platform_defaults: true,
                readable_roots: vec![abs("/data")],
            },
            network_access: false,
            exclude_tmpdir_env_var: true,
            exclude_slash_tmp: false,
        };
        let policy_json = serde_json::json!({
            "type": "workspaceWrite", "writableRoots": ["/work"],
            "readOnlyAccess": {"type": "restricted", "includePlatformDefaults": true,
                               "readableRoots": ["/data"]},
            "networkAccess": false, "excludeTmpdirEnvVar": true, "excludeSlashTmp": false,
        });
        round_trip(
            serde_json::json!({"path": "/work/a.txt", "sandboxPolicy": policy_json}),
            ReadFileParams {
                path: abs("/work/a.txt"),
                sandbox_policy: Some(policy),
            },
        );
        round_trip(
            serde_json::json!({"dataBase64": "AP8K"}),
            ReadFileResponse {
                data_base64: ByteChunk::from(vec![0u8, 255, 10]),
            },
        );
        round_trip(
            serde_json::json!({"path": "/w/f", "dataBase64": "aGk=",
                               "sandboxPolicy": {"type": "dangerFullAccess"}}),
            WriteFileParams {
                path: abs("/w/f"),
                data_base64: ByteChunk::from(b"hi".as_slice()),
                sandbox_policy: Some(SandboxPolicy::DangerFullAccess),
            },
        );
        round_trip(
            serde_json::json!({"path": "/w/d", "recursive": true}),
            CreateDirectoryParams {
                path: abs("/w/d"),
                recursive: Some(true),
                sandbox_policy: None,
            },
        );
        round_trip(
            serde_json::json!({"path": "/w"}),
            GetMetadataParams {
                path: abs("/w"),
                sandbox_policy: None,
            },
        );
        round_trip(
            serde_json::json!({"isDirectory": false, "isFile": true, "isSymlink": false,
                               "size": 12, "createdAtMs": 1700000000000i64,
                               "modifiedAtMs": 1700000000001i64}),
            FileMetadata {
                is_directory: false,
                is_file: true,
                is_symlink: false,
                size: 12,
                created_at_ms: 1_700_000_000_000,
                modified_at_ms: 1_700_000_000_001,
            },
        );
        round_trip(
            serde_json::json!({"path": "/w",
                               "sandboxPolicy": {"type": "readOnly", "access": {"type": "fullAccess"}}}),
            ReadDirectoryParams {
                path: abs("/w"),
                sandbox_policy: Some(SandboxPolicy::ReadOnly {
                    access: codex_protocol::ReadOnlyAccess::FullAccess,
                }),
            },
        );
        round_trip(
            serde_json::json!({"entries": [{"fileName": "a", "isDirectory": true, "isFile": false}]}),
            ReadDirectoryResponse {
                entries: vec![DirectoryEntry {
                    file_name: "a".to_string(),
                    is_directory: true,
                    is_file: false,
                }],
            },
        );
        round_trip(
            serde_json::json!({"path": "/w/x", "recursive": true, "force": false}),
            RemoveParams {
                path: abs("/w/x"),
                recursive: Some(true),
                force: Some(false),
                sandbox_policy: None,
            },
        );
        round_trip(
            serde_json::json!({"path": "/w/x", "sandboxPolicy": {"type": "dangerFullAccess"}}),
            CheckWriteParams {
                path: abs("/w/x"),
                sandbox_policy: Some(SandboxPolicy::DangerFullAccess),
            },
        );
        round_trip(
            serde_json::json!({"sourcePath": "/w/a", "destinationPath": "/w/b",
                               "sandboxPolicy": {"type": "externalSandbox", "networkAccess": "enabled"}}),
            CopyParams {
                source_path: abs("/w/a"),
                destination_path: abs("/w/b"),
                recursive: None,
                sandbox_policy: Some(SandboxPolicy::ExternalSandbox {
                    network_access: codex_protocol::NetworkAccess::Enabled,
                }),
            },
        );
        round_trip(serde_json::json!({}), EmptyResponse {});
    }

    #[test]
    fn fs_params_refuse_unknown_fields_relative_paths_and_bad_policies() {
        let errors: Vec<String> = [
            serde_json::json!({"path": "/w", "follow": true}),
            serde_json::json!({"path": "w"}),
            serde_json::json!({"path": "/w", "sandboxPolicy": {"type": "readOnly"}}),
            serde_json::json!({"path": "/w", "sandboxPolicy": {"type": "dangerFullAccess", "x": 1}}),
        ]
        .into_iter()
        .map(|document| {
            serde_json::from_value::<ReadFileParams>(document)
                .unwrap_err()
                .to_string()
        })
        .collect();
        let expected = [
            "unknown field `follow`",
            "path `w` is not absolute",
            "missing field `access`",
            "unknown field `x`",
        ];
        for (error, needle) in errors.iter().zip(expected) {
            assert!(
                error.contains(needle),
                "{error:?} should mention {needle:?}"
            );
        }
    }

    #[test]
    fn byte_chunk_is_base64_and_binary_safe() {
        let chunk = ByteChunk::from(vec![0u8, 255, 10, 0xc3]);
        let json = serde_json::to_value(&chunk).unwrap();
        assert_eq!(json, serde_json::json!("AP8Kww=="));
        let back: ByteChunk = serde_json::from_value(json).unwrap();
        assert_eq!(back, chunk);
    }
}
