//! Where the project side (cwd, root markers, project config, AGENTS.md) is read: this
//! machine, or an exec-server's filesystem when `--exec-server-url` is given (then never
//! the local disk at the same path).

use std::io;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use codex_config::ProjectFs;
use codex_exec_server::Environment;
use codex_file_system::ExecutorFileSystem;
use codex_file_system::FileSystemError;
use codex_file_system::LocalFileSystem;
use codex_utils_absolute_path::AbsolutePathBuf;

/// The project's filesystem and the working directory on it.
pub struct ProjectSide {
    /// Read through this.
    pub fs: Arc<dyn ExecutorFileSystem>,
    /// The working directory, on `fs`'s machine.
    pub cwd: AbsolutePathBuf,
}

impl ProjectSide {
    /// The local disk and `cwd` (default: the current directory), or the exec-server at
    /// `url` and `cwd`, which must then be absolute.
    pub async fn open(url: Option<&str>, cwd: Option<PathBuf>) -> Result<Self, String> {
        let (fs, base): (Arc<dyn ExecutorFileSystem>, Option<PathBuf>) = match url {
            Some(url) => {
                let environment = Environment::from_env_value(Some(url))
                    .await
                    .map_err(|err| format!("connecting to {url}: {err}"))?;
                let fs = environment.file_system().map_err(|err| err.to_string())?;
                (fs, None)
            }
            None => (
                Arc::new(LocalFileSystem::default()),
                Some(
                    std::env::current_dir()
                        .map_err(|err| format!("cannot tell the current directory: {err}"))?,
                ),
            ),
        };
        let cwd = match (cwd, base) {
            (Some(cwd), Some(base)) => base.join(cwd),
            (Some(cwd), None) => cwd,
            (None, Some(base)) => base,
            (None, None) => {
                return Err("with --exec-server-url, name the directory with -C".to_string());
            }
        };
        let cwd = AbsolutePathBuf::try_from_absolute(&cwd)
            .map_err(|err| format!("working directory: {err}"))?;
        Ok(Self { fs, cwd })
    }

    /// The [`ProjectFs`] view of this side, for `codex-config`.
    pub fn config_fs(&self) -> ConfigFs<'_> {
        ConfigFs(self.fs.as_ref())
    }
}

/// [`ProjectFs`] over an [`ExecutorFileSystem`].
pub struct ConfigFs<'a>(&'a dyn ExecutorFileSystem);

fn absolute(path: &Path) -> io::Result<AbsolutePathBuf> {
    AbsolutePathBuf::try_from_absolute(path)
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))
}

fn io_error(err: FileSystemError) -> io::Error {
    io::Error::other(err.to_string())
}

impl ProjectFs for ConfigFs<'_> {
    async fn read_to_string(&self, path: &Path) -> io::Result<Option<String>> {
        match self
            .0
            .read_file(&absolute(path)?, /*sandbox_policy*/ None)
            .await
        {
            Ok(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err)),
            Err(FileSystemError::NotFound(_)) => Ok(None),
            Err(err) => Err(io_error(err)),
        }
    }

    async fn exists(&self, path: &Path) -> io::Result<bool> {
        match self
            .0
            .get_metadata(&absolute(path)?, /*sandbox_policy*/ None)
            .await
        {
            Ok(_) => Ok(true),
            Err(FileSystemError::NotFound(_) | FileSystemError::NotADirectory(_)) => Ok(false),
            Err(err) => Err(io_error(err)),
        }
    }

    async fn is_dir(&self, path: &Path) -> io::Result<bool> {
        match self
            .0
            .get_metadata(&absolute(path)?, /*sandbox_policy*/ None)
            .await
        {
            Ok(metadata) => Ok(metadata.is_directory),
            Err(FileSystemError::NotFound(_) | FileSystemError::NotADirectory(_)) => Ok(false),
            Err(err) => Err(io_error(err)),
        }
    }
}
