//! One error type for every `ExecProcess` backend, so callers handle local, remote and
//! disabled environments the same way, and the server maps each variant to exactly one
//! JSON-RPC error (code + `data.kind`) in one place.

use crate::protocol::RpcError;
use crate::protocol::error_code;

/// Errors from starting and driving processes, locally or through a server.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ExecError {
    /// The params were invalid (empty argv, relative cwd, ...).
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// No process with this id (never started, or forgotten after its grace period).
    #[error("unknown process `{0}`")]
    UnknownProcess(String),
    /// The id is already used in this session.
    #[error("a process with id `{0}` already exists in this session")]
    DuplicateProcess(String),
    /// The process is still starting (its start was accepted, the spawn has not happened
    /// yet), so it cannot be signalled or terminated yet. Retry shortly.
    #[error("process `{0}` is still starting; retry shortly")]
    ProcessStarting(String),
    /// `process/resize` of a process that has no pseudo-terminal (it was started without
    /// `tty: true`); nothing was changed.
    #[error("process `{0}` has no terminal to resize (it was started without `tty: true`)")]
    NotATerminal(String),
    /// The program could not be started.
    #[error("failed to start `{program}`: {message}")]
    SpawnFailed {
        /// The program (`argv[0]`).
        program: String,
        /// The OS error.
        message: String,
    },
    /// The `sandboxPolicy` cannot be enforced as written (a writable root that does not
    /// exist, a cwd outside the readable roots, ...); nothing was run. Fix the request.
    #[error("sandbox refused to run the command: {0}")]
    SandboxDenied(String),
    /// The sandbox the `sandboxPolicy` needs is not available here (no backend on this
    /// platform, bubblewrap or the sandbox helper missing); nothing was run, never
    /// unsandboxed. Fix the host or the server's configuration.
    #[error("sandbox unavailable: {0}")]
    SandboxUnavailable(String),
    /// `process/start` asked for shell escalation, which this server cannot provide (no
    /// patched shell of that name, no `codex-execve-wrapper`, not on Linux); nothing was
    /// run, never unescalated. Fix the server's configuration.
    #[error("shell escalation unavailable: {0}")]
    EscalationUnavailable(String),
    /// The session's TTL passed while it was detached.
    #[error("session `{0}` expired; start a new session")]
    SessionExpired(String),
    /// No such session.
    #[error("unknown session `{0}`")]
    UnknownSession(String),
    /// Another connection resumed this session.
    #[error("session was taken over by another connection")]
    SessionTakenOver,
    /// The environment has exec disabled (`CODEX_EXEC_SERVER_URL=none`).
    #[error("process execution is disabled in this environment")]
    Disabled,
    /// The environment value could not be understood.
    #[error("invalid CODEX_EXEC_SERVER_URL `{0}`: expected empty, `none`, ws://… or wss://…")]
    InvalidEnvironment(String),
    /// Transport failure talking to a server.
    #[error("exec-server connection failed: {0}")]
    Transport(String),
    /// The client's session is gone for good (see [`SessionLoss`] for why): this call and
    /// every later one of this client fail the same way, and every process stream ends.
    /// Start a new session (`ExecServerClient::new_session`) to go on.
    #[error("exec-server session `{session_id}` lost: {cause}")]
    SessionLost {
        /// The session that was lost.
        session_id: String,
        /// Why.
        cause: SessionLoss,
    },
    /// The connection is down and the client is still trying to reconnect; the request
    /// was not sent. Retry, or wait for the client's state to become connected again.
    #[error("exec-server unreachable ({attempts} reconnect attempts so far): {last_error}")]
    Disconnected {
        /// Failed reconnect attempts since the connection was lost.
        attempts: u32,
        /// The most recent attempt's failure.
        last_error: String,
    },
    /// No reply within the request deadline; the request's slot is freed (the server may
    /// still carry it out).
    #[error("no reply to `{method}` within {timeout:?}")]
    Timeout {
        /// The request's method.
        method: String,
        /// The deadline that passed.
        timeout: std::time::Duration,
    },
    /// A message from the server was larger than the client accepts
    /// (`ClientConfig::max_message_bytes`); the request is not retried.
    #[error("the reply to `{method}` is larger than the client's limit of {limit} bytes")]
    ReplyTooLarge {
        /// The request's method.
        method: String,
        /// The client's limit.
        limit: usize,
    },
    /// The connection was lost while a request that cannot be repeated safely
    /// (`process/start`, a changing `fs/*` call) was in flight: whether it happened is
    /// unknown.
    #[error("connection lost during `{method}`; its outcome is unknown")]
    OutcomeUnknown {
        /// The request's method.
        method: String,
    },
    /// The process's stdin is closed (or it never had one); nothing was written.
    #[error("stdin of process `{0}` is closed")]
    StdinClosed(String),
    /// The server answered with an error this client has no variant for.
    #[error("exec-server error {}: {}", .0.code, .0.message)]
    Rpc(RpcError),
    /// An unexpected local failure.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ExecError {
    /// The JSON-RPC error this maps to on the wire: the code, the message a person reads,
    /// and the details as `data` (`kind`, and `processId`, `program`, `reason` or
    /// `sessionId`), which is all a client reads to rebuild the error.
    pub fn to_rpc_error(&self) -> RpcError {
        let (code, kind, fields): (i64, Option<&str>, Vec<(&str, &str)>) = match self {
            ExecError::InvalidParams(reason) => {
                (error_code::INVALID_PARAMS, None, vec![("reason", reason)])
            }
            ExecError::UnknownProcess(id) => (
                error_code::UNKNOWN_PROCESS,
                Some("unknownProcess"),
                vec![("processId", id)],
            ),
            ExecError::DuplicateProcess(id) => (
                error_code::DUPLICATE_PROCESS,
                Some("duplicateProcess"),
                vec![("processId", id)],
            ),
            ExecError::ProcessStarting(id) => (
                error_code::PROCESS_STARTING,
                Some("processStarting"),
                vec![("processId", id)],
            ),
            ExecError::NotATerminal(id) => (
                error_code::NOT_A_TERMINAL,
                Some("notATerminal"),
                vec![("processId", id)],
            ),
            ExecError::SpawnFailed { program, message } => (
                error_code::SPAWN_FAILED,
                Some("spawnFailed"),
                vec![("program", program), ("reason", message)],
            ),
            ExecError::SandboxDenied(reason) => (
                error_code::SANDBOX_DENIED,
                Some("sandboxDenied"),
                vec![("reason", reason)],
            ),
            ExecError::SandboxUnavailable(reason) => (
                error_code::SANDBOX_UNAVAILABLE,
                Some("sandboxUnavailable"),
                vec![("reason", reason)],
            ),
            ExecError::EscalationUnavailable(reason) => (
                error_code::ESCALATION_UNAVAILABLE,
                Some("escalationUnavailable"),
                vec![("reason", reason)],
            ),
            ExecError::SessionExpired(id) => (
                error_code::SESSION_EXPIRED,
                Some("sessionExpired"),
                vec![("sessionId", id)],
            ),
            ExecError::UnknownSession(id) => (
                error_code::UNKNOWN_SESSION,
                Some("unknownSession"),
                vec![("sessionId", id)],
            ),
            ExecError::SessionTakenOver => (
                error_code::SESSION_TAKEN_OVER,
                Some("sessionTakenOver"),
                Vec::new(),
            ),
            ExecError::Rpc(err) => return err.clone(),
            ExecError::Disabled
            | ExecError::InvalidEnvironment(_)
            | ExecError::Transport(_)
            | ExecError::SessionLost { .. }
            | ExecError::Disconnected { .. }
            | ExecError::Timeout { .. }
            | ExecError::ReplyTooLarge { .. }
            | ExecError::OutcomeUnknown { .. }
            | ExecError::StdinClosed(_)
            | ExecError::Internal(_) => (error_code::INTERNAL_ERROR, None, Vec::new()),
        };
        RpcError::with_fields(code, self.to_string(), kind, &fields)
    }

    /// The wire `data.kind` of this error (`unknownProcess`, `spawnFailed`, ...), the same
    /// whether it happened locally or was reported by a server.
    pub fn kind(&self) -> Option<String> {
        self.to_rpc_error().kind().map(str::to_string)
    }

    /// Map an error received from a server back to its typed error, from `data` alone (the
    /// message is for people): local and remote backends report the same variants. A field
    /// a server left out falls back to `process_id` (the request's) or to the message.
    pub(crate) fn from_rpc_error(err: RpcError, process_id: Option<&str>) -> Self {
        let field = |name: &str| err.field(name).map(str::to_string);
        let process =
            || field("processId").unwrap_or_else(|| process_id.unwrap_or_default().to_string());
        let reason = || field("reason").unwrap_or_else(|| err.message.clone());
        let session = || field("sessionId").unwrap_or_default();
        match err.kind() {
            Some("unknownProcess") => ExecError::UnknownProcess(process()),
            Some("duplicateProcess") => ExecError::DuplicateProcess(process()),
            Some("processStarting") => ExecError::ProcessStarting(process()),
            Some("notATerminal") => ExecError::NotATerminal(process()),
            Some("sandboxDenied") => ExecError::SandboxDenied(reason()),
            // `sandboxUnsupported`: servers from before sandboxed processes.
            Some("sandboxUnavailable" | "sandboxUnsupported") => {
                ExecError::SandboxUnavailable(reason())
            }
            Some("escalationUnavailable") => ExecError::EscalationUnavailable(reason()),
            Some("spawnFailed") => ExecError::SpawnFailed {
                program: field("program").unwrap_or_default(),
                message: reason(),
            },
            Some("sessionExpired") => ExecError::SessionExpired(session()),
            Some("unknownSession") => ExecError::UnknownSession(session()),
            Some("sessionTakenOver") => ExecError::SessionTakenOver,
            _ if err.code == error_code::INVALID_PARAMS => ExecError::InvalidParams(reason()),
            _ => ExecError::Rpc(err),
        }
    }
}

/// Why a client lost its session for good ([`ExecError::SessionLost`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionLoss {
    /// The session's TTL passed while the client was disconnected.
    #[error("the session expired while the client was disconnected")]
    Expired,
    /// The server answered that it does not know the session: it restarted (or is another
    /// server at the same address). Processes of the old session are gone.
    #[error("the server does not know the session (it restarted)")]
    ServerRestarted,
    /// Another connection resumed the session.
    #[error("another connection took the session over")]
    TakenOver,
    /// No connection could be made within the reconnect budget.
    #[error("no connection after {attempts} attempts over {elapsed:?}: {last_error}")]
    Unreachable {
        /// Reconnect attempts made.
        attempts: u32,
        /// Time spent trying.
        elapsed: std::time::Duration,
        /// The last attempt's failure.
        last_error: String,
    },
    /// The server kept breaking the connection in a way retrying does not fix (for
    /// example closing it mid-message every time a request is re-sent).
    #[error("the server keeps failing the connection: {0}")]
    RetryBudgetExhausted(String),
    /// The client was closed by its owner (`ExecServerClient::close`).
    #[error("the client was closed")]
    Closed,
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
