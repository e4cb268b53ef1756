//! The `fs/*` handlers: each takes the session's filesystem (with the session's root pins)
//! and returns the operation as a future that the router runs in its own task; a
//! [`FileSystemError`] becomes its exact wire error ([`fs_result`]).

use std::future::Future;

use codex_file_system::CopyOptions;
use codex_file_system::CreateDirectoryOptions;
use codex_file_system::ExecutorFileSystem;
use codex_file_system::FileMetadata;
use codex_file_system::FileSystemError;
use codex_file_system::RemoveOptions;

use crate::error::ExecError;
use crate::protocol::CheckWriteParams;
use crate::protocol::CopyParams;
use crate::protocol::CreateDirectoryParams;
use crate::protocol::EmptyResponse;
use crate::protocol::GetMetadataParams;
use crate::protocol::ReadDirectoryParams;
use crate::protocol::ReadDirectoryResponse;
use crate::protocol::ReadFileParams;
use crate::protocol::ReadFileResponse;
use crate::protocol::RemoveParams;
use crate::protocol::WriteFileParams;

use super::sessions::Session;

/// `fs/readFile`.
pub(super) fn read_file(
    session: &Session,
    params: ReadFileParams,
) -> impl Future<Output = Result<ReadFileResponse, ExecError>> + Send + 'static {
    let fs = session.file_system.clone();
    async move {
        let data = fs
            .read_file(&params.path, params.sandbox_policy.as_ref())
            .await;
        fs_result(data.map(|data| ReadFileResponse {
            data_base64: data.into(),
        }))
    }
}

/// `fs/writeFile`.
pub(super) fn write_file(
    session: &Session,
    params: WriteFileParams,
) -> impl Future<Output = Result<EmptyResponse, ExecError>> + Send + 'static {
    let fs = session.file_system.clone();
    async move {
        let WriteFileParams {
            path,
            data_base64,
            sandbox_policy,
        } = params;
        let result = fs
            .write_file(&path, data_base64.0.to_vec(), sandbox_policy.as_ref())
            .await;
        fs_result(result.map(|()| EmptyResponse {}))
    }
}

/// `fs/createDirectory`.
pub(super) fn create_directory(
    session: &Session,
    params: CreateDirectoryParams,
) -> impl Future<Output = Result<EmptyResponse, ExecError>> + Send + 'static {
    let fs = session.file_system.clone();
    async move {
        let options = CreateDirectoryOptions {
            recursive: params.recursive.unwrap_or(false),
        };
        let result = fs
            .create_directory(&params.path, options, params.sandbox_policy.as_ref())
            .await;
        fs_result(result.map(|()| EmptyResponse {}))
    }
}

/// `fs/getMetadata`.
pub(super) fn get_metadata(
    session: &Session,
    params: GetMetadataParams,
) -> impl Future<Output = Result<FileMetadata, ExecError>> + Send + 'static {
    let fs = session.file_system.clone();
    async move {
        fs_result(
            fs.get_metadata(&params.path, params.sandbox_policy.as_ref())
                .await,
        )
    }
}

/// `fs/readDirectory`.
pub(super) fn read_directory(
    session: &Session,
    params: ReadDirectoryParams,
) -> impl Future<Output = Result<ReadDirectoryResponse, ExecError>> + Send + 'static {
    let fs = session.file_system.clone();
    async move {
        let entries = fs
            .read_directory(&params.path, params.sandbox_policy.as_ref())
            .await;
        fs_result(entries.map(|entries| ReadDirectoryResponse { entries }))
    }
}

/// `fs/remove`.
pub(super) fn remove(
    session: &Session,
    params: RemoveParams,
) -> impl Future<Output = Result<EmptyResponse, ExecError>> + Send + 'static {
    let fs = session.file_system.clone();
    async move {
        let options = RemoveOptions {
            recursive: params.recursive.unwrap_or(false),
            force: params.force.unwrap_or(false),
        };
        let result = fs
            .remove(&params.path, options, params.sandbox_policy.as_ref())
            .await;
        fs_result(result.map(|()| EmptyResponse {}))
    }
}

/// `fs/checkWrite`.
pub(super) fn check_write(
    session: &Session,
    params: CheckWriteParams,
) -> impl Future<Output = Result<EmptyResponse, ExecError>> + Send + 'static {
    let fs = session.file_system.clone();
    async move {
        let result = fs
            .check_write(&params.path, params.sandbox_policy.as_ref())
            .await;
        fs_result(result.map(|()| EmptyResponse {}))
    }
}

/// `fs/copy`.
pub(super) fn copy(
    session: &Session,
    params: CopyParams,
) -> impl Future<Output = Result<EmptyResponse, ExecError>> + Send + 'static {
    let fs = session.file_system.clone();
    async move {
        let options = CopyOptions {
            recursive: params.recursive.unwrap_or(false),
        };
        let result = fs
            .copy(
                &params.source_path,
                &params.destination_path,
                options,
                params.sandbox_policy.as_ref(),
            )
            .await;
        fs_result(result.map(|()| EmptyResponse {}))
    }
}

/// An `fs/*` result in the shape the router replies with: the typed error becomes its exact
/// wire error.
fn fs_result<T>(result: Result<T, FileSystemError>) -> Result<T, ExecError> {
    result.map_err(|err| ExecError::Rpc(crate::fs_error::fs_error_to_rpc(&err)))
}
