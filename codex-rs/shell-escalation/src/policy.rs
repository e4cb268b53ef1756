//! What decides each exec: [`EscalationPolicy`] (one per session, from an
//! [`EscalationPolicyFactory`]), and [`RulesPolicy`], the seam for the concrete policy
//! built on `codex-execpolicy`'s `.rules` (allow / prompt / forbidden).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;

use crate::protocol::ExecRequest;

/// A boxed future, as the object-safe async traits here return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What happens to one exec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EscalationDecision {
    /// The wrapper executes the program in place, still inside the sandbox.
    Run,
    /// The server runs the program outside the sandbox, on the wrapper's stdin, stdout
    /// and stderr, with the request's `cwd` and `env`, and passes its status back.
    Escalate,
    /// The program does not run; the wrapper prints `reason` and fails.
    Deny {
        /// Why, shown on the wrapper's stderr.
        reason: String,
    },
}

/// Decides each exec of one session. The server asks once per request, concurrently
/// for concurrent requests; a decision may take as long as it needs (asking a person),
/// and is dropped (cancelled) if the wrapper goes away meanwhile.
pub trait EscalationPolicy: Send + Sync {
    /// The decision for `request`.
    fn decide(&self, request: ExecRequest) -> BoxFuture<'_, EscalationDecision>;
}

/// Makes one [`EscalationPolicy`] per session, so that what a policy remembers (say,
/// commands approved for the session) stays within it.
pub trait EscalationPolicyFactory: Send + Sync {
    /// The policy of session `session_id` (called once per session).
    fn for_session(&self, session_id: &str) -> Arc<dyn EscalationPolicy>;
}

impl<F> EscalationPolicyFactory for F
where
    F: Fn(&str) -> Arc<dyn EscalationPolicy> + Send + Sync,
{
    fn for_session(&self, session_id: &str) -> Arc<dyn EscalationPolicy> {
        self(session_id)
    }
}

/// What a rule (a `codex-execpolicy` `.rules` file) says about a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleDecision {
    /// Allowed without asking.
    Allow,
    /// Allowed if someone approves it.
    Prompt {
        /// The rule's explanation, shown when asking.
        justification: Option<String>,
    },
    /// Never allowed.
    Forbidden {
        /// The rule's explanation, shown in the denial.
        justification: Option<String>,
    },
}

impl RuleDecision {
    /// Forbidden > prompt > allow.
    fn strictness(&self) -> u8 {
        match self {
            RuleDecision::Allow => 0,
            RuleDecision::Prompt { .. } => 1,
            RuleDecision::Forbidden { .. } => 2,
        }
    }
}

/// An approver's answer to a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Approval {
    /// Run it (outside the sandbox), this once.
    Approve,
    /// Run it, and every identical exec of this session without asking again.
    ApproveForSession,
    /// Do not run it.
    Deny,
}

/// Asks someone (the user, through the client) whether a command a rule marks
/// `prompt` may run outside the sandbox.
pub trait Approver: Send + Sync {
    /// The answer for `request`, with the rule's justification.
    fn approve<'a>(
        &'a self,
        request: &'a ExecRequest,
        justification: Option<&'a str>,
    ) -> BoxFuture<'a, Approval>;
}

/// What one `approveForSession` covers (see `RulesPolicy::session_key`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SessionKey {
    file: String,
    /// Device, inode, size, change time (seconds, nanoseconds); `None` if unreadable.
    identity: Option<crate::server::FileIdentity>,
    argv: Vec<String>,
    cwd: String,
}

/// The policy of one session on top of rules: `evaluate` is the rule engine (for
/// `codex-execpolicy`, a closure over its `Policy` that maps its decision to a
/// [`RuleDecision`], `None` when no rule matches), `approver` is asked for `prompt`.
///
/// | rules say | decision |
/// |---|---|
/// | allow | [`EscalationDecision::Run`] |
/// | prompt | ask `approver`: approve → [`EscalationDecision::Escalate`], deny → [`EscalationDecision::Deny`] |
/// | forbidden | [`EscalationDecision::Deny`] with the rule's justification |
/// | no rule matches | [`EscalationDecision::Run`] |
///
/// `evaluate` is called with the argv as the shell passed it and, when they differ,
/// with `argv[0]` replaced by the resolved program's path and by its file name; the
/// strictest decision that matches wins (forbidden > prompt > allow). So renaming
/// `argv[0]` (`exec -a git /tmp/tool …`) cannot dodge a rule about the program.
///
/// [`Approval::ApproveForSession`] is remembered by this instance — make one per
/// session ([`EscalationPolicyFactory`]) — keyed by the program file (unchanged since),
/// the whole argv and the cwd: the same exec later escalates without asking (a
/// `forbidden` rule still wins).
pub struct RulesPolicy<E, A> {
    evaluate: E,
    approver: A,
    approved_for_session: Mutex<HashSet<SessionKey>>,
}

impl<E, A> RulesPolicy<E, A>
where
    E: Fn(&[String]) -> Option<RuleDecision> + Send + Sync,
    A: Approver,
{
    /// A policy with nothing approved yet.
    pub fn new(evaluate: E, approver: A) -> Self {
        Self {
            evaluate,
            approver,
            approved_for_session: Mutex::new(HashSet::new()),
        }
    }

    /// What the rules say about `request` (see the type's documentation).
    pub fn rule_decision(&self, request: &ExecRequest) -> Option<RuleDecision> {
        let mut strictest: Option<RuleDecision> = None;
        for decision in argv_candidates(request)
            .iter()
            .filter_map(|candidate| (self.evaluate)(candidate))
        {
            let stricter = strictest
                .as_ref()
                .is_none_or(|seen| decision.strictness() > seen.strictness());
            if stricter {
                strictest = Some(decision);
            }
        }
        strictest
    }

    /// What an `approveForSession` covers: the same program file, unchanged since (its
    /// device, inode, size and change time: a write to it, even one that puts its
    /// modification time back, changes its change time), with the same arguments, in
    /// the same directory.
    fn session_key(request: &ExecRequest) -> SessionKey {
        let identity = crate::server::file_identity(&request.file);
        SessionKey {
            file: request.file.to_string_lossy().into_owned(),
            identity,
            argv: request.argv.clone(),
            cwd: request.cwd.to_string_lossy().into_owned(),
        }
    }

    fn approved(&self, key: &SessionKey) -> bool {
        self.approved_for_session
            .lock()
            .map(|approved| approved.contains(key))
            .unwrap_or(false)
    }

    fn remember(&self, key: SessionKey) {
        if let Ok(mut approved) = self.approved_for_session.lock() {
            approved.insert(key);
        }
    }
}

impl<E, A> EscalationPolicy for RulesPolicy<E, A>
where
    E: Fn(&[String]) -> Option<RuleDecision> + Send + Sync,
    A: Approver,
{
    fn decide(&self, request: ExecRequest) -> BoxFuture<'_, EscalationDecision> {
        Box::pin(async move {
            let justification = match self.rule_decision(&request) {
                None | Some(RuleDecision::Allow) => return EscalationDecision::Run,
                Some(RuleDecision::Forbidden { justification }) => {
                    let reason = justification.unwrap_or_else(|| {
                        format!("`{}` is forbidden by a rule", request.argv.join(" "))
                    });
                    return EscalationDecision::Deny { reason };
                }
                Some(RuleDecision::Prompt { justification }) => justification,
            };
            let key = Self::session_key(&request);
            if self.approved(&key) {
                return EscalationDecision::Escalate;
            }
            match self
                .approver
                .approve(&request, justification.as_deref())
                .await
            {
                Approval::Approve => EscalationDecision::Escalate,
                Approval::ApproveForSession => {
                    self.remember(key);
                    EscalationDecision::Escalate
                }
                Approval::Deny => EscalationDecision::Deny {
                    reason: format!("`{}` was not approved", request.argv.join(" ")),
                },
            }
        })
    }
}

/// The argv as given, then with `argv[0]` replaced by the program's path and by its
/// file name (each only when different from what came before).
fn argv_candidates(request: &ExecRequest) -> Vec<Vec<String>> {
    let mut candidates = vec![request.argv.clone()];
    let path = request.file.to_string_lossy().into_owned();
    let name = request
        .file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned());
    for replacement in [Some(path), name].into_iter().flatten() {
        let mut argv = request.argv.clone();
        match argv.first_mut() {
            Some(first) => *first = replacement,
            None => argv.push(replacement),
        }
        if !candidates.contains(&argv) {
            candidates.push(argv);
        }
    }
    candidates
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
