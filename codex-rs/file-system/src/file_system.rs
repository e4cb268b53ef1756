//! The `ExecutorFileSystem` trait: filesystem operations on the machine where an
//! environment's processes run.
//!
//! [`crate::LocalFileSystem`] does the work on this machine (and backs an exec-server's
//! `fs/*` handlers); `codex-exec-server`'s `RemoteFileSystem` sends the same calls to an
//! exec-server. Both take the same arguments, check them the same way and report the same
//! [`FileSystemError`]s (same variant, same message), so a caller cannot tell them apart.
//!
//! The trait returns boxed futures so it can be used as `Arc<dyn ExecutorFileSystem>`.

use std::future::Future;
use std::pin::Pin;

use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;

use serde::Deserialize;
use serde::Serialize;

/// The future every [`ExecutorFileSystem`] method returns.
pub type FileSystemFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, FileSystemError>> + Send + 'a>>;

/// What [`ExecutorFileSystem::get_metadata`] reports (`fs/getMetadata` on the wire): the
/// path itself, a final symlink not followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileMetadata {
    /// It is a directory.
    pub is_directory: bool,
    /// It is a regular file.
    pub is_file: bool,
    /// It is a symbolic link (then `isDirectory` and `isFile` are false).
    pub is_symlink: bool,
    /// Size in bytes (of the link itself for a symlink).
    pub size: u64,
    /// Creation time in ms since the Unix epoch; 0 where the filesystem does not record it.
    pub created_at_ms: i64,
    /// Last modification time in ms since the Unix epoch.
    pub modified_at_ms: i64,
}

/// One entry of a directory (symlinks are neither directories nor files here).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DirectoryEntry {
    /// The entry's name (not a path).
    pub file_name: String,
    /// It is a directory.
    pub is_directory: bool,
    /// It is a regular file.
    pub is_file: bool,
}

/// Options of [`ExecutorFileSystem::create_directory`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CreateDirectoryOptions {
    /// Also create missing parents, and succeed when the directory already exists.
    pub recursive: bool,
}

/// Options of [`ExecutorFileSystem::remove`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RemoveOptions {
    /// Remove a directory with everything in it.
    pub recursive: bool,
    /// A missing path is not an error.
    pub force: bool,
}

/// Options of [`ExecutorFileSystem::copy`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyOptions {
    /// Copy a directory tree (the destination must not exist yet).
    pub recursive: bool,
}

/// Filesystem operations on the machine where an environment's processes run.
///
/// Every path is absolute (by type). With a `sandbox_policy`, the access is checked
/// against it after resolving symlinks, and the operation is carried out so that it
/// cannot be redirected out of what was checked (see the `local_file_system` module docs
/// and the crate README). Without one, the operation is plain (still absolute paths only).
pub trait ExecutorFileSystem: Send + Sync {
    /// The whole file (`fs/readFile`); larger than the size limit is
    /// [`FileSystemError::TooLarge`], never a truncated file.
    fn read_file<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, Vec<u8>>;

    /// Create or truncate the file and write `data` (`fs/writeFile`); the parent must exist.
    fn write_file<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        data: Vec<u8>,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()>;

    /// Create a directory (`fs/createDirectory`).
    fn create_directory<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        options: CreateDirectoryOptions,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()>;

    /// Metadata of the path itself; a final symlink is reported, not followed
    /// (`fs/getMetadata`).
    fn get_metadata<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, FileMetadata>;

    /// The entries of a directory, sorted by name (`fs/readDirectory`).
    fn read_directory<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, Vec<DirectoryEntry>>;

    /// Remove a file, symlink or directory (`fs/remove`).
    fn remove<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        options: RemoveOptions,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()>;

    /// Check, without changing anything, that `path` could be written, replaced or removed
    /// (`fs/checkWrite`): the policy is checked as [`ExecutorFileSystem::write_file`] and
    /// [`ExecutorFileSystem::remove`] check it (a final symlink is checked both as itself
    /// and at its target), and the host must let this process write there (an existing
    /// file must be writable, and so must the nearest existing directory on its way: a
    /// read-only mount or a directory without write permission is refused). What
    /// verifies a change of several files before writing the first one (apply-patch).
    fn check_write<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()>;

    /// Copy a file, or with `recursive` a directory tree (`fs/copy`). Symlinks inside a
    /// copied tree are recreated as symlinks, never followed.
    fn copy<'a>(
        &'a self,
        source: &'a AbsolutePathBuf,
        destination: &'a AbsolutePathBuf,
        options: CopyOptions,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()>;
}

/// Errors of [`ExecutorFileSystem`] backends. Each variant carries the message a person
/// reads, so an error reported by a server is rebuilt exactly (same variant, same message).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FileSystemError {
    /// The request itself is wrong (relative or non-UTF-8 path, a NUL byte, ...).
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// The sandbox policy does not allow the access, or a path changed into a symlink
    /// while it was being accessed.
    #[error("{0}")]
    SandboxDenied(String),
    /// The path, or a parent of it, does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The path exists already.
    #[error("{0}")]
    AlreadyExists(String),
    /// A directory was expected.
    #[error("{0}")]
    NotADirectory(String),
    /// A file was expected.
    #[error("{0}")]
    IsADirectory(String),
    /// The directory is not empty (remove it with `recursive`).
    #[error("{0}")]
    DirectoryNotEmpty(String),
    /// The file is over the size limit of one request.
    #[error("{0}")]
    TooLarge(String),
    /// Another I/O failure.
    #[error("{0}")]
    Io(String),
    /// The environment has the filesystem disabled.
    #[error("filesystem access is disabled in this environment")]
    Disabled,
    /// Transport failure talking to a server.
    #[error("exec-server connection failed: {0}")]
    Transport(String),
    /// The server answered with an error this client has no variant for.
    #[error("exec-server error {code}: {message}")]
    Remote {
        /// The JSON-RPC error code.
        code: i64,
        /// The server's message.
        message: String,
    },
}

impl FileSystemError {
    /// The kind a server reports this error with (`data.kind` on the exec-server wire:
    /// `sandboxDenied`, `notFound`, ...); `None` for errors without one.
    pub fn kind(&self) -> Option<&'static str> {
        match self {
            FileSystemError::SandboxDenied(_) => Some("sandboxDenied"),
            FileSystemError::NotFound(_) => Some("notFound"),
            FileSystemError::AlreadyExists(_) => Some("alreadyExists"),
            FileSystemError::NotADirectory(_) => Some("notADirectory"),
            FileSystemError::IsADirectory(_) => Some("isADirectory"),
            FileSystemError::DirectoryNotEmpty(_) => Some("directoryNotEmpty"),
            FileSystemError::TooLarge(_) => Some("tooLarge"),
            FileSystemError::Io(_) => Some("ioError"),
            FileSystemError::InvalidParams(_)
            | FileSystemError::Disabled
            | FileSystemError::Transport(_)
            | FileSystemError::Remote { .. } => None,
        }
    }

    /// The error a server reported with `kind` and `message` (the inverse of
    /// [`FileSystemError::kind`]); `None` for a kind this crate has no variant for.
    pub fn from_kind(kind: &str, message: String) -> Option<Self> {
        Some(match kind {
            "sandboxDenied" => FileSystemError::SandboxDenied(message),
            "notFound" => FileSystemError::NotFound(message),
            "alreadyExists" => FileSystemError::AlreadyExists(message),
            "notADirectory" => FileSystemError::NotADirectory(message),
            "isADirectory" => FileSystemError::IsADirectory(message),
            "directoryNotEmpty" => FileSystemError::DirectoryNotEmpty(message),
            "tooLarge" => FileSystemError::TooLarge(message),
            "ioError" => FileSystemError::Io(message),
            _ => return None,
        })
    }
}

/// Refuses paths the wire cannot carry or no file can have: not UTF-8, or with a NUL
/// byte. Both backends call this first, so they refuse the same paths with the same
/// message.
pub fn validate_path(path: &AbsolutePathBuf) -> Result<&str, FileSystemError> {
    let Some(text) = path.as_path().to_str() else {
        return Err(FileSystemError::InvalidParams(format!(
            "path `{}` is not valid UTF-8; the exec-server protocol carries paths as JSON strings",
            path.as_path().to_string_lossy()
        )));
    };
    if text.contains('\0') {
        return Err(FileSystemError::InvalidParams(format!(
            "path {text:?} contains a NUL byte"
        )));
    }
    Ok(text)
}
