//! [`FileSystemError`] on the wire: which JSON-RPC error each variant is, and back.
//!
//! The variant travels as `data.kind` and its message as the error's message, so a client
//! rebuilds exactly the error the server's [`codex_file_system::LocalFileSystem`] returned.

use codex_file_system::FileSystemError;

use crate::protocol::RpcError;
use crate::protocol::error_code;

/// The JSON-RPC error `err` is sent as: its code, the message a person reads, and
/// `data: {kind, reason}`, which is all [`fs_error_from_rpc`] reads.
pub(crate) fn fs_error_to_rpc(err: &FileSystemError) -> RpcError {
    let (code, reason) = match err {
        FileSystemError::InvalidParams(reason) => (error_code::INVALID_PARAMS, reason),
        FileSystemError::SandboxDenied(reason) => (error_code::SANDBOX_DENIED, reason),
        FileSystemError::NotFound(reason) => (error_code::NOT_FOUND, reason),
        FileSystemError::AlreadyExists(reason) => (error_code::ALREADY_EXISTS, reason),
        FileSystemError::NotADirectory(reason) => (error_code::NOT_A_DIRECTORY, reason),
        FileSystemError::IsADirectory(reason) => (error_code::IS_A_DIRECTORY, reason),
        FileSystemError::DirectoryNotEmpty(reason) => (error_code::DIRECTORY_NOT_EMPTY, reason),
        FileSystemError::TooLarge(reason) => (error_code::TOO_LARGE, reason),
        FileSystemError::Io(reason) => (error_code::IO_ERROR, reason),
        FileSystemError::Remote { code, message } => {
            return RpcError::with_kind(*code, message.clone(), /*kind*/ None);
        }
        FileSystemError::Disabled | FileSystemError::Transport(_) => {
            return RpcError::with_kind(
                error_code::INTERNAL_ERROR,
                err.to_string(),
                /*kind*/ None,
            );
        }
    };
    RpcError::with_fields(code, err.to_string(), err.kind(), &[("reason", reason)])
}

/// The typed error a server reported, from its `data` (a server that sent no `reason`:
/// the message).
pub(crate) fn fs_error_from_rpc(err: RpcError) -> FileSystemError {
    let reason = err
        .field("reason")
        .map_or_else(|| err.message.clone(), str::to_string);
    if let Some(typed) = err
        .kind()
        .and_then(|kind| FileSystemError::from_kind(kind, reason.clone()))
    {
        return typed;
    }
    if err.code == error_code::INVALID_PARAMS {
        return FileSystemError::InvalidParams(reason);
    }
    FileSystemError::Remote {
        code: err.code,
        message: err.message,
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn every_variant_survives_the_wire() {
        let errors = [
            FileSystemError::InvalidParams("path `x` is relative".to_string()),
            FileSystemError::SandboxDenied("no".to_string()),
            FileSystemError::NotFound("gone".to_string()),
            FileSystemError::AlreadyExists("there".to_string()),
            FileSystemError::NotADirectory("file".to_string()),
            FileSystemError::IsADirectory("dir".to_string()),
            FileSystemError::DirectoryNotEmpty("full".to_string()),
            FileSystemError::TooLarge("big".to_string()),
            FileSystemError::Io("disk".to_string()),
            FileSystemError::Remote {
                code: -32099,
                message: "new kind of error".to_string(),
            },
        ];
        let back: Vec<FileSystemError> = errors
            .iter()
            .map(|err| fs_error_from_rpc(fs_error_to_rpc(err)))
            .collect();
        assert_eq!(back, errors);
    }
}
