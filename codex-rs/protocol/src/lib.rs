//! Plain data shared across the codex crates, starting with the sandbox policy.
//!
//! The policy is the one thing every layer must read the same way: the client writes
//! it, the exec-server checks filesystem requests against it, and the sandbox backends
//! turn it into mounts and profiles. Keeping its types and its meaning (which paths are
//! readable, which writable, what stays protected) in one small crate with no runtime
//! and no I/O lets all of them depend on it and lets the rules be tested as plain
//! functions.
//!
//! - [`SandboxPolicy`], [`ReadOnlyAccess`], [`NetworkAccess`]: the wire types, exactly
//!   the JSON of `docs/exec-server-protocol.md`, refusing unknown and missing fields.
//! - [`SandboxPolicy::read_only`], [`SandboxPolicy::workspace_write`] and the other
//!   constructors build the common policies; `with_network_access`,
//!   `with_readable_roots` and `excluding_tmp` adjust one setting, refusing with a
//!   [`PolicyModifierError`] what the policy's variant cannot express.
//! - [`SandboxPolicy::writable_roots_with_cwd`] → [`WriteAccess`]: the effective
//!   writable roots, each with its read-only [`WritableRoot::read_only_subpaths`].
//! - [`SandboxPolicy::effective_access`] → [`EffectiveAccess`]: `check_read` /
//!   `check_write` on resolved paths, failing with a [`SandboxError`].
//!
//! The only filesystem access is [`read_gitdir_pointer_from_disk`], which callers pass
//! in explicitly.
#![deny(missing_docs)]

mod access;
mod error;
mod gitdir;
mod platform_defaults;
mod sandbox_policy;
mod writable_roots;

pub use access::EffectiveAccess;
pub use access::ReadAccess;
pub use error::SandboxError;
pub use error::WriteDeniedReason;
pub use gitdir::read_gitdir_pointer_as_written;
pub use gitdir::read_gitdir_pointer_from_disk;
pub use platform_defaults::LINUX_DEFAULT_READ_ROOTS;
pub use platform_defaults::MACOS_DEFAULT_READ_ROOTS;
pub use platform_defaults::PLATFORM_DEFAULT_READ_ROOTS;
pub use sandbox_policy::NetworkAccess;
pub use sandbox_policy::PolicyModifierError;
pub use sandbox_policy::ReadOnlyAccess;
pub use sandbox_policy::SandboxPolicy;
pub use writable_roots::PROTECTED_SUBPATH_NAMES;
pub use writable_roots::WritableRoot;
pub use writable_roots::WriteAccess;
