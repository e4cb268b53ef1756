//! The wire format between `codex-execve-wrapper` and an [`crate::EscalationServer`].
//!
//! Two sockets are involved:
//!
//! 1. **The escalation socket**, one end of a `socketpair(AF_UNIX, SOCK_SEQPACKET)`
//!    that the sandboxed shell and everything it starts inherit; its descriptor number
//!    is in [`ESCALATE_SOCKET_ENV_VAR`]. It carries only *handshakes*: one packet of the
//!    four bytes [`HANDSHAKE`] with exactly one descriptor attached (`SCM_RIGHTS`), the
//!    server's end of a private channel the wrapper has just made. Packets are atomic,
//!    so any number of wrappers (a pipeline, concurrent commands) share it safely.
//! 2. **The private channel**, a `socketpair(AF_UNIX, SOCK_STREAM)` per request, which
//!    carries one request and one reply as *frames*: a `u32` little-endian length and
//!    that many bytes of UTF-8 JSON.
//!    - Request: the 4-byte length and the JSON of an [`ExecRequest`], with three
//!      descriptors attached (`SCM_RIGHTS`) to the first `sendmsg` (which holds at
//!      least the length): the wrapper's stdin, stdout and stderr, in that order (a
//!      closed one is replaced by `/dev/null`). The JSON:
//!      `{"file": "/usr/bin/ls", "argv": ["ls", "-l"], "cwd": "/work", "env": {"PATH": "/usr/bin"}}`
//!      (unknown fields are refused).
//!    - Reply: the JSON of a [`Reply`], tagged by `decision`:
//!      `{"decision": "run"}`, `{"decision": "deny", "reason": "…"}`,
//!      `{"decision": "escalated", "status": {"code": 0}}` (or `{"signal": 9}`) once the
//!      program the server ran has ended, or
//!      `{"decision": "error", "message": "…", "exitCode": 126}`.
//!      A wrapper ignores reply fields it does not know (a newer server may add some).
//!
//! Limits: a request of more than [`MAX_REQUEST_BYTES`] bytes or more than [`MAX_ARGS`]
//! arguments, a relative `file` or `cwd`, an empty `argv` and malformed JSON are each
//! answered with an `error` reply; a wrapper refuses a reply larger than
//! [`MAX_REPLY_BYTES`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde::Serialize;

/// The wrapper reads the escalation socket's descriptor number from this variable.
pub const ESCALATE_SOCKET_ENV_VAR: &str = "CODEX_ESCALATE_SOCKET";

/// The patched shells run every external command as `$EXEC_WRAPPER <path> <argv...>`.
pub const EXEC_WRAPPER_ENV_VAR: &str = "EXEC_WRAPPER";

/// The wrapper's file name (it is looked for next to the running executable).
pub const EXECVE_WRAPPER_NAME: &str = "codex-execve-wrapper";

/// The one packet a wrapper sends on the escalation socket, with its private channel
/// attached; the digit is the protocol version.
pub const HANDSHAKE: [u8; 4] = *b"CXE1";

/// The largest request (its JSON) a server reads.
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// The most arguments (`argv` entries) a request may have.
pub const MAX_ARGS: usize = 100_000;

/// The largest reply a wrapper reads.
pub const MAX_REPLY_BYTES: usize = 1024 * 1024;

/// How the wrapper exits when it refuses to run a program: the escalation socket is
/// missing or not the server's, the request could not be made, the server refused it,
/// or the policy denied it (the shell's "found but cannot execute").
pub const REFUSED_EXIT_CODE: i32 = 126;

/// One exec the sandboxed shell wants to make: what the policy decides on, and what
/// the server runs outside the sandbox if it escalates.
///
/// `file` and `cwd` are absolute (the server refuses anything else; the wrapper joins
/// a relative `file` to its working directory, as `execve` would resolve it). Every
/// string is UTF-8: the wrapper refuses to ask about an argument, path or environment
/// entry that is not. `env` is the wrapper's whole environment except
/// [`ESCALATE_SOCKET_ENV_VAR`] and [`EXEC_WRAPPER_ENV_VAR`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecRequest {
    /// The program to run (`execve`'s path), absolute.
    pub file: PathBuf,
    /// The arguments, `argv[0]` first; never empty.
    pub argv: Vec<String>,
    /// The working directory of the wrapper, absolute.
    pub cwd: PathBuf,
    /// The environment for the program.
    pub env: BTreeMap<String, String>,
}

/// The server's answer to one [`ExecRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "camelCase")]
pub enum Reply {
    /// The wrapper executes the program itself, in place, inside the sandbox.
    Run,
    /// The program must not run; the wrapper prints `reason` and exits with
    /// [`REFUSED_EXIT_CODE`].
    Deny {
        /// Why, for the person or model reading stderr.
        reason: String,
    },
    /// The server ran the program outside the sandbox on the wrapper's stdin, stdout
    /// and stderr, and it ended so; the wrapper exits likewise.
    Escalated {
        /// How the program ended.
        status: ExitStatus,
    },
    /// The request was refused before any decision (too large, malformed, …) or the
    /// escalated program could not be started; the wrapper prints `message` and exits
    /// with `exit_code` (never 0).
    Error {
        /// What went wrong.
        message: String,
        /// The wrapper's exit status: 126, or 127 for a program that does not exist.
        #[serde(rename = "exitCode")]
        exit_code: i32,
    },
}

/// How an escalated program ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ExitStatus {
    /// It exited with this status.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl ExitStatus {
    /// The status a shell reports for it: the exit code, or 128 + the signal number.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Code(code) => code & 0xff,
            ExitStatus::Signal(signal) => 128 + (signal & 0x7f),
        }
    }

    /// From a finished process's status.
    pub fn from_std(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt as _;
        match (status.code(), status.signal()) {
            (Some(code), _) => ExitStatus::Code(code),
            (None, Some(signal)) => ExitStatus::Signal(signal),
            // Neither exited nor killed (stopped/continued are not reported by `wait`).
            (None, None) => ExitStatus::Code(REFUSED_EXIT_CODE),
        }
    }
}

/// The 4-byte header of a frame of `len` bytes.
pub(crate) fn frame_header(len: usize) -> std::io::Result<[u8; 4]> {
    u32::try_from(len)
        .map(u32::to_le_bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "frame too large"))
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
