//! The seam through which the project side is read.
//!
//! Everything the loader learns about the cwd and the project (whether the cwd exists,
//! where the root markers are, the `.codex/config.toml` files) goes through
//! [`ProjectFs`], so the project can live on another machine. The system and user
//! layers and the requirements are always read from the local disk.

use std::future::Future;
use std::io;
use std::path::Path;

/// Read access to the filesystem that holds the cwd and the project.
pub trait ProjectFs: Sync {
    /// The file's text, `Ok(None)` when it does not exist.
    fn read_to_string(
        &self,
        path: &Path,
    ) -> impl Future<Output = io::Result<Option<String>>> + Send;

    /// Whether `path` exists (a file, a directory, anything).
    fn exists(&self, path: &Path) -> impl Future<Output = io::Result<bool>> + Send;

    /// Whether `path` exists and is a directory.
    fn is_dir(&self, path: &Path) -> impl Future<Output = io::Result<bool>> + Send;
}

/// [`ProjectFs`] on the local disk.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalFs;

impl ProjectFs for LocalFs {
    async fn read_to_string(&self, path: &Path) -> io::Result<Option<String>> {
        match tokio::fs::read_to_string(path).await {
            Ok(text) => Ok(Some(text)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn exists(&self, path: &Path) -> io::Result<bool> {
        tokio::fs::try_exists(path).await
    }

    async fn is_dir(&self, path: &Path) -> io::Result<bool> {
        match tokio::fs::metadata(path).await {
            Ok(meta) => Ok(meta.is_dir()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(err),
        }
    }
}

/// Reads a local file, `Ok(None)` when it does not exist.
pub(crate) async fn read_local(path: &Path) -> io::Result<Option<String>> {
    LocalFs.read_to_string(path).await
}
