//! The writer of a connection: the one task that writes to the WebSocket. It sends the
//! responses queued by the reader and handlers ([`WriterMsg`]), the session's process
//! notifications from its bounded event queue, and a ping every third of the client
//! timeout; it counts each written response off the connection's [`Backlog`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::SinkExt;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tracing::debug;
use tracing::warn;

use crate::exec_process::ProcessEvents;
use crate::protocol::ProcessEvent;

use super::Transport;
use super::connection::Backlog;
use super::liveness::Liveness;
use super::liveness::Tracked;

/// How a connection's output (`process/output` notifications and `process/read`
/// replies) is framed: chosen by the client at `initialize` (`binaryOutput`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum OutputFraming {
    /// JSON text frames, bytes in base64 (the default).
    Text,
    /// Binary frames (see [`crate::protocol::decode_binary_frame`]).
    Binary,
}

/// One message for the WebSocket: JSON text, or a binary output frame.
pub(super) enum Payload {
    Text(String),
    Binary(Vec<u8>),
}

impl Payload {
    fn into_message(self) -> Message {
        match self {
            Payload::Text(text) => Message::text(text),
            Payload::Binary(data) => Message::binary(data),
        }
    }
}

/// The notification of `event` in `framing`, or `None` for client-side-only events.
fn notification(event: &ProcessEvent, framing: OutputFraming) -> Option<Payload> {
    match (event, framing) {
        (ProcessEvent::Output(output), OutputFraming::Binary) => match output.to_binary_frame() {
            Ok(frame) => Some(Payload::Binary(frame)),
            Err(err) => {
                warn!("writing a binary process/output frame: {err}");
                None
            }
        },
        _ => event.to_notification_text().map(Payload::Text),
    }
}

/// What the writer of a connection is asked to send.
pub(super) enum WriterMsg {
    /// The response to one admitted frame (counted off the backlog once written).
    Response(Payload),
    /// A process notification from the session's event queue.
    Notification(Payload),
    /// A request of the server to the client (`approval/request`): like a notification,
    /// it answers no frame of the client, so it is not counted off the backlog.
    ServerRequest(String),
    /// The session's event queue, and how its output is framed on this connection.
    Events(ProcessEvents, OutputFraming),
    Close(CloseFrame),
}

async fn next_event(events: &mut Option<ProcessEvents>) -> Option<ProcessEvent> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

pub(super) async fn write_loop<S: Transport>(
    sink: futures_util::stream::SplitSink<WebSocketStream<Tracked<S>>, Message>,
    rx: mpsc::UnboundedReceiver<WriterMsg>,
    backlog: Arc<Backlog>,
    liveness: Arc<Liveness>,
    ping_every: Duration,
) {
    write_messages(sink, rx, &backlog, &liveness, ping_every).await;
    backlog.writer_stopped();
}

/// Sends an answer or notification; its byte progress counts as the client's sign of life
/// (see [`Liveness`]).
async fn send_payload<S: Transport>(
    sink: &mut futures_util::stream::SplitSink<WebSocketStream<Tracked<S>>, Message>,
    payload: Payload,
    liveness: &Liveness,
) -> Result<(), tungstenite::Error> {
    liveness
        .writing_payload
        .store(/*val*/ true, Ordering::Relaxed);
    let sent = sink.send(payload.into_message()).await;
    liveness
        .writing_payload
        .store(/*val*/ false, Ordering::Relaxed);
    sent
}

async fn write_messages<S: Transport>(
    mut sink: futures_util::stream::SplitSink<WebSocketStream<Tracked<S>>, Message>,
    mut rx: mpsc::UnboundedReceiver<WriterMsg>,
    backlog: &Backlog,
    liveness: &Liveness,
    ping_every: Duration,
) {
    let mut events: Option<ProcessEvents> = None;
    let mut framing = OutputFraming::Text;
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let msg = tokio::select! {
            biased;
            // First, so that a busy stream of answers and notifications cannot starve it.
            _ = pings.tick() => {
                // A live client answers with a pong, which the reader counts as heard.
                if let Err(err) = sink.send(Message::Ping(Default::default())).await {
                    debug!("websocket ping failed: {err}");
                    break;
                }
                continue;
            }
            msg = rx.recv() => match msg {
                Some(msg) => msg,
                None => break,
            },
            event = next_event(&mut events) => match event {
                Some(event) => match notification(&event, framing) {
                    Some(notification) => WriterMsg::Notification(notification),
                    None => continue,
                },
                None => {
                    events = None;
                    continue;
                }
            },
        };
        match msg {
            WriterMsg::Response(payload) => {
                let sent = send_payload(&mut sink, payload, liveness).await;
                backlog.done();
                if let Err(err) = sent {
                    debug!("websocket write failed: {err}");
                    break;
                }
            }
            WriterMsg::Notification(payload) => {
                if let Err(err) = send_payload(&mut sink, payload, liveness).await {
                    debug!("websocket write failed: {err}");
                    break;
                }
            }
            WriterMsg::ServerRequest(text) => {
                if let Err(err) = send_payload(&mut sink, Payload::Text(text), liveness).await {
                    debug!("websocket write failed: {err}");
                    break;
                }
            }
            WriterMsg::Events(new_events, new_framing) => {
                events = Some(new_events);
                framing = new_framing;
            }
            WriterMsg::Close(frame) => {
                let _ = sink.send(Message::Close(Some(frame))).await;
                break;
            }
        }
    }
    let _ = sink.close().await;
}
