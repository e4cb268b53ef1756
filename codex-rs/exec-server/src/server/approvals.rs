//! The server's requests to its client: `approval/request` ([`Approvals`], one per
//! session), and the client's responses to them ([`Connection::route_response`]).
//!
//! An approval goes to the connection attached to the session when it is asked, with a
//! JSON-RPC id of the session's own (a number from 1). Everything but a well-formed
//! answer of that connection within the timeout is a denial: no attached connection,
//! the connection closing (or the session being taken over) before the answer, an error
//! response, a result that is not `{decision}`, or no answer at all. A response that
//! matches no pending approval (unknown or repeated id, another connection's) is
//! ignored, with a debug log: anything a client sends must leave the server as it was.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tracing::debug;

use crate::escalation::AskClient;
use crate::exec_process::BoxFuture;
use crate::protocol::ApprovalDecision;
use crate::protocol::ApprovalRequest;
use crate::protocol::ApprovalResponse;
use crate::protocol::JSONRPC_VERSION;
use crate::protocol::method;

use super::connection::Connection;
use super::lock;
use super::writer::WriterMsg;

/// The approvals of one session: where to ask, and what is waiting for an answer.
pub(super) struct Approvals {
    timeout: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The attached connection, if any.
    link: Option<Link>,
    /// The id of the next request (ids start at 1).
    next_id: u64,
    pending: HashMap<u64, Pending>,
}

/// The connection an approval goes to.
struct Link {
    /// Its attachment's generation (see `Session::generation`).
    generation: u64,
    out: mpsc::UnboundedSender<WriterMsg>,
}

struct Pending {
    generation: u64,
    reply: oneshot::Sender<ApprovalDecision>,
}

/// How a client answered.
enum Answer {
    Result(Value),
    Error(Value),
}

impl Approvals {
    /// No connection yet; answers wait at most `timeout`.
    pub(super) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            state: Mutex::new(State {
                next_id: 1,
                ..State::default()
            }),
        }
    }

    /// The connection of attachment `generation` is the session's now: later approvals
    /// go to it; those sent to an earlier one are denied.
    pub(super) fn attach(&self, generation: u64, out: mpsc::UnboundedSender<WriterMsg>) {
        let mut state = lock(&self.state);
        // Two resumes can attach in the other order than they took the session: the
        // later attachment keeps it.
        if state
            .link
            .as_ref()
            .is_some_and(|link| link.generation > generation)
        {
            return;
        }
        state
            .pending
            .retain(|_, pending| pending.generation == generation);
        state.link = Some(Link { generation, out });
    }

    /// The connection of attachment `generation` is gone: its pending approvals are
    /// denied, and later ones too until a connection attaches.
    pub(super) fn detach(&self, generation: u64) {
        let mut state = lock(&self.state);
        if state
            .link
            .as_ref()
            .is_some_and(|link| link.generation == generation)
        {
            state.link = None;
        }
        state
            .pending
            .retain(|_, pending| pending.generation != generation);
    }

    /// Whether approvals are waiting for an answer (for tests).
    #[cfg(test)]
    pub(super) fn pending(&self) -> usize {
        lock(&self.state).pending.len()
    }

    /// Route a client's response (of attachment `generation`) to its approval.
    fn answer(&self, generation: u64, id: &Value, answer: Answer) {
        let Some(number) = id.as_u64() else {
            debug!("ignoring a response with id {id}: no approval has that id");
            return;
        };
        let pending = {
            let mut state = lock(&self.state);
            match state.pending.get(&number) {
                Some(pending) if pending.generation == generation => state.pending.remove(&number),
                Some(_) | None => None,
            }
        };
        let Some(pending) = pending else {
            debug!("ignoring a response with id {id}: no approval of this connection waits for it");
            return;
        };
        let decision = match answer {
            Answer::Result(result) => match serde_json::from_value::<ApprovalResponse>(result) {
                Ok(response) => response.decision,
                Err(err) => {
                    debug!(
                        "approval {number}: the client's answer is not `{{decision}}` ({err}); denied"
                    );
                    ApprovalDecision::Deny
                }
            },
            Answer::Error(error) => {
                debug!("approval {number}: the client answered with an error ({error}); denied");
                ApprovalDecision::Deny
            }
        };
        let _ = pending.reply.send(decision);
    }
}

/// Forgets a pending approval whose asker stopped waiting (timeout, cancellation).
struct Forget<'a> {
    approvals: &'a Approvals,
    id: u64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        lock(&self.approvals.state).pending.remove(&self.id);
    }
}

/// Approvals of one session waiting for an answer at most; more are denied at once (a
/// shell in the sandbox can ask as often as it likes, and each question is held, with
/// its arguments, until answered or timed out).
pub(super) const MAX_PENDING_APPROVALS: usize = 32;

impl AskClient for Approvals {
    fn ask(self: Arc<Self>, mut request: ApprovalRequest) -> BoxFuture<'static, ApprovalDecision> {
        request.timeout_ms = Some(u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX));
        Box::pin(async move {
            let (reply, answered) = oneshot::channel();
            let id = {
                let mut state = lock(&self.state);
                if state.pending.len() >= MAX_PENDING_APPROVALS {
                    debug!(
                        process_id = request.process_id,
                        "{MAX_PENDING_APPROVALS} approvals already wait for an answer; denied"
                    );
                    return ApprovalDecision::Deny;
                }
                let Some(link) = &state.link else {
                    debug!(
                        process_id = request.process_id,
                        "no client is attached to ask for approval; denied"
                    );
                    return ApprovalDecision::Deny;
                };
                let generation = link.generation;
                let id = state.next_id;
                let text = json!({
                    "jsonrpc": JSONRPC_VERSION,
                    "id": id,
                    "method": method::APPROVAL_REQUEST,
                    "params": request,
                })
                .to_string();
                if link.out.send(WriterMsg::ServerRequest(text)).is_err() {
                    return ApprovalDecision::Deny;
                }
                state.next_id += 1;
                state.pending.insert(id, Pending { generation, reply });
                id
            };
            let _forget = Forget {
                approvals: &self,
                id,
            };
            match tokio::time::timeout(self.timeout, answered).await {
                Ok(Ok(decision)) => decision,
                Ok(Err(_)) => {
                    debug!("approval {id}: the client went away before answering; denied");
                    ApprovalDecision::Deny
                }
                Err(_) => {
                    debug!("approval {id}: no answer within {:?}; denied", self.timeout);
                    ApprovalDecision::Deny
                }
            }
        })
    }
}

/// Whether `value` is a response (to a request of the server): an object with `result`
/// or `error` and no `method`. Such a frame is never answered.
pub(super) fn is_response(value: &Value) -> bool {
    value.as_object().is_some_and(|object| {
        !object.contains_key("method")
            && (object.contains_key("result") || object.contains_key("error"))
    })
}

impl Connection {
    /// Route a client's response (see [`is_response`]) to the approval it answers, if it
    /// answers one of this connection's; otherwise ignore it.
    pub(super) fn route_response(&self, value: Value) {
        let Value::Object(mut object) = value else {
            return;
        };
        let Some((session, generation)) = lock(&self.attached).clone() else {
            debug!("ignoring a response on a connection without a session");
            return;
        };
        let id = object.remove("id").unwrap_or(Value::Null);
        let answer = match (object.remove("result"), object.remove("error")) {
            (Some(result), None) => Answer::Result(result),
            (None, Some(error)) => Answer::Error(error),
            // Both: not a valid response; it denies whatever it answers.
            (Some(_), Some(error)) => Answer::Error(error),
            (None, None) => return,
        };
        session.approvals.answer(generation, &id, answer);
    }

    /// After `initialize` was answered: the session's approvals go to this connection
    /// (after the answer, so a client sees its session before any request of it).
    pub(super) fn attach_approvals(&self) {
        if let Some((session, generation)) = lock(&self.attached).clone() {
            session.approvals.attach(generation, self.out.clone());
        }
    }
}

#[cfg(test)]
#[path = "approvals_tests.rs"]
mod tests;
