//! [`FileSystemError`] on the wire: which JSON-RPC error each variant is, and back.
//!
//! The variant travels as `data.kind` and its message as the error's message, so a client
//! rebuilds exactly the error the server's [`codex_file_system::LocalFileSystem`] returned.

use codex_file_system::FileSystemError;

use crate::protocol::RpcError;
use crate::protocol::error_code;

/// The JSON-RPC error `err` is sent as.
pub(crate) fn fs_error_to_rpc(err: &FileSystemError) -> RpcError {
    let code = match err {
        FileSystemError::InvalidParams(_) => error_code::INVALID_PARAMS,
        FileSystemError::SandboxDenied(_) => error_code::SANDBOX_DENIED,
        FileSystemError::NotFound(_) => error_code::NOT_FOUND,
        FileSystemError::AlreadyExists(_) => error_code::ALREADY_EXISTS,
        FileSystemError::NotADirectory(_) => error_code::NOT_A_DIRECTORY,
        FileSystemError::IsADirectory(_) => error_code::IS_A_DIRECTORY,
        FileSystemError::DirectoryNotEmpty(_) => error_code::DIRECTORY_NOT_EMPTY,
        FileSystemError::TooLarge(_) => error_code::TOO_LARGE,
        FileSystemError::Io(_) => error_code::IO_ERROR,
        FileSystemError::Remote { code, message } => {
            return RpcError::with_kind(*code, message.clone(), /*kind*/ None);
        }
        FileSystemError::Disabled | FileSystemError::Transport(_) => error_code::INTERNAL_ERROR,
    };
    RpcError::with_kind(code, err.to_string(), err.kind())
}

/// The typed error a server reported.
pub(crate) fn fs_error_from_rpc(err: RpcError) -> FileSystemError {
    let message = err.message.clone();
    if let Some(typed) = err
        .kind()
        .and_then(|kind| FileSystemError::from_kind(kind, message.clone()))
    {
        return typed;
    }
    if err.code == error_code::INVALID_PARAMS {
        return FileSystemError::InvalidParams(
            message
                .strip_prefix("invalid params: ")
                .unwrap_or(&message)
                .to_string(),
        );
    }
    FileSystemError::Remote {
        code: err.code,
        message,
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
