//! Run one command under bubblewrap and a seccomp network filter, as a
//! [`codex_protocol::SandboxPolicy`] says.
//!
//! Why a separate crate and binary: the sandbox must be applied between `fork` and the
//! command's `exec`, to a process that then keeps it for life, and it must not depend on
//! the server that asks for it (the server uses the sandbox, never the reverse). A small
//! executable that sets everything up and then `exec`s the command is the simplest
//! thing that has those properties; the exec-server reaches it either as the
//! `codex-linux-sandbox` binary or through its own executable started with `argv[0]`
//! `codex-linux-sandbox` ([`arg0_dispatch`]).
//!
//! What is enforced and how:
//!
//! - **filesystem** — bubblewrap mounts: readable roots read-only, writable roots
//!   read-write, `.git` / `.codex` / `.agents` / gitdir targets inside writable roots
//!   read-only again (and impossible to create when absent) — [`build_bwrap_argv`];
//! - **network off** — a private network namespace (`--unshare-net`) plus a seccomp
//!   filter refusing every non-`AF_UNIX` socket — [`install_network_seccomp_filter`];
//! - **processes** — a PID namespace, a new session, no new privileges, and death with
//!   the parent.
//!
//! The policy's meaning (which roots, which protected paths) comes from
//! `codex-protocol`; this crate only turns it into mounts and filters.
#![deny(missing_docs)]

mod bwrap_argv;
mod cli;
mod error;
mod launcher;
mod seccomp;

pub use bwrap_argv::BwrapArgv;
pub use bwrap_argv::BwrapOptions;
pub use bwrap_argv::ProcMount;
pub use bwrap_argv::SandboxPlan;
pub use bwrap_argv::build_bwrap_argv;
pub use cli::CODEX_LINUX_SANDBOX_ARG0;
pub use cli::arg0_dispatch;
pub use cli::run_main;
pub use error::LinuxSandboxError;
pub use launcher::BwrapOutcome;
pub use launcher::SetupFailure;
pub use launcher::classify_bwrap_run;
pub use launcher::find_bwrap;
pub use seccomp::install_network_seccomp_filter;
pub use seccomp::set_no_new_privs;
