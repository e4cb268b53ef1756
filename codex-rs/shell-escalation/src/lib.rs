//! The escalation protocol between a sandboxed shell and its host.
//!
//! A patched shell (see `tools/shells`) runs every external command as
//! `$EXEC_WRAPPER <resolved path> <argv...>`, where `EXEC_WRAPPER` is
//! `codex-execve-wrapper` (this crate's binary). The wrapper asks the host, over a
//! socket the sandboxed shell inherited ([`protocol::ESCALATE_SOCKET_ENV_VAR`]), what to
//! do with the exec, and the session's [`EscalationPolicy`] answers:
//!
//! - [`EscalationDecision::Run`]: the wrapper executes the program in place, inside the
//!   sandbox;
//! - [`EscalationDecision::Escalate`]: the [`EscalationServer`] runs it outside the
//!   sandbox on the wrapper's stdin, stdout and stderr, and the wrapper exits with its
//!   status;
//! - [`EscalationDecision::Deny`]: the wrapper prints the reason and exits 126.
//!
//! A wrapper that cannot reach a server (the variable is unset, names no socket, or the
//! server is gone) refuses too: it never runs a program unchecked.
//!
//! - [`protocol`]: the wire format and its limits;
//! - [`EscalationServer`] / [`ShellSide`]: the host side, and what the shell's spawn
//!   needs (the descriptor to inherit, the environment);
//! - [`EscalationPolicy`] / [`EscalationPolicyFactory`]: the decision, one policy per
//!   session; [`RulesPolicy`] + [`Approver`] is the seam for the policy built on
//!   `codex-execpolicy` rules;
//! - [`client`]: the wrapper's synchronous side, usable by any other client.
#![deny(missing_docs)]

pub mod client;
mod policy;
pub mod protocol;
mod server;
mod sys;
#[doc(hidden)]
pub mod wrapper;

pub use policy::Approval;
pub use policy::Approver;
pub use policy::BoxFuture;
pub use policy::EscalationDecision;
pub use policy::EscalationPolicy;
pub use policy::EscalationPolicyFactory;
pub use policy::RuleDecision;
pub use policy::RulesPolicy;
pub use protocol::ExecRequest;
pub use server::EscalatedEnv;
pub use server::EscalationError;
pub use server::EscalationServer;
pub use server::Limits;
pub use server::ServerOptions;
pub use server::ShellSide;
pub use sys::clear_cloexec;
