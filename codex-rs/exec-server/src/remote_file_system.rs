//! `RemoteFileSystem`: [`ExecutorFileSystem`] over an [`ExecServerClient`]. Every call is
//! one `fs/*` request; the server's [`codex_file_system::LocalFileSystem`] does the work and its typed
//! errors come back unchanged. Nothing is checked or read on this machine except the
//! paths' form (absolute, UTF-8, no NUL), which is refused the same way locally.

use codex_file_system::CopyOptions;
use codex_file_system::CreateDirectoryOptions;
use codex_file_system::DirectoryEntry;
use codex_file_system::ExecutorFileSystem;
use codex_file_system::FileMetadata;
use codex_file_system::FileSystemFuture;
use codex_file_system::RemoveOptions;
use codex_file_system::validate_path;
use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;

use crate::client::ExecServerClient;
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
use crate::protocol::method;

/// [`ExecutorFileSystem`] on the machine an exec-server runs on.
#[derive(Clone)]
pub struct RemoteFileSystem {
    client: ExecServerClient,
}

impl RemoteFileSystem {
    /// Wrap a connected client.
    pub fn new(client: ExecServerClient) -> Self {
        Self { client }
    }
}

impl ExecutorFileSystem for RemoteFileSystem {
    fn read_file<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, Vec<u8>> {
        Box::pin(async move {
            validate_path(path)?;
            let params = ReadFileParams {
                path: path.clone(),
                sandbox_policy: sandbox_policy.cloned(),
            };
            let response: ReadFileResponse = self
                .client
                .fs_request(method::FS_READ_FILE, &params)
                .await?;
            Ok(response.data_base64.0.to_vec())
        })
    }

    fn write_file<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        data: Vec<u8>,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()> {
        Box::pin(async move {
            validate_path(path)?;
            let params = WriteFileParams {
                path: path.clone(),
                data_base64: data.into(),
                sandbox_policy: sandbox_policy.cloned(),
            };
            let EmptyResponse {} = self
                .client
                .fs_request(method::FS_WRITE_FILE, &params)
                .await?;
            Ok(())
        })
    }

    fn create_directory<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        options: CreateDirectoryOptions,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()> {
        Box::pin(async move {
            validate_path(path)?;
            let params = CreateDirectoryParams {
                path: path.clone(),
                recursive: Some(options.recursive),
                sandbox_policy: sandbox_policy.cloned(),
            };
            let EmptyResponse {} = self
                .client
                .fs_request(method::FS_CREATE_DIRECTORY, &params)
                .await?;
            Ok(())
        })
    }

    fn get_metadata<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, FileMetadata> {
        Box::pin(async move {
            validate_path(path)?;
            let params = GetMetadataParams {
                path: path.clone(),
                sandbox_policy: sandbox_policy.cloned(),
            };
            self.client
                .fs_request(method::FS_GET_METADATA, &params)
                .await
        })
    }

    fn read_directory<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, Vec<DirectoryEntry>> {
        Box::pin(async move {
            validate_path(path)?;
            let params = ReadDirectoryParams {
                path: path.clone(),
                sandbox_policy: sandbox_policy.cloned(),
            };
            let response: ReadDirectoryResponse = self
                .client
                .fs_request(method::FS_READ_DIRECTORY, &params)
                .await?;
            Ok(response.entries)
        })
    }

    fn remove<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        options: RemoveOptions,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()> {
        Box::pin(async move {
            validate_path(path)?;
            let params = RemoveParams {
                path: path.clone(),
                recursive: Some(options.recursive),
                force: Some(options.force),
                sandbox_policy: sandbox_policy.cloned(),
            };
            let EmptyResponse {} = self.client.fs_request(method::FS_REMOVE, &params).await?;
            Ok(())
        })
    }

    fn check_write<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()> {
        Box::pin(async move {
            validate_path(path)?;
            let params = CheckWriteParams {
                path: path.clone(),
                sandbox_policy: sandbox_policy.cloned(),
            };
            let EmptyResponse {} = self
                .client
                .fs_request(method::FS_CHECK_WRITE, &params)
                .await?;
            Ok(())
        })
    }

    fn copy<'a>(
        &'a self,
        source: &'a AbsolutePathBuf,
        destination: &'a AbsolutePathBuf,
        options: CopyOptions,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()> {
        Box::pin(async move {
            validate_path(source)?;
            validate_path(destination)?;
            let params = CopyParams {
                source_path: source.clone(),
                destination_path: destination.clone(),
                recursive: Some(options.recursive),
                sandbox_policy: sandbox_policy.cloned(),
            };
            let EmptyResponse {} = self.client.fs_request(method::FS_COPY, &params).await?;
            Ok(())
        })
    }
}
