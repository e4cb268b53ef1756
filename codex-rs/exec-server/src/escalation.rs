//! Shell escalation in the exec-server: `process/start {…, escalation: {}}` runs the
//! server's patched shell (`argv[0]` `bash` or `zsh`) under the request's sandbox policy,
//! with `EXEC_WRAPPER` and an escalation socket of its own, so that every external
//! command the shell runs asks the session's policy first (see `codex-shell-escalation`):
//! allowed commands run in the sandbox, `prompt` ones outside it once the session's
//! client approves (`approval/request`), forbidden ones not at all.
//!
//! - [`EscalationConfig`]: the server's settings (patched shells, wrapper, rules, the
//!   approval timeout);
//! - `linux`: each session's policy (a `RulesPolicy` from an `EscalationPolicyFactory`,
//!   so `approveForSession` is remembered for that session only) and what one escalated
//!   start needs ([`prepare`]: the shell, its environment, the socket and its server, and,
//!   under bubblewrap, the files to bind in the sandbox). Only Linux has the escalation
//!   protocol (`SOCK_SEQPACKET`, `SCM_RIGHTS`); elsewhere an escalated start is refused;
//! - [`ESCALATED_ENV_FROM_SHELL`]: the only variables an escalated program takes from
//!   the sandbox; the rest of its environment is the client's `process/start` `env`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::ExecError;
use crate::exec_process::BoxFuture;
use crate::protocol::ApprovalDecision;
use crate::protocol::ApprovalRequest;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(not(target_os = "linux"))]
mod other;

#[cfg(target_os = "linux")]
pub(crate) use linux::PreparedEscalation;
#[cfg(target_os = "linux")]
pub(crate) use linux::SessionEscalation;
#[cfg(target_os = "linux")]
pub(crate) use linux::prepare;
#[cfg(not(target_os = "linux"))]
pub(crate) use other::PreparedEscalation;
#[cfg(not(target_os = "linux"))]
pub(crate) use other::SessionEscalation;
#[cfg(not(target_os = "linux"))]
pub(crate) use other::prepare;

/// Default [`EscalationConfig::approval_timeout`]: 60 s.
pub const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(60);

/// The shells an escalated `process/start` may name as `argv[0]`.
pub const ESCALATION_SHELLS: [&str; 2] = ["bash", "zsh"];

/// The only variables an escalated program takes from the shell in the sandbox (and only
/// with a value that names no path): how the terminal looks. Everything else of the
/// shell's environment is written by code in the sandbox, and too many variables make a
/// program run other code (`BASH_ENV`, `LD_PRELOAD`, `PYTHONPATH`, `OPENSSL_CONF`,
/// `KUBECONFIG`, `RUSTC_WRAPPER`, …): an escalated program gets the client's
/// `process/start` `env` instead, plus these.
pub const ESCALATED_ENV_FROM_SHELL: &[&str] =
    &["TERM", "COLUMNS", "LINES", "NO_COLOR", "COLORTERM"];

/// The server's shell escalation settings (the CLI's `--rules`, `--escalation-bash`,
/// `--escalation-zsh`, `--execve-wrapper` and `--approval-timeout`). The default has no
/// shell and no wrapper: every `process/start` with `escalation` is then refused
/// (`escalationUnavailable`).
#[derive(Clone)]
pub struct EscalationConfig {
    /// The patched shells (see `tools/shells`) by the `argv[0]` that selects them
    /// (`bash`, `zsh`): absolute paths.
    pub shells: BTreeMap<String, PathBuf>,
    /// The `codex-execve-wrapper` executable, absolute.
    pub execve_wrapper: Option<PathBuf>,
    /// The rules every session's policy evaluates (`allow`: run in the sandbox,
    /// `prompt`: ask the client, then run outside it, `forbidden`: refuse; a command no
    /// rule matches runs in the sandbox).
    pub rules: Arc<codex_execpolicy::Policy>,
    /// How long an `approval/request` waits for the client's answer before the command
    /// is denied.
    pub approval_timeout: Duration,
    /// The files [`EscalationConfig::rules`] was loaded from.
    pub rules_files: Vec<PathBuf>,
    /// Where the config layers are, to add a trusted project's rules: with them, an
    /// escalated start whose `cwd` lies in a project its user config trusts also
    /// evaluates the `rules/*.rules` of that project's `.codex` directories (from the
    /// project root down to the `cwd`) after [`EscalationConfig::rules_files`]. `None`:
    /// [`EscalationConfig::rules`] only.
    pub project_layers: Option<ConfigLocations>,
}

/// Where the config layers live (see `codex-config`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigLocations {
    /// `$CODEX_HOME` (the user layer, and where projects are marked trusted).
    pub codex_home: PathBuf,
    /// The system directory (`/etc/codex`).
    pub system_dir: PathBuf,
}

impl EscalationConfig {
    /// The rules for an escalated start in `cwd`: [`EscalationConfig::rules`], plus the
    /// rules of `cwd`'s project when it is trusted (see
    /// [`EscalationConfig::project_layers`]). A project whose configuration or rules do
    /// not load refuses the start (`escalationUnavailable`, naming the file): its rules
    /// may be what forbids a command.
    pub(crate) async fn rules_for(
        &self,
        cwd: &std::path::Path,
    ) -> Result<Arc<codex_execpolicy::Policy>, ExecError> {
        let Some(locations) = &self.project_layers else {
            return Ok(Arc::clone(&self.rules));
        };
        let unavailable = |what: String| {
            ExecError::EscalationUnavailable(format!(
                "the rules of the project of {}: {what}",
                cwd.display()
            ))
        };
        let options = codex_config::ConfigOptions::with_paths(
            cwd,
            &locations.codex_home,
            &locations.system_dir,
        );
        let config = codex_config::load_config(&options, &codex_config::LocalFs)
            .await
            .map_err(|err| unavailable(err.to_string()))?;
        let project_dirs: Vec<PathBuf> = codex_config::layer_dirs(&options, &config)
            .into_iter()
            .filter(|layer| layer.kind == codex_config::LayerKind::Project)
            .map(|layer| layer.dir)
            .collect();
        let project_files = codex_execpolicy::rules_files_in_layers(&project_dirs)
            .map_err(|err| unavailable(err.to_string()))?;
        if project_files.is_empty() {
            return Ok(Arc::clone(&self.rules));
        }
        let files: Vec<&PathBuf> = self.rules_files.iter().chain(&project_files).collect();
        codex_execpolicy::load_policy(files)
            .map(Arc::new)
            .map_err(|err| unavailable(err.to_string()))
    }
}

impl Default for EscalationConfig {
    fn default() -> Self {
        Self {
            shells: BTreeMap::new(),
            execve_wrapper: None,
            rules: Arc::new(codex_execpolicy::Policy::empty()),
            approval_timeout: DEFAULT_APPROVAL_TIMEOUT,
            rules_files: Vec::new(),
            project_layers: None,
        }
    }
}

impl std::fmt::Debug for EscalationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EscalationConfig")
            .field("shells", &self.shells)
            .field("execve_wrapper", &self.execve_wrapper)
            .field("rules", &self.rules.rules().len())
            .field("approval_timeout", &self.approval_timeout)
            .field("rules_files", &self.rules_files)
            .field("project_layers", &self.project_layers)
            .finish()
    }
}

/// Asks the client of a session whether a `prompt` command may run outside the sandbox
/// (the server sends `approval/request`). Every failure answers [`ApprovalDecision::Deny`].
pub(crate) trait AskClient: Send + Sync {
    /// The client's decision.
    fn ask(self: Arc<Self>, request: ApprovalRequest) -> BoxFuture<'static, ApprovalDecision>;
}

#[cfg(test)]
#[path = "escalation_tests.rs"]
mod tests;
