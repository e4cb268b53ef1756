//! JSON-RPC on the wire: the `jsonrpc` version, the method names ([`method`]), the error
//! codes ([`error_code`]) and the error object ([`RpcError`]).

use serde::Deserialize;
use serde::Serialize;

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
    /// Set the window size of a process's pseudo-terminal.
    pub const PROCESS_RESIZE: &str = "process/resize";
    /// Turn a process's `process/output` notifications off or on (per-process flow
    /// control: while off, its output is delivered by `process/read` only).
    pub const PROCESS_OUTPUT_NOTIFICATIONS: &str = "process/outputNotifications";
    /// Acknowledge a process's notified output (a connection initialized with
    /// `acknowledgeOutput`: only acknowledged output counts as delivered).
    pub const PROCESS_ACK: &str = "process/ack";
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
    /// Server → client request: may a command of an escalated shell run outside the
    /// sandbox?
    pub const APPROVAL_REQUEST: &str = "approval/request";
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
    /// `process/resize` of a process that has no pseudo-terminal (started without
    /// `tty: true`).
    pub const NOT_A_TERMINAL: i64 = -32017;
    /// `process/start` with `escalation` on a server that cannot provide it (no patched
    /// shell of that name, no `codex-execve-wrapper`, not Linux).
    pub const ESCALATION_UNAVAILABLE: i64 = -32018;
}

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

    /// An error with `code`, `message` and `data: {kind?, field: value, ...}`: the error's
    /// details as data, so a client rebuilds its typed error without reading the message.
    pub fn with_fields(
        code: i64,
        message: String,
        kind: Option<&str>,
        fields: &[(&str, &str)],
    ) -> Self {
        let mut data = serde_json::Map::new();
        if let Some(kind) = kind {
            data.insert("kind".to_string(), serde_json::Value::from(kind));
        }
        for (name, value) in fields {
            data.insert((*name).to_string(), serde_json::Value::from(*value));
        }
        Self {
            code,
            message,
            data: (!data.is_empty()).then_some(serde_json::Value::Object(data)),
        }
    }

    /// The `data.kind` of an application error, if any.
    pub fn kind(&self) -> Option<&str> {
        self.field("kind")
    }

    /// A string field of `data` (`processId`, `program`, `reason`, `sessionId`, ...).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.data.as_ref()?.get(name)?.as_str()
    }
}
