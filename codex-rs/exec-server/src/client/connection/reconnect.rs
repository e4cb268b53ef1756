//! After a connection broke: what fails at once ([`Connection::after_break`]: requests
//! that cannot be repeated, a reply too large for the client, requests and sessions past
//! their retry budget), and reconnecting to resume the session
//! ([`Connection::reconnect`]), during which requests fail fast with
//! [`ExecError::Disconnected`] once the server looks down rather than slow.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tracing::debug;
use tracing::warn;

use crate::error::ExecError;
use crate::error::SessionLoss;
use crate::protocol::method;

use super::super::ConnectionState;
use super::super::ReplyError;
use super::super::Ws;
use super::super::config::FAIL_FAST_AFTER;
use super::super::handshake::open;
use super::Break;
use super::Connection;

const INITIAL_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// A request is sent at most this often (re-sent three times) across broken connections;
/// then it fails with the cause of the last break.
pub(super) const MAX_SENDS: u32 = 4;
/// This many connections in a row (within the reconnect window) that broke before any
/// whole message arrived on them lose the session
/// ([`SessionLoss::RetryBudgetExhausted`]): a server that accepts and then fails every
/// connection must not be reconnected to forever. It is no larger than [`MAX_SENDS`], so
/// a request caught in such a storm fails with the session's loss.
pub(super) const MAX_FAILED_CONNECTIONS: usize = 4;

/// The methods whose replies can be large, most likely first: a message over the client's
/// limit is blamed on the in-flight requests of the first group that has any (the message
/// itself was not read, so its id is unknown).
const LARGE_REPLIES: [&[&str]; 3] = [
    &[method::FS_READ_FILE],
    &[method::PROCESS_READ],
    &[method::FS_READ_DIRECTORY],
];

/// Where reconnecting stands.
struct Down {
    lost_at: Instant,
    /// Failed attempts.
    attempts: u32,
    last_error: Option<String>,
    /// Requests fail with [`ExecError::Disconnected`] instead of waiting.
    failing_fast: bool,
}

impl Down {
    fn error(&self) -> ExecError {
        ExecError::Disconnected {
            attempts: self.attempts,
            last_error: self.last_error.clone().unwrap_or_default(),
        }
    }
}

impl Connection {
    /// Log the break and fail what cannot wait for the next connection. `Some` when the
    /// session's retry budget is spent.
    pub(super) fn after_break(&mut self, broke: &Break) -> Option<SessionLoss> {
        warn!(
            "exec-server connection of session {} lost: {}; resuming",
            self.session_id, broke.cause
        );
        self.purge_abandoned();
        let blamed = broke
            .too_large
            .is_some_and(|limit| self.fail_too_large(limit));
        let unrepeatable: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, request)| !request.retryable)
            .map(|(id, _)| *id)
            .collect();
        for request in unrepeatable
            .iter()
            .filter_map(|id| self.in_flight.remove(id))
        {
            let method = request.method.to_string();
            request.fail(ExecError::OutcomeUnknown { method });
        }
        if broke.productive {
            self.failures.clear();
        } else if !blamed {
            let now = Instant::now();
            self.failures.push_back(now);
            while self
                .failures
                .front()
                .is_some_and(|at| now.duration_since(*at) > self.config.reconnect_timeout)
            {
                self.failures.pop_front();
            }
            if self.failures.len() >= MAX_FAILED_CONNECTIONS {
                return Some(SessionLoss::RetryBudgetExhausted(format!(
                    "{} connections in a row failed before the server's first message; the \
                     last: {}",
                    self.failures.len(),
                    broke.cause
                )));
            }
        }
        let spent: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, request)| request.sends >= MAX_SENDS)
            .map(|(id, _)| *id)
            .collect();
        for request in spent.iter().filter_map(|id| self.in_flight.remove(id)) {
            let sends = request.sends;
            let method = request.method;
            request.fail(ExecError::Transport(format!(
                "`{method}` was sent {sends} times and each time the connection broke before \
                 its reply; the last time: {}",
                broke.cause
            )));
        }
        None
    }

    /// Fail the requests a message over `limit` most likely answered with
    /// [`ExecError::ReplyTooLarge`] (they are not re-sent: the reply would not fit again).
    /// `false` when no request could have had such a reply.
    fn fail_too_large(&mut self, limit: usize) -> bool {
        let Some(methods) = LARGE_REPLIES.iter().find(|methods| {
            self.in_flight
                .values()
                .any(|request| methods.contains(&request.method))
        }) else {
            warn!(
                "the exec-server sent a message over the client's limit of {limit} bytes \
                 (ClientConfig::max_message_bytes) that answers no request"
            );
            return false;
        };
        let blamed: Vec<u64> = self
            .in_flight
            .iter()
            .filter(|(_, request)| methods.contains(&request.method))
            .map(|(id, _)| *id)
            .collect();
        for request in blamed.iter().filter_map(|id| self.in_flight.remove(id)) {
            let method = request.method.to_string();
            warn!(
                "the exec-server's reply to `{method}` is over the client's limit of {limit} \
                 bytes (ClientConfig::max_message_bytes); failing the request"
            );
            request.fail(ExecError::ReplyTooLarge { method, limit });
        }
        true
    }

    /// Reconnect and resume the session, with backoff, until
    /// `ClientConfig::reconnect_timeout` after
    /// `lost_at`. Meanwhile the state says how it goes, and once an attempt failed and
    /// [`FAIL_FAST_AFTER`] passed, requests fail with [`ExecError::Disconnected`].
    pub(super) async fn reconnect(&mut self, lost_at: Instant) -> Result<Ws, SessionLoss> {
        let config = self.config.clone();
        let session_id = self.session_id.clone();
        let deadline = lost_at + config.reconnect_timeout;
        let mut down = Down {
            lost_at,
            attempts: 0,
            last_error: None,
            failing_fast: false,
        };
        self.state.send_replace(ConnectionState::Reconnecting {
            attempts: 0,
            last_error: None,
        });
        let mut backoff = INITIAL_BACKOFF;
        loop {
            let attempt = tokio::time::timeout_at(deadline, open(&config, Some(&session_id)));
            let result = self
                .while_down(attempt, &mut down)
                .await
                .ok_or(SessionLoss::Closed)?
                .unwrap_or_else(|_| {
                    Err(ExecError::Transport(format!(
                        "no connection to {} within {:?}",
                        config.url, config.reconnect_timeout
                    )))
                });
            let err = match result {
                Ok((ws, init)) if init.session_id == session_id => return Ok(ws),
                // Not our session: not the server (or the server instance) we knew.
                Ok(_) => return Err(SessionLoss::ServerRestarted),
                Err(ExecError::SessionExpired(_)) => return Err(SessionLoss::Expired),
                Err(ExecError::UnknownSession(_)) => return Err(SessionLoss::ServerRestarted),
                Err(ExecError::SessionTakenOver) => return Err(SessionLoss::TakenOver),
                Err(err) => err.to_string(),
            };
            down.attempts += 1;
            debug!(
                "reconnect attempt {} to {} failed: {err}",
                down.attempts, config.url
            );
            down.last_error = Some(err.clone());
            self.state.send_replace(ConnectionState::Reconnecting {
                attempts: down.attempts,
                last_error: Some(err.clone()),
            });
            if Instant::now() + backoff >= deadline {
                return Err(SessionLoss::Unreachable {
                    attempts: down.attempts,
                    elapsed: lost_at.elapsed(),
                    last_error: err,
                });
            }
            self.while_down(tokio::time::sleep(backoff), &mut down)
                .await
                .ok_or(SessionLoss::Closed)?;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Wait for `future` while the connection is down: once an attempt failed and
    /// [`FAIL_FAST_AFTER`] passed since the loss, fail the requests in flight and every new
    /// one with [`ExecError::Disconnected`]. `None` when every client handle is gone.
    async fn while_down<F: Future>(&mut self, future: F, down: &mut Down) -> Option<F::Output> {
        tokio::pin!(future);
        loop {
            let fail_fast_due = !down.failing_fast && down.attempts > 0;
            tokio::select! {
                output = &mut future => return Some(output),
                () = tokio::time::sleep_until(down.lost_at + FAIL_FAST_AFTER),
                    if fail_fast_due =>
                {
                    down.failing_fast = true;
                    debug!(
                        "the exec-server looks down; failing requests until it is back: {}",
                        down.last_error.as_deref().unwrap_or_default()
                    );
                    for (_, request) in self.in_flight.drain() {
                        request.fail(down.error());
                    }
                }
                pending = self.requests.recv(), if down.failing_fast => {
                    let pending = pending?;
                    let _ = pending.reply.send(Err(ReplyError::Client(down.error())));
                }
            }
        }
    }
}
