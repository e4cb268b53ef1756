//! `codex-agents-md`: finds and reads the AGENTS.md instructions for a working directory.
//!
//! [`discover`] finds the project root (the nearest ancestor of the working directory,
//! itself included, holding one of the configured root markers), takes one instruction
//! file from every directory from that root down to the working directory, puts the
//! user's own file from `$CODEX_HOME` first, and caps the whole at a byte budget. Every
//! access goes through [`codex_file_system::ExecutorFileSystem`], so the same code reads
//! a project on this machine or, through an exec-server, on another one; the user's file
//! is read through its own filesystem (normally this machine's). See the README for the
//! rules in full.
#![deny(missing_docs)]

mod discover;
mod error;

pub use discover::DEFAULT_FILENAME;
pub use discover::DEFAULT_MAX_BYTES;
pub use discover::DEFAULT_PROJECT_ROOT_MARKERS;
pub use discover::DiscoveryOptions;
pub use discover::Instructions;
pub use discover::OVERRIDE_FILENAME;
pub use discover::PROJECT_DOC_JOINER;
pub use discover::PROJECT_DOC_SEPARATOR;
pub use discover::discover;
pub use error::AgentsMdError;
