//! [`PolicyGate`]: which sandbox policies a server accepts at all (an administrator's
//! requirements), checked before anything runs or is touched.

use std::sync::Arc;

use codex_protocol::SandboxPolicy;

use crate::error::ExecError;

/// The check: `Err(reason)` refuses. `None`: the request named no policy (it would run,
/// or touch files, unconfined).
type Check = dyn Fn(Option<&SandboxPolicy>) -> Result<(), String> + Send + Sync;

/// Decides which `sandboxPolicy` values (and the lack of one) the server accepts on
/// `process/start` and every `fs/*` method. A refused request gets `sandboxDenied` with the
/// reason, before its process is spawned or its file touched. The `codex-exec-server`
/// binary builds one from the requirements in `/etc/codex/requirements.toml` (and their
/// cloud copy); the default accepts everything.
#[derive(Clone)]
pub struct PolicyGate(Option<Arc<Check>>);

impl PolicyGate {
    /// Accepts every request.
    pub fn allow_all() -> Self {
        Self(None)
    }

    /// Accepts what `check` accepts.
    pub fn new(
        check: impl Fn(Option<&SandboxPolicy>) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        Self(Some(Arc::new(check)))
    }

    /// `Ok` when the request's `policy` may be used, else `sandboxDenied` with the reason.
    pub fn check(&self, policy: Option<&SandboxPolicy>) -> Result<(), ExecError> {
        match &self.0 {
            None => Ok(()),
            Some(check) => check(policy).map_err(ExecError::SandboxDenied),
        }
    }
}

impl Default for PolicyGate {
    fn default() -> Self {
        Self::allow_all()
    }
}

impl std::fmt::Debug for PolicyGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            None => "PolicyGate(allow all)",
            Some(_) => "PolicyGate(checked)",
        })
    }
}

/// Params whose `sandboxPolicy` the gate checks.
pub(crate) trait GatedParams {
    /// The request's policy, if it names one.
    fn sandbox_policy(&self) -> Option<&SandboxPolicy>;
}

macro_rules! gated {
    ($($params:ty),*) => {
        $(impl GatedParams for $params {
            fn sandbox_policy(&self) -> Option<&SandboxPolicy> {
                self.sandbox_policy.as_ref()
            }
        })*
    };
}

gated!(
    crate::protocol::StartParams,
    crate::protocol::ReadFileParams,
    crate::protocol::WriteFileParams,
    crate::protocol::CreateDirectoryParams,
    crate::protocol::GetMetadataParams,
    crate::protocol::ReadDirectoryParams,
    crate::protocol::RemoveParams,
    crate::protocol::CheckWriteParams,
    crate::protocol::CopyParams
);
