//! The connection task: it owns the WebSocket, sends requests (at most [`MAX_IN_FLIGHT`]
//! unanswered), routes responses by id and notifications to the tracker, pings the
//! server, and on a lost connection fails what cannot be repeated, reconnects with backoff
//! ([`reconnect`]), resumes the session and re-sends the rest.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::SinkExt;
use futures_util::StreamExt;
use serde_json::Value;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tracing::debug;
use tracing::warn;

use crate::error::ExecError;
use crate::protocol::JSONRPC_VERSION;
use crate::protocol::OutputNotification;
use crate::protocol::ProcessEvent;
use crate::protocol::RpcError;

use super::ClientConfig;
use super::Pending;
use super::ReplyError;
use super::TrackerMsg;
use super::Ws;
use super::handshake::open;

const INITIAL_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Requests one connection keeps unanswered at most; more wait in the client. Below the
/// server's `MAX_UNWRITTEN_RESPONSES` (1024), so the server never stops reading this
/// connection, and sending a request can never block on a server that is itself blocked
/// writing answers this client is not reading.
const MAX_IN_FLIGHT: usize = 512;

fn request_frame(id: u64, pending: &Pending) -> Message {
    Message::text(
        json!({
            "jsonrpc": JSONRPC_VERSION, "id": id, "method": pending.method, "params": pending.params,
        })
        .to_string(),
    )
}

/// Run the connection of a client until every handle of it is gone or its session is lost.
pub(super) async fn connection_task(
    config: ClientConfig,
    session_id: String,
    mut ws: Ws,
    mut requests: mpsc::UnboundedReceiver<Pending>,
    tracker: mpsc::UnboundedSender<TrackerMsg>,
) {
    let mut in_flight: HashMap<u64, Pending> = HashMap::new();
    let mut next_id: u64 = 1;
    // Never zero (a zero-period interval panics).
    let ping_every = (config.server_timeout / 3).max(Duration::from_millis(10));
    loop {
        // Requests that were in flight when the previous connection was lost.
        let mut resend_failed = false;
        let mut ids: Vec<u64> = in_flight.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(pending) = in_flight.get(&id)
                && ws.send(request_frame(id, pending)).await.is_err()
            {
                resend_failed = true;
                break;
            }
        }
        if !resend_failed {
            let mut last_heard = tokio::time::Instant::now();
            let mut pings =
                tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(last_heard + config.server_timeout) => {
                        warn!(
                            "nothing heard from the exec-server for {:?}; reconnecting",
                            config.server_timeout
                        );
                        break;
                    }
                    _ = pings.tick() => {
                        if ws.send(Message::Ping(Default::default())).await.is_err() {
                            break;
                        }
                    }
                    pending = requests.recv(), if in_flight.len() < MAX_IN_FLIGHT => {
                        let Some(pending) = pending else {
                            // Every client handle is gone.
                            let _ = ws.close(None).await;
                            return;
                        };
                        let id = next_id;
                        next_id += 1;
                        let sent = ws.send(request_frame(id, &pending)).await;
                        in_flight.insert(id, pending);
                        if sent.is_err() {
                            break;
                        }
                    }
                    message = ws.next() => {
                        last_heard = tokio::time::Instant::now();
                        match message {
                            Some(Ok(Message::Text(text))) => {
                                handle_incoming(text.as_str(), &mut in_flight, &tracker);
                            }
                            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                            Some(Ok(_)) => {}
                        }
                    }
                }
            }
        }
        // The connection is gone: fail what cannot be repeated safely, then resume.
        let unrepeatable: Vec<u64> = in_flight
            .iter()
            .filter(|(_, pending)| !pending.retryable)
            .map(|(id, _)| *id)
            .collect();
        for pending in unrepeatable.iter().filter_map(|id| in_flight.remove(id)) {
            let _ = pending.reply.send(Err(ReplyError::Transport(format!(
                "connection lost during {}; its outcome is unknown",
                pending.method
            ))));
        }
        match reconnect(&config, &session_id).await {
            Ok(new_ws) => {
                ws = new_ws;
                let _ = tracker.send(TrackerMsg::Resumed);
            }
            Err(err) => {
                warn!("exec-server session {session_id} lost: {err}");
                for (_, pending) in in_flight.drain() {
                    let _ = pending
                        .reply
                        .send(Err(ReplyError::Transport(err.to_string())));
                }
                // Dropping `requests` and `tracker` ends the client: later requests fail
                // and the event stream ends.
                return;
            }
        }
    }
}

async fn reconnect(config: &ClientConfig, session_id: &str) -> Result<Ws, ExecError> {
    let deadline = tokio::time::Instant::now() + config.reconnect_timeout;
    let mut backoff = INITIAL_BACKOFF;
    loop {
        let attempt = tokio::time::timeout_at(deadline, open(config, Some(session_id)))
            .await
            .unwrap_or_else(|_| {
                Err(ExecError::Transport(format!(
                    "no connection to {} within {:?}",
                    config.url, config.reconnect_timeout
                )))
            });
        match attempt {
            Ok((ws, _)) => {
                debug!("resumed session {session_id}");
                return Ok(ws);
            }
            Err(err @ (ExecError::SessionExpired(_) | ExecError::UnknownSession(_))) => {
                return Err(err);
            }
            Err(err) => {
                if tokio::time::Instant::now() + backoff > deadline {
                    return Err(err);
                }
                debug!("reconnect failed, retrying in {backoff:?}: {err}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
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

fn handle_incoming(
    text: &str,
    in_flight: &mut HashMap<u64, Pending>,
    tracker: &mpsc::UnboundedSender<TrackerMsg>,
) {
    if text.starts_with(r#"{"jsonrpc":"2.0","method":"process/output","#)
        && let Ok(output) = serde_json::from_str::<OutputEnvelope<'_>>(text)
    {
        let _ = tracker.send(TrackerMsg::Event(ProcessEvent::Output(output.params)));
        return;
    }
    let envelope: Envelope<'_> = match serde_json::from_str(text) {
        Ok(envelope) => envelope,
        Err(err) => {
            warn!("ignoring a malformed frame from the server: {err}");
            return;
        }
    };
    if let Some(id) = envelope.id.as_ref().and_then(Value::as_u64) {
        let Some(pending) = in_flight.remove(&id) else {
            return;
        };
        let reply = match (envelope.error, envelope.result) {
            (Some(error), _) => Err(ReplyError::Rpc(error)),
            (None, Some(result)) => Ok(result.get().to_string()),
            (None, None) => Err(ReplyError::Transport("reply without result".to_string())),
        };
        let _ = pending.reply.send(reply);
        return;
    }
    let method_name = envelope.method.unwrap_or_default();
    let params = envelope.params.map_or("{}", |params| params.get());
    match ProcessEvent::from_notification(method_name, params) {
        Some(event) => {
            let _ = tracker.send(TrackerMsg::Event(event));
        }
        None => debug!("ignoring notification `{method_name}`"),
    }
}
