//! Errors, warnings and the places they point at.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::SandboxMode;

/// Which layer a value (or an error) came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerSource {
    /// The system config, `<system_dir>/config.toml` (default `/etc/codex/config.toml`).
    System {
        /// The file that was read.
        file: PathBuf,
    },
    /// The user config, `$CODEX_HOME/config.toml`.
    User {
        /// The file that was read.
        file: PathBuf,
    },
    /// A trusted project's `.codex/config.toml`.
    Project {
        /// The file that was read.
        file: PathBuf,
    },
    /// A `-c key=value` override.
    Override {
        /// The key as given (possibly dotted).
        key: String,
        /// The value as given, before parsing.
        value: String,
    },
}

impl fmt::Display for LayerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayerSource::System { file } => write!(f, "system config {}", file.display()),
            LayerSource::User { file } => write!(f, "user config {}", file.display()),
            LayerSource::Project { file } => write!(f, "project config {}", file.display()),
            LayerSource::Override { key, value } => write!(f, "-c {key}={value}"),
        }
    }
}

/// Where in a document a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A position in a local file (1-based line and column).
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
    },
    /// A `-c key=value` override (it has no lines).
    Override {
        /// The override as given, `key=value`.
        raw: String,
    },
    /// A position in the cloud requirements document.
    Url {
        /// The URL it was fetched from.
        url: String,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File { path, line, column } => {
                write!(f, "{}:{line}:{column}", path.display())
            }
            Location::Override { raw } => write!(f, "-c {raw}"),
            Location::Url { url, line, column } => write!(f, "{url}:{line}:{column}"),
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The working directory does not exist (or is not a directory).
    #[error("working directory {} does not exist or is not a directory", cwd.display())]
    CwdNotFound {
        /// The cwd as given.
        cwd: PathBuf,
    },
    /// The working directory is not an absolute path.
    #[error("working directory {} is not an absolute path", cwd.display())]
    CwdNotAbsolute {
        /// The cwd as given.
        cwd: PathBuf,
    },
    /// A file exists but could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Malformed TOML, a wrong type or a bad value.
    #[error("{location}: {message}")]
    Invalid {
        /// Where (file:line:column or `-c key=value`).
        location: Location,
        /// What is wrong, including the expected type or values.
        message: String,
    },
    /// A `-c` argument that is not `key=value`.
    #[error("invalid override `-c {raw}`: {message}")]
    BadOverride {
        /// The argument as given.
        raw: String,
        /// What is wrong with it.
        message: String,
    },
    /// Neither `CODEX_HOME` nor `HOME` is set.
    #[error("cannot locate CODEX_HOME: set CODEX_HOME or HOME")]
    NoCodexHome,
    /// The configured `sandbox_mode` is forbidden by the requirements.
    #[error("{set_by}: {error}")]
    SandboxModeForbidden {
        /// The layer that set `sandbox_mode`.
        set_by: LayerSource,
        /// The requirements check that failed.
        #[source]
        error: RequirementsError,
    },
    /// The requirements could not be loaded.
    #[error(transparent)]
    Requirements(#[from] RequirementsError),
}

/// Why the requirements could not be loaded, or why a policy is not allowed.
#[derive(Debug, thiserror::Error)]
pub enum RequirementsError {
    /// A requirements file exists but could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// Malformed TOML, a wrong type or a bad value in a requirements document.
    #[error("{location}: {message}")]
    Invalid {
        /// Where.
        location: Location,
        /// What is wrong.
        message: String,
    },
    /// The allowed lists (local, cloud, or their intersection) allow no mode at all.
    #[error("requirements forbid every sandbox mode")]
    ForbidEveryMode,
    /// A sandbox mode that the requirements do not allow.
    #[error(
        "sandbox mode `{mode}` is not allowed by requirements (allowed: {})",
        join_modes(allowed)
    )]
    ModeNotAllowed {
        /// The mode that was asked for.
        mode: SandboxMode,
        /// The modes that are allowed.
        allowed: Vec<SandboxMode>,
    },
    /// `fail_closed = true` and no fresh cloud copy could be obtained.
    #[error(
        "cloud requirements from {url} are required (fail_closed = true) but could not be \
         fetched: {reason}. Check the network connection and the token in token_file, or ask \
         your administrator to fix the requirements service or set fail_closed = false"
    )]
    CloudFetch {
        /// The URL that was fetched.
        url: String,
        /// What failed (status, timeout, size cap, malformed TOML, ...).
        reason: String,
    },
}

fn join_modes(modes: &[SandboxMode]) -> String {
    let names: Vec<&str> = modes.iter().map(|m| m.as_str()).collect();
    names.join(", ")
}

/// Something worth telling the user that does not stop loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigWarning {
    /// A key this version does not know.
    UnknownKey {
        /// Where the key is (file:line:column, `-c ...`, or URL).
        location: Location,
        /// The dotted key.
        key: String,
    },
    /// A key that a project layer may not set (it would let a project widen its own
    /// trust or move its own root); it is ignored.
    IgnoredInProject {
        /// Where the key is.
        location: Location,
        /// The key.
        key: String,
    },
    /// The cloud requirements could not be refreshed and `fail_closed` is false.
    CloudRequirements {
        /// What failed and what is used instead.
        message: String,
    },
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigWarning::UnknownKey { location, key } => {
                write!(f, "{location}: unknown key `{key}` (ignored)")
            }
            ConfigWarning::IgnoredInProject { location, key } => write!(
                f,
                "{location}: `{key}` cannot be set in a project config (ignored)"
            ),
            ConfigWarning::CloudRequirements { message } => f.write_str(message),
        }
    }
}
