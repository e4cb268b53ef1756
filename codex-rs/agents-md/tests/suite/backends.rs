//! The two filesystems every case runs against: `LocalFileSystem` on this machine and the
//! `RemoteFileSystem` of a real exec-server (in this process, on loopback). Discovery must
//! find the same instructions through both.

use std::path::Path;
use std::sync::Arc;

use codex_agents_md::AgentsMdError;
use codex_agents_md::DiscoveryOptions;
use codex_agents_md::Instructions;
use codex_exec_server::Environment;
use codex_exec_server::LoopbackServer;
use codex_file_system::ExecutorFileSystem;
use codex_file_system::LocalFileSystem;
use codex_utils_absolute_path::AbsolutePathBuf;

/// `("local", …)` and `("remote", …)`; keep the returned server alive while using them.
pub async fn backends() -> (
    LoopbackServer,
    Vec<(&'static str, Arc<dyn ExecutorFileSystem>)>,
) {
    let server = LoopbackServer::start().await.expect("start");
    let remote = Environment::from_env_value(Some(server.url()))
        .await
        .expect("connect")
        .file_system()
        .expect("filesystem");
    let local: Arc<dyn ExecutorFileSystem> = Arc::new(LocalFileSystem::default());
    (server, vec![("local", local), ("remote", remote)])
}

pub fn abs(path: impl AsRef<Path>) -> AbsolutePathBuf {
    AbsolutePathBuf::try_from_absolute(path.as_ref()).expect("absolute")
}

/// A fresh directory tree for one case (canonical, as discovery walks it lexically).
pub struct Tree {
    _dir: tempfile::TempDir,
    pub root: AbsolutePathBuf,
}

impl Tree {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = abs(dir.path().canonicalize().expect("canonicalize"));
        Self { _dir: dir, root }
    }

    /// `root/relative` (`""` is the root itself).
    pub fn at(&self, relative: &str) -> AbsolutePathBuf {
        if relative.is_empty() {
            self.root.clone()
        } else {
            self.root.join(relative)
        }
    }

    pub fn mkdir(&self, relative: &str) -> AbsolutePathBuf {
        let path = self.at(relative);
        std::fs::create_dir_all(&path).expect("mkdir");
        path
    }

    /// Writes `root/relative`, creating its parents.
    pub fn write(&self, relative: &str, contents: &str) -> AbsolutePathBuf {
        let path = self.at(relative);
        if let Some(parent) = path.as_path().parent() {
            std::fs::create_dir_all(parent).expect("mkdir parent");
        }
        std::fs::write(&path, contents).expect("write");
        path
    }

    /// A symlink at `root/relative` to `target` (taken as is: may be relative).
    pub fn symlink(&self, target: &str, relative: &str) -> AbsolutePathBuf {
        let path = self.at(relative);
        std::os::unix::fs::symlink(target, &path).expect("symlink");
        path
    }
}

/// Options with `markers`, the given budget and fallbacks, and no `$CODEX_HOME`.
pub fn options(markers: &[&str], max_bytes: usize, fallbacks: &[&str]) -> DiscoveryOptions {
    DiscoveryOptions {
        project_root_markers: markers.iter().map(ToString::to_string).collect(),
        max_bytes,
        fallback_filenames: fallbacks.iter().map(ToString::to_string).collect(),
        codex_home: None,
    }
}

/// Discovery through `fs` for both the project and the home part.
pub async fn discover(
    fs: &dyn ExecutorFileSystem,
    cwd: &AbsolutePathBuf,
    options: &DiscoveryOptions,
) -> Result<Instructions, AgentsMdError> {
    codex_agents_md::discover(fs, fs, cwd, options).await
}

/// What a successful discovery should return.
pub fn expected(
    sources: &[&AbsolutePathBuf],
    text: &str,
    warnings: &[String],
    project_root: &AbsolutePathBuf,
) -> Instructions {
    Instructions {
        sources: sources.iter().map(|path| (*path).clone()).collect(),
        text: text.to_string(),
        warnings: warnings.to_vec(),
        project_root: project_root.clone(),
    }
}
