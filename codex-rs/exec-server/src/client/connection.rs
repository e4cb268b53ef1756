//! The connection task: it owns the WebSocket, sends requests (at most [`MAX_IN_FLIGHT`]
//! unanswered), routes responses by id and notifications to the event router (as text, or
//! as binary output frames), pings the server, and on a lost connection fails what cannot
//! be repeated, reconnects with backoff ([`reconnect`]), resumes the session and re-sends
//! the rest.
//!
//! Everything it waits for is bounded: every send by [`ClientConfig::send_timeout`], the
//! server's silence by [`ClientConfig::server_timeout`] (suspended while the event router
//! is full: the client then stops reading, which is its flow control), messages by the
//! WebSocket limits ([`super::handshake::websocket_config`]), retries by a budget per
//! request and per session ([`reconnect`]). Requests whose caller gave up (its reply
//! receiver is gone, for example after [`ClientConfig::request_timeout`]) free their slot
//! and are never re-sent.

mod reconnect;

use std::collections::HashMap;
use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use futures_util::SinkExt;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_tungstenite::tungstenite::error::CapacityError;
use tracing::debug;
use tracing::warn;

use crate::error::ExecError;
use crate::error::SessionLoss;
use crate::protocol::BinaryMessage;
use crate::protocol::JSONRPC_VERSION;
use crate::protocol::OutputNotification;
use crate::protocol::ProcessEvent;
use crate::protocol::RpcError;
use crate::protocol::decode_binary_frame;

use super::ClientConfig;
use super::ConnectionState;
use super::Pending;
use super::RawResult;
use super::Reply;
use super::ReplyError;
use super::TrackerMsg;
use super::Ws;
use super::server_requests::ServerRequests;

/// Requests one connection keeps unanswered at most; more wait in the client. Below the
/// server's `MAX_UNWRITTEN_RESPONSES` (1024), so the server never stops reading this
/// connection, and sending a request can never block on a server that is itself blocked
/// writing answers this client is not reading.
const MAX_IN_FLIGHT: usize = 512;
/// How often a full in-flight table is checked for requests whose caller gave up, when
/// nothing else wakes the task.
const PURGE_EVERY: Duration = Duration::from_millis(50);
/// The largest header of a frame the client writes (2 bytes, an 8-byte length, a 4-byte
/// mask): the write buffer must hold a request's text and this.
const FRAME_HEADER_BYTES: usize = 14;

/// A request the connection task accepted: sent, or to re-send after a reconnect.
struct InFlight {
    method: &'static str,
    retryable: bool,
    reply: oneshot::Sender<Reply>,
    /// The request as it goes on the wire, id included; re-sent as is.
    frame: Utf8Bytes,
    /// How many times it was sent (the retry budget, [`reconnect::MAX_SENDS`]).
    sends: u32,
}

impl InFlight {
    fn fail(self, err: ExecError) {
        let _ = self.reply.send(Err(ReplyError::Client(err)));
    }
}

/// The request frame, serialized without copying `params`.
#[derive(serde::Serialize)]
struct RequestFrame<'a> {
    jsonrpc: &'static str,
    id: u64,
    method: &'static str,
    params: &'a Value,
}

/// How a connection ended.
enum Ended {
    /// Every handle of the client is gone.
    Closed,
    /// The session is gone for good.
    Lost(SessionLoss),
    /// The connection broke; the session may still be resumed.
    Broken(Break),
}

/// Why and how a connection broke.
struct Break {
    /// What broke it, for the log and for errors.
    cause: String,
    /// A message over [`ClientConfig::max_message_bytes`] (this limit) arrived.
    too_large: Option<usize>,
    /// A whole message from the server arrived on the connection before it broke.
    productive: bool,
}

fn broken(cause: String, productive: bool) -> Ended {
    Ended::Broken(Break {
        cause,
        too_large: None,
        productive,
    })
}

/// What an incoming text message asks of the task.
enum Incoming {
    /// Nothing more (a reply was routed, or the message was dropped).
    Handled,
    /// Hand this to the event router.
    Event(TrackerMsg),
    /// The server says another connection took the session over.
    TakenOver,
}

/// The state of the connection task (across connections).
struct Connection {
    config: ClientConfig,
    session_id: String,
    requests: mpsc::UnboundedReceiver<Pending>,
    tracker: mpsc::Sender<TrackerMsg>,
    state: watch::Sender<ConnectionState>,
    in_flight: HashMap<u64, InFlight>,
    next_id: u64,
    /// When recent connections broke before any whole message arrived on them (the
    /// session's retry budget, [`reconnect::MAX_FAILED_CONNECTIONS`]).
    failures: VecDeque<Instant>,
    /// The server's requests (`approval/request`) and their answers.
    server_requests: ServerRequests,
}

/// Run the connection of a client until every handle of it is gone or its session is
/// lost; `state` says which (and, before that, whether it is connected or reconnecting).
pub(super) async fn connection_task(
    config: ClientConfig,
    session_id: String,
    ws: Ws,
    requests: mpsc::UnboundedReceiver<Pending>,
    tracker: mpsc::Sender<TrackerMsg>,
    state: watch::Sender<ConnectionState>,
) {
    let server_requests = ServerRequests::new(config.approval_handler.clone());
    let mut connection = Connection {
        config,
        session_id,
        requests,
        tracker,
        state,
        in_flight: HashMap::new(),
        next_id: 1,
        failures: VecDeque::new(),
        server_requests,
    };
    let loss = connection.run(ws).await;
    connection.lose(loss);
    // Dropping `requests` and `tracker` ends the client: later requests fail and the event
    // streams end.
}

/// Send one message, within `timeout`.
async fn send(ws: &mut Ws, message: Message, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, ws.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(format!("sending failed: {err}")),
        Err(_) => Err(format!(
            "a send did not complete within {timeout:?} (the server is not reading)"
        )),
    }
}

impl Connection {
    /// Serve connection after connection until the session is lost; returns why.
    async fn run(&mut self, mut ws: Ws) -> SessionLoss {
        let mut to_tracker = None;
        loop {
            let broke = match self.serve(ws, to_tracker.take()).await {
                Ended::Closed => return SessionLoss::Closed,
                Ended::Lost(loss) => return loss,
                Ended::Broken(broke) => broke,
            };
            let lost_at = Instant::now();
            if let Some(loss) = self.after_break(&broke) {
                return loss;
            }
            ws = match self.reconnect(lost_at).await {
                Ok(ws) => ws,
                Err(loss) => return loss,
            };
            debug!("resumed exec-server session {}", self.session_id);
            self.state.send_replace(ConnectionState::Connected);
            to_tracker = Some(TrackerMsg::Resumed);
        }
    }

    /// One connection: re-send what is in flight, then send requests, route what arrives,
    /// and ping, until it ends. `to_tracker` is delivered before anything more is read.
    async fn serve(&mut self, mut ws: Ws, mut to_tracker: Option<TrackerMsg>) -> Ended {
        let send_timeout = self.config.send_timeout;
        // A handle of its own, so a reserved slot does not borrow `self`.
        let tracker = self.tracker.clone();
        let mut productive = false;
        self.purge_abandoned();
        let mut ids: Vec<u64> = self.in_flight.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let Some(request) = self.in_flight.get_mut(&id) else {
                continue;
            };
            request.sends += 1;
            let frame = Message::Text(request.frame.clone());
            if let Err(cause) = send(&mut ws, frame, send_timeout).await {
                return broken(cause, productive);
            }
        }
        // Never zero (a zero-period interval panics).
        let ping_every = (self.config.server_timeout / 3).max(Duration::from_millis(10));
        let mut pings = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
        pings.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        loop {
            if self.in_flight.len() >= MAX_IN_FLIGHT {
                self.purge_abandoned();
            }
            let room = self.in_flight.len() < MAX_IN_FLIGHT;
            // While the event router is full, nothing is read (the server then paces its
            // processes) and the server's silence is not held against it.
            let blocked = to_tracker.is_some();
            tokio::select! {
                permit = tracker.reserve(), if blocked => {
                    if let (Ok(permit), Some(message)) = (permit, to_tracker.take()) {
                        permit.send(message);
                    }
                    to_tracker = None;
                    last_heard = Instant::now();
                }
                () = tokio::time::sleep_until(last_heard + self.config.server_timeout),
                    if !blocked =>
                {
                    return broken(
                        format!(
                            "nothing heard from the server for {:?}",
                            self.config.server_timeout
                        ),
                        productive,
                    );
                }
                // Also while blocked: the server hears from the client and keeps the connection.
                _ = pings.tick() => {
                    let ping = Message::Ping(Default::default());
                    if let Err(cause) = send(&mut ws, ping, send_timeout).await {
                        return broken(cause, productive);
                    }
                }
                // Woken to purge (at the top of the loop) when the table is full.
                () = tokio::time::sleep(PURGE_EVERY), if !room => {}
                pending = self.requests.recv(), if room => {
                    let Some(pending) = pending else {
                        let _ = tokio::time::timeout(send_timeout, ws.close(/*msg*/ None)).await;
                        return Ended::Closed;
                    };
                    let Some((id, request)) = self.admit(pending) else {
                        continue;
                    };
                    let frame = Message::Text(request.frame.clone());
                    self.in_flight.insert(id, request);
                    if let Err(cause) = send(&mut ws, frame, send_timeout).await {
                        return broken(cause, productive);
                    }
                }
                Some(answer) = self.server_requests.next_answer() => {
                    if let Err(cause) = send(&mut ws, Message::text(answer), send_timeout).await {
                        return broken(cause, productive);
                    }
                }
                message = ws.next(), if !blocked => {
                    last_heard = Instant::now();
                    match message {
                        Some(Ok(Message::Text(text))) => {
                            productive = true;
                            match self.handle_incoming(&text) {
                                Incoming::Handled => {}
                                Incoming::Event(message) => to_tracker = Some(message),
                                Incoming::TakenOver => {
                                    return Ended::Lost(SessionLoss::TakenOver);
                                }
                            }
                        }
                        Some(Ok(Message::Binary(frame))) => {
                            productive = true;
                            if let Incoming::Event(message) = self.handle_binary(&frame) {
                                to_tracker = Some(message);
                            }
                        }
                        Some(Ok(Message::Close(frame))) => {
                            let detail = frame.map(|f| format!(" ({f})")).unwrap_or_default();
                            return broken(
                                format!("the server closed the connection{detail}"),
                                productive,
                            );
                        }
                        Some(Ok(_)) => productive = true,
                        Some(Err(tungstenite::Error::Capacity(
                            CapacityError::MessageTooLong { size, max_size },
                        ))) => {
                            return Ended::Broken(Break {
                                cause: format!(
                                    "a message of {size} bytes from the server is over the \
                                     client's limit of {max_size} bytes"
                                ),
                                too_large: Some(max_size),
                                productive,
                            });
                        }
                        Some(Err(err)) => return broken(err.to_string(), productive),
                        None => {
                            return broken("the connection closed".to_string(), productive);
                        }
                    }
                }
            }
        }
    }

    /// Take a new request in: its id and frame, or `None` when it is not to be sent (its
    /// caller is gone, or it is too large to send; then it was answered).
    fn admit(&mut self, pending: Pending) -> Option<(u64, InFlight)> {
        let Pending {
            method,
            params,
            retryable,
            reply,
        } = pending;
        if reply.is_closed() {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        let frame = RequestFrame {
            jsonrpc: JSONRPC_VERSION,
            id,
            method,
            params: &params,
        };
        let error = match serde_json::to_string(&frame) {
            Ok(text) if text.len() + FRAME_HEADER_BYTES <= self.config.max_write_buffer_bytes => {
                return Some((
                    id,
                    InFlight {
                        method,
                        retryable,
                        reply,
                        frame: Utf8Bytes::from(text),
                        sends: 1,
                    },
                ));
            }
            Ok(text) => ExecError::InvalidParams(format!(
                "the `{method}` request is {} bytes, more than the client sends \
                 (ClientConfig::max_write_buffer_bytes: {})",
                text.len() + FRAME_HEADER_BYTES,
                self.config.max_write_buffer_bytes
            )),
            Err(err) => ExecError::Internal(format!("serializing a `{method}` request: {err}")),
        };
        let _ = reply.send(Err(ReplyError::Client(error)));
        None
    }

    /// Forget the requests whose caller gave up (timed out or dropped the call): their slot
    /// is free, a late reply is dropped, and they are not re-sent.
    fn purge_abandoned(&mut self) {
        self.in_flight
            .retain(|_, request| !request.reply.is_closed());
    }

    /// Route one text message from the server.
    fn handle_incoming(&mut self, frame: &Utf8Bytes) -> Incoming {
        let text = frame.as_str();
        if text.starts_with(r#"{"jsonrpc":"2.0","method":"process/output","#) {
            let output = OutputNotification::from_notification_text(text).or_else(|| {
                serde_json::from_str::<OutputEnvelope<'_>>(text)
                    .ok()
                    .map(|envelope| envelope.params)
            });
            if let Some(output) = output {
                return Incoming::Event(TrackerMsg::Event(ProcessEvent::Output(output)));
            }
        }
        if let Some((id, range)) = plain_result(text) {
            // A reply to a request nobody waits for is dropped (as below).
            if let Some(request) = self.in_flight.remove(&id) {
                let _ = request.reply.send(Ok(RawResult::Json {
                    frame: frame.clone(),
                    range,
                }));
            }
            return Incoming::Handled;
        }
        let envelope: Envelope<'_> = match serde_json::from_str(text) {
            Ok(envelope) => envelope,
            Err(err) => {
                debug!("ignoring a malformed message from the server: {err}");
                return Incoming::Handled;
            }
        };
        if let (Some(id), Some(method_name)) = (&envelope.id, envelope.method) {
            // A request of the server (`approval/request`).
            let params = envelope.params.map(|params| params.get());
            self.server_requests.handle(id.clone(), method_name, params);
            return Incoming::Handled;
        }
        if let Some(id) = envelope.id.as_ref() {
            // A reply to a request nobody waits for (never sent, or its caller gave up) is
            // dropped.
            let Some(request) = id.as_u64().and_then(|id| self.in_flight.remove(&id)) else {
                return Incoming::Handled;
            };
            let reply = match (envelope.error, envelope.result) {
                (Some(error), _) if error.kind() == Some("sessionTakenOver") => {
                    request.fail(self.session_lost(SessionLoss::TakenOver));
                    return Incoming::TakenOver;
                }
                (Some(error), _) => Err(ReplyError::Rpc(error)),
                (None, Some(result)) => {
                    // `result` borrows from `text`: where it starts there.
                    let start = result.get().as_ptr() as usize - text.as_ptr() as usize;
                    Ok(RawResult::Json {
                        frame: frame.clone(),
                        range: start..start + result.get().len(),
                    })
                }
                (None, None) => Err(ReplyError::Client(ExecError::Transport(format!(
                    "a reply to `{}` without result or error",
                    request.method
                )))),
            };
            let _ = request.reply.send(reply);
            return Incoming::Handled;
        }
        let method_name = envelope.method.unwrap_or_default();
        let params = envelope.params.map_or("{}", |params| params.get());
        match ProcessEvent::from_notification(method_name, params) {
            Some(event) => Incoming::Event(TrackerMsg::Event(event)),
            None => {
                debug!("ignoring notification `{method_name}`");
                Incoming::Handled
            }
        }
    }

    /// Route one binary frame from the server: output (`binaryOutput`), a notification or
    /// a `process/read` reply. A malformed one is logged and dropped, as a malformed text
    /// message is: a lost notification shows as a skipped `seq` (which the event router
    /// reads back), a lost reply as its request's timeout.
    fn handle_binary(&mut self, frame: &Bytes) -> Incoming {
        match decode_binary_frame(frame) {
            Ok(BinaryMessage::Output(output)) => {
                Incoming::Event(TrackerMsg::Event(ProcessEvent::Output(output)))
            }
            Ok(BinaryMessage::ReadReply { id, result }) => {
                // A reply to a request nobody waits for is dropped (as in `handle_incoming`).
                if let Some(request) = id.as_u64().and_then(|id| self.in_flight.remove(&id)) {
                    let _ = request.reply.send(Ok(RawResult::Read(result)));
                }
                Incoming::Handled
            }
            Err(err) => {
                warn!("ignoring a malformed binary frame from the server: {err}");
                Incoming::Handled
            }
        }
    }

    /// The error of every request once the session is lost for `cause`.
    fn session_lost(&self, cause: SessionLoss) -> ExecError {
        ExecError::SessionLost {
            session_id: self.session_id.clone(),
            cause,
        }
    }

    /// The session is gone: say so in the state (before anything fails, so a request made
    /// meanwhile fails the same way), and fail every request in flight or queued.
    fn lose(&mut self, cause: SessionLoss) {
        match &cause {
            SessionLoss::Closed => {
                debug!("exec-server client of session {} closed", self.session_id)
            }
            cause => warn!("exec-server session {} lost: {cause}", self.session_id),
        }
        self.state
            .send_replace(ConnectionState::Lost(cause.clone()));
        for (_, request) in self.in_flight.drain() {
            request.fail(ExecError::SessionLost {
                session_id: self.session_id.clone(),
                cause: cause.clone(),
            });
        }
        self.requests.close();
        while let Ok(pending) = self.requests.try_recv() {
            let _ = pending
                .reply
                .send(Err(ReplyError::Client(self.session_lost(cause.clone()))));
        }
    }
}

/// A reply in the form this crate's server writes every result,
/// `{"jsonrpc":"2.0","id":N,"result":…}`: its id and where its result is, found without
/// reading the result (a `process/read` result is megabytes of base64). The result is
/// checked when the caller parses it: a single JSON value that ends where the frame's
/// closing `}` begins, so a frame with other members (`error`, a second `id`) fails there;
/// any other form of reply takes the general path ([`Envelope`]).
fn plain_result(text: &str) -> Option<(u64, std::ops::Range<usize>)> {
    let rest = text.strip_prefix(r#"{"jsonrpc":"2.0","id":"#)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    // JSON numbers have no leading zeros.
    if digits == 0 || (digits > 1 && rest.starts_with('0')) {
        return None;
    }
    let id: u64 = rest.get(..digits)?.parse().ok()?;
    let result = rest.get(digits..)?.strip_prefix(r#","result":"#)?;
    let result = result.strip_suffix('}')?;
    let start = text.len() - 1 - result.len();
    Some((id, start..start + result.len()))
}

/// The members of an incoming message, with `params`/`result` left as raw JSON so a
/// notification's payload is parsed once, straight into its typed struct.
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    method: Option<&'a str>,
    #[serde(default, borrow)]
    params: Option<&'a serde_json::value::RawValue>,
    #[serde(default, borrow)]
    result: Option<&'a serde_json::value::RawValue>,
    #[serde(default)]
    error: Option<RpcError>,
}

/// `process/output` as the server writes it, parsed in one pass (the hot path).
#[derive(serde::Deserialize)]
struct OutputEnvelope<'a> {
    #[serde(rename = "jsonrpc")]
    _jsonrpc: &'a str,
    #[serde(rename = "method")]
    _method: &'a str,
    params: OutputNotification,
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
