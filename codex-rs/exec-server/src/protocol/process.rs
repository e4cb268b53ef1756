//! The `process/*` methods: their params and results, the notifications
//! (`process/output`, `process/exited`, `process/closed`) and [`ProcessEvent`], the event
//! type both backends deliver.

use std::collections::BTreeMap;
use std::io::Write as _;

use bytes::Bytes;
use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;
use serde::Deserialize;
use serde::Serialize;

use super::ByteChunk;
use super::JSONRPC_VERSION;
use super::ProcessLimits;
use super::PtySize;
use super::base64_len;
use super::decode_base64_string;
use super::encode_base64_into;
use super::method;

/// `process/start` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartParams {
    /// Client-chosen id, unique within the session.
    pub process_id: String,
    /// Program and arguments; the program is looked up in `env`'s `PATH` when it has no `/`.
    pub argv: Vec<String>,
    /// Absolute working directory on the machine where the process runs (a relative path
    /// is refused while parsing; `.` and `..` are resolved lexically).
    pub cwd: AbsolutePathBuf,
    /// The complete environment; nothing is inherited.
    pub env: BTreeMap<String, String>,
    /// Run under a pseudo-terminal.
    pub tty: bool,
    /// The terminal's window size (only with `tty: true`; default
    /// [`PtySize::DEFAULT`], 24×80). Change it later with `process/resize`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pty_size: Option<PtySize>,
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
    /// Run `argv[0]` (`bash` or `zsh`) as the server's patched shell with shell
    /// escalation (see [`super::EscalationParams`]); needs `sandbox_policy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<super::EscalationParams>,
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
    /// Turn the process's `process/output` notifications back on (see
    /// `process/outputNotifications`) if this reply reaches the newest event: atomically,
    /// so every later event is notified and every earlier one is in this reply or before
    /// `afterSeq`. The reply says whether it happened (`notificationsResumed`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resume_notifications: bool,
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

impl OutputStream {
    /// The name on the wire (as serde writes it).
    fn wire_name(self) -> &'static str {
        match self {
            OutputStream::Stdout => "stdout",
            OutputStream::Stderr => "stderr",
            OutputStream::Pty => "pty",
        }
    }
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
    /// The request asked for `resumeNotifications` and this reply reached the newest
    /// event: the process's output is notified again from `nextSeq` on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub notifications_resumed: bool,
}

impl ReadResponse {
    /// The JSON-RPC response text answering request `id` with this result.
    ///
    /// A read reply carries up to megabytes of base64, so, like an output notification
    /// (see [`ProcessEvent::to_notification_text`]), it is written directly: each chunk's
    /// base64 is encoded once into the text and never escape-scanned (the base64 alphabet
    /// needs no JSON escaping). `failure` (any string) and the request id go through
    /// serde_json. The text parses to the same `ReadResponse` as its serde serialization:
    /// the members in the same order, `gap` and `notificationsResumed` left out as serde
    /// leaves them out.
    pub(crate) fn to_response_text(&self, id: &serde_json::Value) -> serde_json::Result<String> {
        /// `{"seq":…,"stream":"stdout","chunk":""},` with a 20-digit seq.
        const CHUNK_OVERHEAD: usize = 64;
        /// Everything but the chunks and `failure`, with room to spare.
        const FIXED: usize = 256;
        let chunk_text: usize = self
            .chunks
            .iter()
            .map(|chunk| base64_len(chunk.chunk.0.len()) + CHUNK_OVERHEAD)
            .sum();
        let failure_text = self
            .failure
            .as_ref()
            .map_or(/*default*/ 0, |failure| failure.len() + 2);
        let mut out = Vec::with_capacity(FIXED + chunk_text + failure_text);
        out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
        serde_json::to_writer(&mut out, id)?;
        out.extend_from_slice(br#","result":{"chunks":["#);
        for (index, chunk) in self.chunks.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            write!(
                out,
                r#"{{"seq":{},"stream":"{}","chunk":""#,
                chunk.seq,
                chunk.stream.wire_name()
            )
            .map_err(serde_json::Error::io)?;
            encode_base64_into(&chunk.chunk.0, &mut out);
            out.extend_from_slice(br#""}"#);
        }
        write!(
            out,
            r#"],"nextSeq":{},"exited":{},"exitCode":"#,
            self.next_seq, self.exited
        )
        .map_err(serde_json::Error::io)?;
        match self.exit_code {
            Some(exit_code) => write!(out, "{exit_code}").map_err(serde_json::Error::io)?,
            None => out.extend_from_slice(b"null"),
        }
        write!(out, r#","closed":{},"failure":"#, self.closed).map_err(serde_json::Error::io)?;
        serde_json::to_writer(&mut out, &self.failure)?;
        if let Some(gap) = &self.gap {
            out.extend_from_slice(br#","gap":"#);
            serde_json::to_writer(&mut out, gap)?;
        }
        if self.notifications_resumed {
            out.extend_from_slice(br#","notificationsResumed":true"#);
        }
        out.extend_from_slice(b"}}");
        String::from_utf8(out).map_err(serde::ser::Error::custom)
    }
}

/// The members of a `process/read` result after `chunks`, with the attributes of
/// [`ReadResponse`]'s: what [`ReadResponse::from_result_text`] leaves to serde.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ReadResponseTail {
    next_seq: u64,
    exited: bool,
    exit_code: Option<i32>,
    closed: bool,
    failure: Option<String>,
    #[serde(default)]
    gap: Option<Gap>,
    #[serde(default)]
    notifications_resumed: bool,
}

impl ReadResponse {
    /// Parse a `process/read` result: the same `ReadResponse` as
    /// `serde_json::from_str(text)`, or the same error (the client's hot path).
    ///
    /// A result as [`ReadResponse::to_response_text`] writes it is read directly: each
    /// chunk's base64 is decoded in one pass that also finds where the string ends (serde
    /// would scan it first), and into one buffer that all the chunks of the reply share:
    /// one allocation per reply rather than one per chunk (glibc's malloc gives a reply's
    /// worth of megabyte chunks back to the system when they are freed, and every page of
    /// the next reply faults in again), but one that stays whole as long as any of its
    /// chunks is kept. The members after `chunks` go through serde. Any other form of the
    /// same JSON (spaces, escapes, another order) and anything invalid is left to serde.
    pub(crate) fn from_result_text(text: &str) -> serde_json::Result<ReadResponse> {
        match Self::from_direct_text(text) {
            Some(response) => Ok(response),
            None => serde_json::from_str(text),
        }
    }

    /// The direct path of [`ReadResponse::from_result_text`]: `None` for any other form.
    pub(super) fn from_direct_text(text: &str) -> Option<ReadResponse> {
        let mut rest = text.strip_prefix(r#"{"chunks":["#)?;
        let mut data: Vec<u8> = Vec::new();
        let mut chunks = Vec::new();
        if let Some(after) = rest.strip_prefix(']') {
            rest = after;
        } else {
            // The decoded bytes take at most 3/4 of the text.
            data.reserve(rest.len() / 4 * 3);
            loop {
                let after = rest.strip_prefix(r#"{"seq":"#)?;
                let (seq, stream, after) = seq_stream_chunk(after)?;
                let start = data.len();
                let length = decode_base64_string(after.as_bytes(), &mut data)?;
                chunks.push((seq, stream, start..data.len()));
                let after = after.get(length..)?.strip_prefix(r#""}"#)?;
                if let Some(after) = after.strip_prefix(',') {
                    rest = after;
                } else {
                    rest = after.strip_prefix(']')?;
                    break;
                }
            }
        }
        // `,"nextSeq":…}` read as `{"nextSeq":…}`.
        let tail = rest.strip_prefix(',')?;
        let tail: ReadResponseTail = serde_json::from_str(&format!("{{{tail}")).ok()?;
        let data = Bytes::from(data);
        Some(ReadResponse {
            chunks: chunks
                .into_iter()
                .map(|(seq, stream, range)| OutputChunk {
                    seq,
                    stream,
                    chunk: ByteChunk(data.slice(range)),
                })
                .collect(),
            next_seq: tail.next_seq,
            exited: tail.exited,
            exit_code: tail.exit_code,
            closed: tail.closed,
            failure: tail.failure,
            gap: tail.gap,
            notifications_resumed: tail.notifications_resumed,
        })
    }
}

/// `process/write` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WriteParams {
    /// The process.
    pub process_id: String,
    /// Bytes for stdin (may be empty).
    pub chunk: ByteChunk,
    /// Idempotency key: a repeated id is answered `accepted` and not written twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_id: Option<String>,
    /// After writing `chunk`, close stdin so the process reads end-of-file. Under a PTY,
    /// which has no stdin of its own to close, the terminal's end-of-file character (`VEOF`,
    /// usually `^D`) is written instead (twice when the current line holds unfinished
    /// input). Either way later writes with bytes answer `stdinClosed`, and closing again
    /// (an empty `chunk`) answers `accepted`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub close_stdin: bool,
}

/// Outcome of a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum WriteStatus {
    /// Written (or already written under the same `writeId`); with `closeStdin`, stdin is
    /// closed (or already was, for an empty `chunk`).
    Accepted,
    /// No such process.
    UnknownProcess,
    /// The process has no stdin, or it was closed (by `closeStdin`, by the process, or
    /// because it exited); nothing was written.
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

/// `process/outputNotifications` params: per-process flow control for a client.
///
/// With `enabled: false` the server stops sending this process's `process/output`
/// notifications to the session (`process/exited` and `process/closed` still come), so
/// its output is delivered only when a `process/read` returns or passes it; in
/// `outputMode: "pace"` the process then waits once half the retention window is
/// undelivered, exactly as with a client that reads nothing. `enabled: true` resumes
/// notifications from the next output on; what came in between is read with
/// `process/read`. A client whose consumer of one process is slow uses this to hold that
/// process back without holding up the others on the same connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutputNotificationsParams {
    /// The process.
    pub process_id: String,
    /// Whether its output is notified.
    pub enabled: bool,
}

/// `process/outputNotifications` result (empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputNotificationsResponse {}

/// `process/ack` params: the client holds every event of `process_id` through `seq`.
///
/// On a connection initialized with `acknowledgeOutput: true`, a `process/output`
/// notification counts as delivered (in `outputMode: "pace"`, what lets the process go
/// on) only once acknowledged, not once sent: output on its way when a connection breaks
/// is then still retained for the resume. A `process/read` acknowledges through its
/// `afterSeq` as always. A `seq` past the newest event counts as the newest; one at or
/// below an earlier acknowledgement changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AckParams {
    /// The process.
    pub process_id: String,
    /// The highest `seq` the client holds, with every one before it.
    pub seq: u64,
}

/// `process/ack` result (empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckResponse {}

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

/// The direct parsers' common part: `text` starts with a `seq` value, then
/// `,"stream":"NAME","chunk":"` as this crate's server writes it. The seq, the stream,
/// and the text after the chunk's opening quote; `None` for anything else (a number
/// with a leading zero or out of range included).
fn seq_stream_chunk(text: &str) -> Option<(u64, OutputStream, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    // JSON numbers have no leading zeros.
    if digits == 0 || (digits > 1 && text.starts_with('0')) {
        return None;
    }
    let seq: u64 = text.get(..digits)?.parse().ok()?;
    let after = text.get(digits..)?.strip_prefix(r#","stream":""#)?;
    let (stream, after) = [
        OutputStream::Stdout,
        OutputStream::Stderr,
        OutputStream::Pty,
    ]
    .into_iter()
    .find_map(|stream| {
        after
            .strip_prefix(stream.wire_name())
            .map(|after| (stream, after))
    })?;
    Some((seq, stream, after.strip_prefix(r#"","chunk":""#)?))
}

impl OutputNotification {
    /// Parse a `process/output` notification written as
    /// [`ProcessEvent::to_notification_text`] writes it (the client's hot path): the
    /// base64 is decoded in the same pass that finds where it ends (serde would scan it
    /// for escapes first). `None` for any other form (spaces, another member order, an
    /// escape in the base64, anything invalid): the caller leaves those to serde.
    pub(crate) fn from_notification_text(text: &str) -> Option<OutputNotification> {
        let rest = text
            .strip_prefix(r#"{"jsonrpc":"2.0","method":"process/output","params":{"processId":"#)?;
        // The id is any JSON string (escapes included): serde reads it and says where it
        // ends.
        let mut ids = serde_json::Deserializer::from_str(rest).into_iter::<String>();
        let process_id = ids.next()?.ok()?;
        let after = rest.get(ids.byte_offset()..)?.strip_prefix(r#","seq":"#)?;
        let (seq, stream, after) = seq_stream_chunk(after)?;
        let mut bytes = Vec::with_capacity(after.len() / 4 * 3);
        let length = decode_base64_string(after.as_bytes(), &mut bytes)?;
        if after.get(length..)? != r#""}}"# {
            return None;
        }
        Some(OutputNotification {
            process_id,
            seq,
            stream,
            chunk: ByteChunk(Bytes::from(bytes)),
        })
    }
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

/// A process event as seen by callers of [`crate::ExecProcess::subscribe`].
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
                let stream = n.stream.wire_name();
                let mut out = Vec::with_capacity(base64_len(n.chunk.0.len()) + 160);
                out.extend_from_slice(
                    br#"{"jsonrpc":"2.0","method":"process/output","params":{"processId":"#,
                );
                out.extend_from_slice(process_id.as_bytes());
                write!(out, r#","seq":{},"stream":"{stream}","chunk":""#, n.seq).ok()?;
                encode_base64_into(&n.chunk.0, &mut out);
                out.extend_from_slice(br#""}}"#);
                String::from_utf8(out).ok()
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
