//! The errors of [`crate::discover`].

use codex_file_system::FileSystemError;
use codex_utils_absolute_path::AbsolutePathBuf;

/// Why [`crate::discover`] found no instructions at all. A single file that cannot be
/// read is not an error: it is skipped with a warning (see [`crate::Instructions`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AgentsMdError {
    /// The working directory does not exist.
    #[error("working directory `{0}` does not exist")]
    CwdNotFound(AbsolutePathBuf),
    /// The working directory is not a directory, or a parent of it is not one.
    #[error("working directory `{0}` (or a parent of it) is not a directory")]
    CwdNotADirectory(AbsolutePathBuf),
    /// The filesystem failed as a whole (connection lost, filesystem disabled, a request
    /// refused as invalid, ...) while `path` was looked at.
    #[error("looking for instructions at `{path}`: {source}")]
    FileSystem {
        /// The path being looked at.
        path: AbsolutePathBuf,
        /// What the filesystem reported.
        #[source]
        source: FileSystemError,
    },
}
