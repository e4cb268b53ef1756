//! One WebSocket connection: its reader loop ([`serve_websocket`]) with the client
//! timeout, the [`Backlog`] that stops reading while too many responses are unwritten,
//! and the connection's attachment to a session (`initialize`; detached when the
//! connection ends).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::Notify;
use tokio::sync::mpsc;
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tracing::debug;
use tracing::warn;

use crate::protocol::Capabilities;
use crate::protocol::InitializeParams;
use crate::protocol::InitializeResponse;
use crate::protocol::RpcError;
use crate::protocol::error_code;

use super::Transport;
use super::liveness::Liveness;
use super::liveness::Tracked;
use super::lock;
use super::rpc::parse_params;
use super::sessions::Session;
use super::sessions::Sessions;
use super::writer::OutputFraming;
use super::writer::WriterMsg;
use super::writer::write_loop;

/// Requests of one connection that may be unanswered or answered-but-unwritten before the
/// server stops reading from it (backpressure instead of an unbounded response queue).
pub const MAX_UNWRITTEN_RESPONSES: usize = 1024;

/// Counts the frames of one connection whose response is not yet written. Every text or
/// binary frame gets at most one response; frames that get none (notifications) are
/// counted off at once.
#[derive(Default)]
pub(super) struct Backlog {
    unwritten: AtomicUsize,
    writer_gone: AtomicBool,
    changed: Notify,
}

impl Backlog {
    /// Waits until another frame may be read; false when the writer has stopped.
    async fn admit(&self) -> bool {
        loop {
            let changed = self.changed.notified();
            if self.writer_gone.load(Ordering::Acquire) {
                return false;
            }
            if self.unwritten.load(Ordering::Acquire) < MAX_UNWRITTEN_RESPONSES {
                self.unwritten.fetch_add(/*val*/ 1, Ordering::AcqRel);
                return true;
            }
            changed.await;
        }
    }

    /// One admitted frame is done: its response was written, or it needed none.
    pub(super) fn done(&self) {
        self.unwritten.fetch_sub(/*val*/ 1, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    pub(super) fn writer_stopped(&self) {
        self.writer_gone.store(/*val*/ true, Ordering::Release);
        self.changed.notify_waiters();
    }
}

/// The state of one connection, shared by its reader loop and the tasks of its requests.
pub(super) struct Connection {
    pub(super) sessions: Arc<Sessions>,
    pub(super) backlog: Arc<Backlog>,
    /// To the connection's writer.
    pub(super) out: mpsc::UnboundedSender<WriterMsg>,
    /// The session `initialize` attached, with the attachment's generation.
    pub(super) attached: Mutex<Option<(Arc<Session>, u64)>>,
    /// Set when the reader loop ends: pending replies are then dropped.
    pub(super) closed: watch::Sender<bool>,
    /// The client asked for binary output frames at `initialize` (`binaryOutput`).
    pub(super) binary_output: AtomicBool,
}

/// Read and answer requests until the connection ends, then detach its session.
pub(super) async fn serve_websocket<S: Transport>(
    ws: WebSocketStream<Tracked<S>>,
    sessions: Arc<Sessions>,
    liveness: Arc<Liveness>,
) {
    let client_timeout = sessions.config.client_timeout;
    let (sink, mut stream) = ws.split();
    let (out, out_rx) = mpsc::unbounded_channel();
    let (closed, _) = watch::channel(false);
    let backlog = Arc::new(Backlog::default());
    let conn = Arc::new(Connection {
        sessions,
        backlog: Arc::clone(&backlog),
        out,
        attached: Mutex::new(None),
        closed,
        binary_output: AtomicBool::new(/*v*/ false),
    });
    // Aborted with this connection (a server shutdown aborts connection tasks): a writer
    // left behind would keep the socket open and answer the client's pings for a
    // connection nobody reads.
    let mut writer = AbortOnDrop(tokio::spawn(write_loop(
        sink,
        out_rx,
        Arc::clone(&backlog),
        Arc::clone(&liveness),
        client_timeout / 3,
    )));
    loop {
        // The timeout covers waiting to be allowed to read (answers the client does not
        // take) and the read itself; any sign of life meanwhile (see `Liveness`) moves the
        // deadline on. While the backlog is full, pongs cannot be read, so a client that
        // keeps more than `MAX_UNWRITTEN_RESPONSES` requests unanswered (long-polls) for
        // longer than the timeout is closed too.
        let next = async {
            if backlog.admit().await {
                stream.next().await
            } else {
                None
            }
        };
        tokio::pin!(next);
        let message = loop {
            let deadline = liveness.last_sign() + client_timeout;
            match tokio::time::timeout_at(deadline, &mut next).await {
                Ok(message) => break Ok(message),
                Err(_) if liveness.last_sign() + client_timeout > tokio::time::Instant::now() => {}
                Err(timed_out) => break Err(timed_out),
            }
        };
        let message = match message {
            Ok(Some(message)) => message,
            Ok(None) => break,
            Err(_) => {
                warn!(
                    "no sign of life from the client for {client_timeout:?} (not even a \
                     pong); closing the connection and detaching its session"
                );
                break;
            }
        };
        if !matches!(message, Ok(Message::Text(_) | Message::Binary(_))) {
            // Only text and binary frames are answered.
            backlog.done();
        }
        match message {
            Ok(Message::Text(text)) => conn.handle_text(text.as_str()),
            Ok(Message::Binary(frame)) => conn.handle_binary(&frame),
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
            Ok(Message::Close(_)) => break,
            Err(tungstenite::Error::Capacity(err)) => {
                warn!("closing connection: {err}");
                let _ = conn.out.send(WriterMsg::Close(CloseFrame {
                    code: CloseCode::Size,
                    reason: format!("message too large: {err}").into(),
                }));
                break;
            }
            Err(err) => {
                debug!("websocket read error: {err}");
                break;
            }
        }
    }
    conn.closed.send_replace(/*value*/ true);
    if let Some((session, generation)) = lock(&conn.attached).take() {
        // Approvals this connection was asked are denied; later ones wait for none.
        session.approvals.detach(generation);
        conn.sessions.detach(&session, generation);
    }
    let _ = conn.out.send(WriterMsg::Close(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }));
    // A peer that stopped reading would keep the writer (and what it still holds) forever.
    if tokio::time::timeout(client_timeout, &mut writer.0)
        .await
        .is_err()
    {
        warn!(
            "the client took no answer for {client_timeout:?} after the connection ended; \
             dropping the connection and what was still queued for it"
        );
    }
}

/// A task aborted when this handle is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Connection {
    /// How this connection's output is framed (text until `initialize` asks otherwise).
    pub(super) fn output_framing(&self) -> OutputFraming {
        if self.binary_output.load(Ordering::Acquire) {
            OutputFraming::Binary
        } else {
            OutputFraming::Text
        }
    }

    /// `initialize`: attach this connection to a new session, or resume (and take over)
    /// an existing one. Refused on a connection that is already attached.
    pub(super) fn initialize(&self, params: Value) -> Result<InitializeResponse, RpcError> {
        let mut attached = lock(&self.attached);
        if attached.is_some() {
            return Err(RpcError {
                code: error_code::INVALID_REQUEST,
                message: "already initialized".to_string(),
                data: None,
            });
        }
        let params: InitializeParams = parse_params(params)?;
        let (session, generation) = match &params.resume_session_id {
            None => self.sessions.create(),
            Some(id) => self.sessions.resume(id).map_err(|err| err.to_rpc_error())?,
        };
        debug!(
            session_id = session.id,
            client_name = params.client_name,
            resumed = params.resume_session_id.is_some(),
            binary_output = params.binary_output,
            "initialize"
        );
        // Set before the events reach the writer and before any other request is read
        // (this runs on the reader loop), so every output message of the connection is
        // framed the same way.
        self.binary_output
            .store(params.binary_output, Ordering::Release);
        // Acknowledgements are for output notifications: a client without them
        // acknowledges by reading.
        let acknowledge_output = params.acknowledge_output && params.output_notifications;
        let events = if !params.output_notifications {
            session.processes.lifecycle_events()
        } else if acknowledge_output {
            session.processes.acknowledged_events()
        } else {
            session.processes.events()
        };
        let _ = self
            .out
            .send(WriterMsg::Events(events, self.output_framing()));
        let response = InitializeResponse {
            session_id: session.id.clone(),
            capabilities: Capabilities {
                exec: true,
                filesystem: true,
            },
            binary_output: params.binary_output,
            acknowledge_output,
        };
        *attached = Some((session, generation));
        Ok(response)
    }
}
