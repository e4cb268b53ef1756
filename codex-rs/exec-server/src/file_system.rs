//! The `ExecutorFileSystem` trait: the filesystem seam beside [`crate::ExecProcess`].
//!
//! [`crate::LocalFileSystem`] does the work on this machine (and backs the server's `fs/*`
//! handlers); [`crate::RemoteFileSystem`] sends the same calls to an exec-server. Both take
//! the same arguments, check them the same way and report the same [`FileSystemError`]s
//! (code, `data.kind` and message), so a caller cannot tell them apart.
//!
//! The trait returns boxed futures so it can be used as `Arc<dyn ExecutorFileSystem>`.

use std::future::Future;
use std::pin::Pin;

use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;

use crate::protocol::DirectoryEntry;
use crate::protocol::FileMetadata;
use crate::protocol::RpcError;
use crate::protocol::error_code;

/// The future every [`ExecutorFileSystem`] method returns.
pub type FileSystemFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, FileSystemError>> + Send + 'a>>;

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
    #[error("exec-server error {}: {}", .0.code, .0.message)]
    Rpc(RpcError),
}

impl FileSystemError {
    /// The JSON-RPC error this maps to on the wire.
    pub fn to_rpc_error(&self) -> RpcError {
        let (code, kind) = match self {
            FileSystemError::InvalidParams(_) => (error_code::INVALID_PARAMS, None),
            FileSystemError::SandboxDenied(_) => {
                (error_code::SANDBOX_DENIED, Some("sandboxDenied"))
            }
            FileSystemError::NotFound(_) => (error_code::NOT_FOUND, Some("notFound")),
            FileSystemError::AlreadyExists(_) => {
                (error_code::ALREADY_EXISTS, Some("alreadyExists"))
            }
            FileSystemError::NotADirectory(_) => {
                (error_code::NOT_A_DIRECTORY, Some("notADirectory"))
            }
            FileSystemError::IsADirectory(_) => (error_code::IS_A_DIRECTORY, Some("isADirectory")),
            FileSystemError::DirectoryNotEmpty(_) => {
                (error_code::DIRECTORY_NOT_EMPTY, Some("directoryNotEmpty"))
            }
            FileSystemError::TooLarge(_) => (error_code::TOO_LARGE, Some("tooLarge")),
            FileSystemError::Io(_) => (error_code::IO_ERROR, Some("ioError")),
            FileSystemError::Rpc(err) => return err.clone(),
            FileSystemError::Disabled | FileSystemError::Transport(_) => {
                (error_code::INTERNAL_ERROR, None)
            }
        };
        RpcError::with_kind(code, self.to_string(), kind)
    }

    /// The wire `data.kind` (`sandboxDenied`, `notFound`, ...), if any.
    pub fn kind(&self) -> Option<String> {
        self.to_rpc_error().kind().map(str::to_string)
    }

    /// Rebuild the typed error a server reported.
    pub(crate) fn from_rpc_error(err: RpcError) -> Self {
        let message = err.message.clone();
        match err.kind() {
            Some("sandboxDenied") => FileSystemError::SandboxDenied(message),
            Some("notFound") => FileSystemError::NotFound(message),
            Some("alreadyExists") => FileSystemError::AlreadyExists(message),
            Some("notADirectory") => FileSystemError::NotADirectory(message),
            Some("isADirectory") => FileSystemError::IsADirectory(message),
            Some("directoryNotEmpty") => FileSystemError::DirectoryNotEmpty(message),
            Some("tooLarge") => FileSystemError::TooLarge(message),
            Some("ioError") => FileSystemError::Io(message),
            _ if err.code == error_code::INVALID_PARAMS => FileSystemError::InvalidParams(
                message
                    .strip_prefix("invalid params: ")
                    .unwrap_or(&message)
                    .to_string(),
            ),
            _ => FileSystemError::Rpc(err),
        }
    }
}

/// Refuses paths the wire cannot carry or no file can have: not UTF-8, or with a NUL
/// byte. Both backends call this first, so they refuse the same paths with the same
/// message.
pub(crate) fn validate_path(path: &AbsolutePathBuf) -> Result<&str, FileSystemError> {
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
