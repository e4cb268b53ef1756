//! Turning a sandbox policy into a sandboxed command.
//!
//! The policy ([`codex_protocol::SandboxPolicy`]) says what a command may read, write
//! and reach; this crate decides *how* that is enforced on the machine the command
//! runs on, and fails closed when it cannot be:
//!
//! - [`sandbox_type`] / [`sandbox_type_for_platform`]: which backend confines the
//!   command — none, macOS Seatbelt, or Linux bubblewrap (built by the separate
//!   `codex-linux-sandbox` crate, which this crate does not depend on, nor it on us) —
//!   or [`SandboxingError::UnsupportedPlatform`] where no backend exists.
//! - [`seatbelt_policy`]: the Seatbelt profile (`.sbpl` text plus path parameters)
//!   for a policy, and [`sandbox_exec_argv`]: the `sandbox-exec` argv that applies it.
//!
//! - [`bind_policy`]: the policy bound to the host that enforces it — every root
//!   resolved once from `/`, refused when a sandboxed command could have redirected it
//!   with a symlink, or when a writable root lies inside a protected path. Both the
//!   Linux sandbox and the exec-server's `fs/*` checks start from it.
//!
//! Profile generation is pure string building with no `cfg(target_os)`, so it builds
//! and is tested (against golden files) on every platform; nothing here executes
//! `sandbox-exec`.
#![deny(missing_docs)]

mod bind;
mod error;
mod platform;
mod seatbelt;

pub use bind::RootPins;
pub use bind::bind_policy;
pub use error::PathProblem;
pub use error::SandboxingError;
pub use platform::Platform;
pub use platform::SandboxType;
pub use platform::sandbox_type;
pub use platform::sandbox_type_for_platform;
pub use seatbelt::NoSandboxReason;
pub use seatbelt::SeatbeltDecision;
pub use seatbelt::SeatbeltPolicy;
pub use seatbelt::sandbox_exec_argv;
pub use seatbelt::seatbelt_policy;
pub use seatbelt::seatbelt_policy_with_gitdir_reader;
