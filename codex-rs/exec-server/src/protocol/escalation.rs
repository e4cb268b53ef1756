//! Shell escalation on the wire: `process/start`'s `escalation` ([`EscalationParams`]),
//! and the server's request to the client, `approval/request` ([`ApprovalRequest`]),
//! answered with [`ApprovalResponse`].

use serde::Deserialize;
use serde::Serialize;

/// `process/start`'s `escalation`: run the command in the server's patched shell (its
/// `argv[0]` must be `bash` or `zsh`), whose every external command asks the server's
/// rules first: allowed ones run in the sandbox, `prompt` ones run outside it once the
/// client approves (`approval/request`), forbidden ones do not run. An object, empty for
/// now, so that it can grow; unknown fields are refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EscalationParams {}

/// What an approval is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ApprovalKind {
    /// Run one program outside the sandbox.
    Exec,
}

/// `approval/request` params (server → client request): may this program, which the
/// rules mark `prompt`, run outside the sandbox?
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApprovalRequest {
    /// Unique on this server, for the client's records and its user interface.
    pub approval_id: String,
    /// What is asked.
    pub kind: ApprovalKind,
    /// The process (of this session) whose shell wants to run it.
    pub process_id: String,
    /// The program that would run, as an absolute path (what the shell resolved
    /// `argv[0]` to; show it: `argv[0]` alone may name something else).
    pub program: String,
    /// Its arguments, `argv[0]` first.
    pub argv: Vec<String>,
    /// Where it would run.
    pub cwd: String,
    /// The justification of the rule that asks for approval, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// How long the server waits for the answer, in milliseconds; later, the command
    /// is denied whatever the answer (a client can take its question down then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// The client's answer to an `approval/request`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ApprovalDecision {
    /// Run it outside the sandbox, this once.
    Approve,
    /// Run it, and the same program with the same arguments again later in this session,
    /// without asking.
    ApproveForSession,
    /// Do not run it.
    Deny,
}

/// `approval/request` result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApprovalResponse {
    /// The decision.
    pub decision: ApprovalDecision,
}
