//! The session registry: sessions are created by `initialize`, detached when their
//! connection ends, resumed (and taken over) by a later `initialize {resumeSessionId}`
//! within their TTL, and expired after it, which kills their processes. Expired sessions
//! leave a tombstone, so a late resume says "expired", not "unknown".

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use std::time::Instant;

use codex_file_system::LocalFileSystem;
use tokio::sync::watch;
use tracing::debug;
use tracing::info;

use crate::error::ExecError;
use crate::local_process::LocalProcess;

use super::ServerConfig;
use super::approvals::Approvals;
use super::lock;

/// Tombstones of expired sessions (so a late resume says "expired", not "unknown").
const EXPIRED_TOMBSTONES: usize = 10_000;
const EXPIRED_TOMBSTONE_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// Every session of a server, with the server's configuration.
pub(super) struct Sessions {
    pub(super) config: ServerConfig,
    file_system: LocalFileSystem,
    /// What every session granted (see [`codex_sandboxing::RootPins`]): shared by all, so
    /// a link planted under one session's policy is judged in the next session too.
    root_pins: Arc<codex_sandboxing::RootPins>,
    map: Mutex<HashMap<String, Arc<Session>>>,
    expired: Mutex<HashMap<String, Instant>>,
}

/// One session: its processes and filesystem, and which connection is attached to it.
pub(super) struct Session {
    pub(super) id: String,
    pub(super) processes: LocalProcess,
    /// The server's filesystem with this session's root pins (shared with `processes`).
    pub(super) file_system: LocalFileSystem,
    /// Which sandbox policies the server accepts (the server's [`crate::PolicyGate`]).
    pub(super) policy_gate: crate::PolicyGate,
    /// The server's `approval/request`s to the attached connection (shell escalation).
    pub(super) approvals: Arc<Approvals>,
    attachment: Mutex<Attachment>,
    /// Current attachment generation; a change wakes (and fails) the previous attachment's
    /// long-polls.
    pub(super) generation: watch::Sender<u64>,
}

struct Attachment {
    generation: u64,
    attached: bool,
    detached_at: Option<Instant>,
}

impl Sessions {
    /// An empty registry.
    pub(super) fn new(config: ServerConfig) -> Self {
        Self {
            file_system: LocalFileSystem::new(config.file_system.clone()),
            root_pins: Arc::default(),
            config,
            map: Mutex::new(HashMap::new()),
            expired: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn create(&self) -> (Arc<Session>, u64) {
        let id = uuid::Uuid::new_v4().to_string();
        let (generation, _) = watch::channel(1);
        let processes =
            LocalProcess::with_root_pins(self.config.process.clone(), Arc::clone(&self.root_pins));
        let approvals = Arc::new(Approvals::new(self.config.escalation.approval_timeout));
        let client: Arc<dyn crate::escalation::AskClient> = approvals.clone();
        processes.set_escalation(crate::escalation::SessionEscalation::new(
            &self.config.escalation,
            &id,
            Some(client),
        ));
        let session = Arc::new(Session {
            id: id.clone(),
            file_system: self.file_system.with_root_pins(processes.root_pins()),
            processes,
            policy_gate: self.config.policy_gate.clone(),
            approvals,
            attachment: Mutex::new(Attachment {
                generation: 1,
                attached: true,
                detached_at: None,
            }),
            generation,
        });
        lock(&self.map).insert(id, Arc::clone(&session));
        (session, 1)
    }

    pub(super) fn resume(&self, id: &str) -> Result<(Arc<Session>, u64), ExecError> {
        let mut map = lock(&self.map);
        let Some(session) = map.get(id).cloned() else {
            return Err(if lock(&self.expired).contains_key(id) {
                ExecError::SessionExpired(id.to_string())
            } else {
                ExecError::UnknownSession(id.to_string())
            });
        };
        let mut attachment = lock(&session.attachment);
        let expired = !attachment.attached
            && attachment
                .detached_at
                .is_some_and(|at| at.elapsed() >= self.config.session_ttl);
        if expired {
            drop(attachment);
            map.remove(id);
            drop(map);
            self.expire(&session);
            return Err(ExecError::SessionExpired(id.to_string()));
        }
        attachment.generation += 1;
        attachment.attached = true;
        attachment.detached_at = None;
        let generation = attachment.generation;
        session.generation.send_replace(generation);
        Ok((Arc::clone(&session), generation))
    }

    pub(super) fn detach(self: &Arc<Self>, session: &Arc<Session>, generation: u64) {
        {
            let mut attachment = lock(&session.attachment);
            if attachment.generation != generation {
                return;
            }
            attachment.attached = false;
            attachment.detached_at = Some(Instant::now());
        }
        debug!(session_id = session.id, "session detached");
        let sessions = Arc::clone(self);
        let id = session.id.clone();
        let ttl = self.config.session_ttl;
        tokio::spawn(async move {
            let mut wait = ttl;
            loop {
                tokio::time::sleep(wait).await;
                match sessions.expire_if_detached(&id, generation) {
                    Some(remaining) => wait = remaining,
                    None => return,
                }
            }
        });
    }

    /// Expire the session if it is still detached from `generation` and its TTL passed.
    /// Returns the time left when it is detached but not yet due (timer woke early).
    fn expire_if_detached(&self, id: &str, generation: u64) -> Option<Duration> {
        let mut map = lock(&self.map);
        let session = map.get(id).cloned()?;
        {
            let attachment = lock(&session.attachment);
            if attachment.attached || attachment.generation != generation {
                return None;
            }
            let elapsed = attachment.detached_at?.elapsed();
            if elapsed < self.config.session_ttl {
                return Some(self.config.session_ttl - elapsed);
            }
        }
        map.remove(id);
        drop(map);
        self.expire(&session);
        None
    }

    fn expire(&self, session: &Session) {
        info!(
            session_id = session.id,
            "session expired; killing its processes"
        );
        session.processes.kill_all();
        let mut expired = lock(&self.expired);
        expired.retain(|_, at| at.elapsed() < EXPIRED_TOMBSTONE_AGE);
        if expired.len() >= EXPIRED_TOMBSTONES
            && let Some(oldest) = expired
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(id, _)| id.clone())
        {
            expired.remove(&oldest);
        }
        expired.insert(session.id.clone(), Instant::now());
    }

    pub(super) fn kill_all(&self) {
        let sessions: Vec<_> = lock(&self.map).values().cloned().collect();
        for session in sessions {
            session.processes.kill_all();
        }
    }
}

#[cfg(test)]
#[path = "sessions_tests.rs"]
mod tests;
