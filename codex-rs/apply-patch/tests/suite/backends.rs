//! The two filesystems every case runs against: `LocalFileSystem` on this machine and the
//! `RemoteFileSystem` of a real exec-server (in this process, on loopback). A patch must
//! behave the same on both.

use std::path::Path;
use std::sync::Arc;

use codex_apply_patch::AppliedPatch;
use codex_apply_patch::ApplyPatchError;
use codex_apply_patch::PatchTarget;
use codex_exec_server::Environment;
use codex_exec_server::LoopbackServer;
use codex_file_system::ExecutorFileSystem;
use codex_file_system::LocalFileSystem;
use codex_protocol::SandboxPolicy;
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

/// Applies `patch` in `cwd` through `fs`.
pub async fn apply(
    fs: &dyn ExecutorFileSystem,
    cwd: &Path,
    policy: Option<&SandboxPolicy>,
    patch: &str,
) -> Result<AppliedPatch, ApplyPatchError> {
    let cwd = abs(cwd);
    let target = PatchTarget {
        fs,
        cwd: &cwd,
        sandbox_policy: policy,
    };
    codex_apply_patch::apply_patch(patch, target).await
}
