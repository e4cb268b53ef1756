//! Requests of the server to the client (messages with both `id` and `method`):
//! `approval/request` is answered with the client's [`ApprovalHandler`] (on a task of
//! its own, at most [`MAX_CONCURRENT_APPROVALS`] at once), or denied; anything else gets
//! a JSON-RPC error. The answers go out through the connection task
//! ([`ServerRequests::next_answer`]), on whichever connection is up when they are ready:
//! an answer for a connection that broke meanwhile reaches a server that already denied
//! it, and ignores it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::sync::mpsc;
use tracing::debug;

use crate::protocol::ApprovalDecision;
use crate::protocol::ApprovalRequest;
use crate::protocol::ApprovalResponse;
use crate::protocol::JSONRPC_VERSION;
use crate::protocol::RpcError;
use crate::protocol::error_code;
use crate::protocol::method;

use super::ApprovalHandler;

/// Approval handlers running at once; further requests are denied until one returns (a
/// server cannot make the client start unbounded work).
pub(super) const MAX_CONCURRENT_APPROVALS: usize = 64;

/// The longest an approval handler runs: the server's `timeoutMs` when it sends one, and
/// never more than this.
const MAX_HANDLER_TIME: Duration = Duration::from_secs(600);

/// The server's requests to this client and the answers on their way back.
pub(super) struct ServerRequests {
    handler: Option<ApprovalHandler>,
    permits: Arc<Semaphore>,
    answers_tx: mpsc::UnboundedSender<String>,
    answers: mpsc::UnboundedReceiver<String>,
}

impl ServerRequests {
    /// Requests answered with `handler` (without one, every approval is denied).
    pub(super) fn new(handler: Option<ApprovalHandler>) -> Self {
        let (answers_tx, answers) = mpsc::unbounded_channel();
        Self {
            handler,
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT_APPROVALS)),
            answers_tx,
            answers,
        }
    }

    /// The next answer to send.
    pub(super) async fn next_answer(&mut self) -> Option<String> {
        self.answers.recv().await
    }

    /// Answer the server's request `id` (`method`, `params`): now, or once the handler
    /// decided.
    pub(super) fn handle(&self, id: Value, method_name: &str, params: Option<&str>) {
        if method_name != method::APPROVAL_REQUEST {
            debug!("the server sent an unknown request `{method_name}`");
            return self.send_error(
                id,
                RpcError {
                    code: error_code::METHOD_NOT_FOUND,
                    message: format!("unknown method `{method_name}`"),
                    data: None,
                },
            );
        }
        let request = match serde_json::from_str::<ApprovalRequest>(params.unwrap_or("{}")) {
            Ok(request) => request,
            Err(err) => {
                debug!("the server sent a malformed approval request: {err}");
                return self.send_error(
                    id,
                    RpcError {
                        code: error_code::INVALID_PARAMS,
                        message: format!("invalid params: {err}"),
                        data: None,
                    },
                );
            }
        };
        let Some(handler) = self.handler.clone() else {
            debug!(
                process_id = request.process_id,
                "no approval handler: denied"
            );
            return self.send_decision(id, ApprovalDecision::Deny);
        };
        let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
            debug!("{MAX_CONCURRENT_APPROVALS} approvals are already being decided: denied");
            return self.send_decision(id, ApprovalDecision::Deny);
        };
        let answers = self.answers_tx.clone();
        // Past the server's timeout the answer no longer counts: the handler's slot is
        // freed then (its question denied), whatever the handler does.
        let limit = request
            .timeout_ms
            .map_or(MAX_HANDLER_TIME, Duration::from_millis)
            .min(MAX_HANDLER_TIME);
        tokio::spawn(async move {
            let decision = tokio::time::timeout(limit, handler(request))
                .await
                .unwrap_or(ApprovalDecision::Deny);
            drop(permit);
            let _ = answers.send(decision_text(&id, decision));
        });
    }

    fn send_decision(&self, id: Value, decision: ApprovalDecision) {
        let _ = self.answers_tx.send(decision_text(&id, decision));
    }

    fn send_error(&self, id: Value, error: RpcError) {
        let text = json!({"jsonrpc": JSONRPC_VERSION, "id": id, "error": error}).to_string();
        let _ = self.answers_tx.send(text);
    }
}

/// The response carrying `decision` for request `id`.
fn decision_text(id: &Value, decision: ApprovalDecision) -> String {
    json!({
        "jsonrpc": JSONRPC_VERSION,
        "id": id,
        "result": ApprovalResponse { decision },
    })
    .to_string()
}
