//! The keys of `config.toml`, the effective [`Config`], and the mapping to
//! [`SandboxPolicy`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use codex_protocol::ReadOnlyAccess;
use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;
use serde::Deserialize;
use serde::Serialize;

use crate::error::ConfigWarning;
use crate::error::LayerSource;
use crate::requirements::Requirements;
use crate::toml_util::Schema;

/// Default `project_doc_max_bytes`: 32 KiB.
pub const DEFAULT_PROJECT_DOC_MAX_BYTES: usize = 32 * 1024;

/// Default `project_root_markers`.
pub const DEFAULT_PROJECT_ROOT_MARKERS: &[&str] = &[".git"];

/// The value of `sandbox_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SandboxMode {
    /// Nothing is writable.
    ReadOnly,
    /// The cwd (and the configured writable roots) are writable.
    WorkspaceWrite,
    /// No sandbox.
    DangerFullAccess,
}

impl SandboxMode {
    /// Every mode, most restrictive first.
    pub const ALL: [SandboxMode; 3] = [
        SandboxMode::ReadOnly,
        SandboxMode::WorkspaceWrite,
        SandboxMode::DangerFullAccess,
    ];

    /// The name used in TOML (`read-only`, `workspace-write`, `danger-full-access`).
    pub fn as_str(self) -> &'static str {
        match self {
            SandboxMode::ReadOnly => "read-only",
            SandboxMode::WorkspaceWrite => "workspace-write",
            SandboxMode::DangerFullAccess => "danger-full-access",
        }
    }

    /// The mode a policy corresponds to, for requirement checks.
    ///
    /// `ExternalSandbox` counts as `danger-full-access`: Codex itself does not restrict
    /// the filesystem under it (it trusts a sandbox it cannot inspect), so requirements
    /// that forbid `danger-full-access` forbid it too.
    pub fn of_policy(policy: &SandboxPolicy) -> SandboxMode {
        match policy {
            SandboxPolicy::ReadOnly { .. } => SandboxMode::ReadOnly,
            SandboxPolicy::WorkspaceWrite { .. } => SandboxMode::WorkspaceWrite,
            SandboxPolicy::DangerFullAccess | SandboxPolicy::ExternalSandbox { .. } => {
                SandboxMode::DangerFullAccess
            }
        }
    }
}

impl fmt::Display for SandboxMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SandboxMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SandboxMode::ALL
            .into_iter()
            .find(|mode| mode.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown sandbox mode `{s}`, expected one of `read-only`, \
                     `workspace-write`, `danger-full-access`"
                )
            })
    }
}

/// `[sandbox_workspace_write]` as written (every field optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct SandboxWorkspaceWriteToml {
    pub(crate) writable_roots: Option<Vec<PathBuf>>,
    pub(crate) network_access: Option<bool>,
    pub(crate) exclude_tmpdir_env_var: Option<bool>,
    pub(crate) exclude_slash_tmp: Option<bool>,
}

/// How far a project is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum TrustLevel {
    Trusted,
    Untrusted,
}

/// `[projects."/abs/path"]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct ProjectToml {
    pub(crate) trust_level: Option<TrustLevel>,
}

/// One layer (or the merge of several) as written; every key optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct ConfigToml {
    pub(crate) sandbox_mode: Option<SandboxMode>,
    pub(crate) sandbox_workspace_write: Option<SandboxWorkspaceWriteToml>,
    pub(crate) project_root_markers: Option<Vec<String>>,
    pub(crate) project_doc_max_bytes: Option<usize>,
    pub(crate) project_doc_fallback_filenames: Option<Vec<String>>,
    pub(crate) projects: Option<BTreeMap<String, ProjectToml>>,
}

const PROJECT_SCHEMA: Schema = Schema::Table(&[("trust_level", Schema::Leaf)]);

/// The keys `config.toml` may contain.
pub(crate) const CONFIG_SCHEMA: Schema = Schema::Table(&[
    ("sandbox_mode", Schema::Leaf),
    (
        "sandbox_workspace_write",
        Schema::Table(&[
            ("writable_roots", Schema::Leaf),
            ("network_access", Schema::Leaf),
            ("exclude_tmpdir_env_var", Schema::Leaf),
            ("exclude_slash_tmp", Schema::Leaf),
        ]),
    ),
    ("project_root_markers", Schema::Leaf),
    ("project_doc_max_bytes", Schema::Leaf),
    ("project_doc_fallback_filenames", Schema::Leaf),
    ("projects", Schema::AnyKeys(&PROJECT_SCHEMA)),
]);

/// Keys a project layer may not set: they decide which project layers are read.
pub(crate) const PROJECT_FORBIDDEN_KEYS: &[&str] = &["projects", "project_root_markers"];

impl ConfigToml {
    /// Whether `root` is marked `trust_level = "trusted"`. Keys are compared after
    /// lexical normalisation; a key that is not an absolute path never matches.
    pub(crate) fn is_trusted(&self, root: &AbsolutePathBuf) -> bool {
        self.projects.iter().flatten().any(|(path, project)| {
            project.trust_level == Some(TrustLevel::Trusted)
                && AbsolutePathBuf::try_from_absolute(path).is_ok_and(|p| &p == root)
        })
    }
}

/// The effective configuration after merging every layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The working directory the config was loaded for.
    pub cwd: AbsolutePathBuf,
    /// The project root (nearest ancestor of the cwd with a root marker, else the cwd).
    pub project_root: AbsolutePathBuf,
    /// Whether the project root is trusted (so its project layers were read).
    pub project_trusted: bool,
    /// The effective sandbox mode (configured, or the most restrictive allowed mode).
    pub sandbox_mode: SandboxMode,
    /// The policy `sandbox_mode` (and `[sandbox_workspace_write]`) map to.
    pub sandbox_policy: SandboxPolicy,
    /// Names whose presence marks a project root.
    pub project_root_markers: Vec<String>,
    /// Byte cap for project docs; 0 disables them.
    pub project_doc_max_bytes: usize,
    /// Names tried when `AGENTS.md` is missing.
    pub project_doc_fallback_filenames: Vec<String>,
    /// The layers that were found and read, lowest precedence first.
    pub layers: Vec<LayerSource>,
    /// For every key set by some layer (dotted, e.g. `sandbox_workspace_write.network_access`),
    /// the layer whose value won. Keys left at their default are absent.
    pub sources: BTreeMap<String, LayerSource>,
    /// The admin requirements the config was checked against.
    pub requirements: Requirements,
    /// Non-fatal problems: unknown keys, ignored keys, cloud fetch trouble.
    pub warnings: Vec<ConfigWarning>,
}

impl Config {
    /// The layer that set `key` (dotted), or `None` when it has its default value.
    pub fn source_of(&self, key: &str) -> Option<&LayerSource> {
        self.sources.get(key)
    }
}

/// Builds the policy for `mode`.
///
/// `workspace-write`: the cwd (the workspace Codex runs in) is writable, then the
/// `writable_roots`, relative ones resolved against the cwd (the same for every layer,
/// so `-c` and file values mean the same thing); reads are unrestricted
/// (`ReadOnlyAccess::FullAccess`); unset booleans are `false`. The policy names the cwd
/// itself because a sandbox policy grants only what it names. `read-only` reads
/// everything.
pub(crate) fn sandbox_policy(
    mode: SandboxMode,
    workspace_write: Option<&SandboxWorkspaceWriteToml>,
    cwd: &AbsolutePathBuf,
) -> SandboxPolicy {
    match mode {
        SandboxMode::ReadOnly => SandboxPolicy::ReadOnly {
            access: ReadOnlyAccess::FullAccess,
        },
        SandboxMode::DangerFullAccess => SandboxPolicy::DangerFullAccess,
        SandboxMode::WorkspaceWrite => {
            let ww = workspace_write.cloned().unwrap_or_default();
            SandboxPolicy::WorkspaceWrite {
                writable_roots: std::iter::once(cwd.clone())
                    .chain(
                        ww.writable_roots
                            .unwrap_or_default()
                            .iter()
                            .map(|root| AbsolutePathBuf::resolve(cwd, root)),
                    )
                    .collect(),
                read_only_access: ReadOnlyAccess::FullAccess,
                network_access: ww.network_access.unwrap_or(false),
                exclude_tmpdir_env_var: ww.exclude_tmpdir_env_var.unwrap_or(false),
                exclude_slash_tmp: ww.exclude_slash_tmp.unwrap_or(false),
            }
        }
    }
}
