//! `codex-file-system`: filesystem operations on the machine where an environment's
//! processes run.
//!
//! [`ExecutorFileSystem`] is the seam agent-side code (apply-patch, AGENTS.md discovery)
//! is written against, so the same code works on this machine or, through
//! `codex-exec-server`'s `RemoteFileSystem`, on another one. [`LocalFileSystem`] is the
//! implementation on this machine: every access is checked against an optional
//! [`codex_protocol::SandboxPolicy`] after resolving symlinks, and carried out through
//! directory descriptors so that it cannot be redirected out of what was checked (see
//! the `local_file_system` module). An exec-server's `fs/*` handlers call it.
#![deny(missing_docs)]

mod file_system;
mod local_file_system;
mod self_protection;

pub use file_system::CopyOptions;
pub use file_system::CreateDirectoryOptions;
pub use file_system::DirectoryEntry;
pub use file_system::ExecutorFileSystem;
pub use file_system::FileMetadata;
pub use file_system::FileSystemError;
pub use file_system::FileSystemFuture;
pub use file_system::RemoveOptions;
pub use file_system::validate_path;
pub use local_file_system::DEFAULT_MAX_FS_BYTES;
pub use local_file_system::DEFAULT_MAX_FS_COPY_BYTES;
pub use local_file_system::LocalFileSystem;
pub use local_file_system::LocalFileSystemConfig;
