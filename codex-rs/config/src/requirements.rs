//! Admin requirements: `<system_dir>/requirements.toml` plus an optional cloud copy.

use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use codex_protocol::SandboxPolicy;
use serde::Deserialize;
use toml::Spanned;

use crate::SandboxMode;
use crate::cloud::CloudFetchOptions;
use crate::cloud::CloudOrigin;
use crate::cloud::fetch_cloud_requirements;
use crate::error::ConfigWarning;
use crate::error::RequirementsError;
use crate::toml_util::DocOrigin;
use crate::toml_util::Schema;
use crate::toml_util::parse_doc;

/// File name of the local requirements under the system directory.
pub const REQUIREMENTS_FILE: &str = "requirements.toml";

/// Default `cache_ttl` of the cloud copy, in seconds.
pub const DEFAULT_CLOUD_CACHE_TTL_SECS: u64 = 3600;

/// `[cloud_requirements]` from the local requirements file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudRequirementsConfig {
    /// Where to fetch the requirements TOML (`https://` only).
    pub url: String,
    /// A file holding the bearer token (trimmed); no `Authorization` header when absent.
    pub token_file: Option<PathBuf>,
    /// Refuse to start when no fresh copy can be obtained.
    pub fail_closed: bool,
    /// How long a fetched copy is used without asking the server again.
    pub cache_ttl: Duration,
}

/// A requirements document (local or cloud) as written.
#[derive(Debug, Default, Deserialize)]
struct RequirementsToml {
    allowed_sandbox_modes: Option<Vec<SandboxMode>>,
    cloud_requirements: Option<CloudRequirementsToml>,
}

#[derive(Debug, Deserialize)]
struct CloudRequirementsToml {
    url: Spanned<String>,
    token_file: Option<PathBuf>,
    #[serde(default)]
    fail_closed: bool,
    cache_ttl: Option<u64>,
}

const LOCAL_SCHEMA: Schema = Schema::Table(&[
    ("allowed_sandbox_modes", Schema::Leaf),
    (
        "cloud_requirements",
        Schema::Table(&[
            ("url", Schema::Leaf),
            ("token_file", Schema::Leaf),
            ("fail_closed", Schema::Leaf),
            ("cache_ttl", Schema::Leaf),
        ]),
    ),
]);

/// The keys a cloud requirements document may contain (it cannot point at another
/// cloud source).
const CLOUD_SCHEMA: Schema = Schema::Table(&[("allowed_sandbox_modes", Schema::Leaf)]);

/// A parsed cloud document: the constraints and the warnings (unknown keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CloudDoc {
    pub(crate) allowed_sandbox_modes: Option<Vec<SandboxMode>>,
    pub(crate) warnings: Vec<ConfigWarning>,
}

pub(crate) fn parse_cloud_doc(text: &str, url: &str) -> Result<CloudDoc, RequirementsError> {
    let doc = parse_doc::<RequirementsToml>(text, DocOrigin::Url(url), &CLOUD_SCHEMA)
        .map_err(|(location, message)| RequirementsError::Invalid { location, message })?;
    Ok(CloudDoc {
        allowed_sandbox_modes: doc.typed.allowed_sandbox_modes,
        warnings: unknown_key_warnings(doc.unknown_keys),
    })
}

fn unknown_key_warnings(keys: Vec<(String, crate::error::Location)>) -> Vec<ConfigWarning> {
    keys.into_iter()
        .map(|(key, location)| ConfigWarning::UnknownKey { location, key })
        .collect()
}

/// The effective admin constraints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirements {
    /// `None`: no constraint. Otherwise non-empty, in [`SandboxMode::ALL`] order.
    allowed_sandbox_modes: Option<Vec<SandboxMode>>,
    /// Where the cloud copy came from, when a cloud source is configured.
    cloud_origin: Option<CloudOrigin>,
}

impl Default for Requirements {
    fn default() -> Self {
        Self::unrestricted()
    }
}

impl Requirements {
    /// No constraints at all.
    pub fn unrestricted() -> Self {
        Self {
            allowed_sandbox_modes: None,
            cloud_origin: None,
        }
    }

    /// Combines the local and cloud lists: each `None` means "no constraint", two lists
    /// intersect. A result that allows nothing is [`RequirementsError::ForbidEveryMode`].
    pub fn from_lists(
        local: Option<&[SandboxMode]>,
        cloud: Option<&[SandboxMode]>,
    ) -> Result<Self, RequirementsError> {
        let allowed = match (local, cloud) {
            (None, None) => None,
            (Some(one), None) | (None, Some(one)) => Some(normalize(one, |_| true)),
            (Some(local), Some(cloud)) => Some(normalize(local, |mode| cloud.contains(&mode))),
        };
        if allowed.as_ref().is_some_and(Vec::is_empty) {
            return Err(RequirementsError::ForbidEveryMode);
        }
        Ok(Self {
            allowed_sandbox_modes: allowed,
            cloud_origin: None,
        })
    }

    /// The allowed modes, most restrictive first (every mode when unconstrained).
    pub fn allowed_sandbox_modes(&self) -> Vec<SandboxMode> {
        self.allowed_sandbox_modes
            .clone()
            .unwrap_or_else(|| SandboxMode::ALL.to_vec())
    }

    /// Where the cloud copy came from, when a cloud source is configured.
    pub fn cloud_origin(&self) -> Option<CloudOrigin> {
        self.cloud_origin
    }

    /// The mode used when the config sets none: the most restrictive allowed one.
    pub fn default_sandbox_mode(&self) -> SandboxMode {
        self.allowed_sandbox_modes()
            .first()
            .copied()
            .unwrap_or(SandboxMode::ReadOnly)
    }

    /// Whether `mode` is allowed.
    pub fn check_mode(&self, mode: SandboxMode) -> Result<(), RequirementsError> {
        let allowed = self.allowed_sandbox_modes();
        if allowed.contains(&mode) {
            Ok(())
        } else {
            Err(RequirementsError::ModeNotAllowed { mode, allowed })
        }
    }

    /// Whether `policy` is allowed; see [`SandboxMode::of_policy`] (`ExternalSandbox`
    /// is checked as `danger-full-access`).
    pub fn check_policy(&self, policy: &SandboxPolicy) -> Result<(), RequirementsError> {
        self.check_mode(SandboxMode::of_policy(policy))
    }
}

fn normalize(list: &[SandboxMode], keep: impl Fn(SandboxMode) -> bool) -> Vec<SandboxMode> {
    SandboxMode::ALL
        .into_iter()
        .filter(|mode| list.contains(mode) && keep(*mode))
        .collect()
}

/// The requirements plus the warnings gathered while loading them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedRequirements {
    /// The effective constraints.
    pub requirements: Requirements,
    /// The `[cloud_requirements]` section, when present.
    pub cloud: Option<CloudRequirementsConfig>,
    /// Unknown keys, cloud fetch trouble (fail-open), ...
    pub warnings: Vec<ConfigWarning>,
}

/// Loads `<system_dir>/requirements.toml` (a missing file means no constraints) and,
/// when it has `[cloud_requirements]`, the cloud copy (cached under `codex_home`).
pub async fn load_requirements(
    system_dir: &Path,
    codex_home: &Path,
    options: &CloudFetchOptions,
) -> Result<LoadedRequirements, RequirementsError> {
    let path = system_dir.join(REQUIREMENTS_FILE);
    let text = match tokio::fs::read_to_string(&path).await {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(LoadedRequirements {
                requirements: Requirements::unrestricted(),
                cloud: None,
                warnings: Vec::new(),
            });
        }
        Err(source) => return Err(RequirementsError::Read { path, source }),
    };
    let origin = DocOrigin::File(&path);
    let doc = parse_doc::<RequirementsToml>(&text, origin, &LOCAL_SCHEMA)
        .map_err(|(location, message)| RequirementsError::Invalid { location, message })?;
    let mut warnings = unknown_key_warnings(doc.unknown_keys);
    let local = doc.typed.allowed_sandbox_modes;

    let Some(cloud_toml) = doc.typed.cloud_requirements else {
        let requirements = Requirements::from_lists(local.as_deref(), /*cloud*/ None)?;
        return Ok(LoadedRequirements {
            requirements,
            cloud: None,
            warnings,
        });
    };

    let url = cloud_toml.url.get_ref().clone();
    let url_error = |message: String| RequirementsError::Invalid {
        location: origin.location(&text, Some(cloud_toml.url.span())),
        message,
    };
    let parsed = reqwest::Url::parse(&url).map_err(|err| url_error(format!("bad url: {err}")))?;
    let scheme_ok = parsed.scheme() == "https" || (options.allow_http && parsed.scheme() == "http");
    if !scheme_ok {
        return Err(url_error(format!(
            "cloud requirements url `{url}` must use https://"
        )));
    }
    let cloud = CloudRequirementsConfig {
        url,
        token_file: cloud_toml.token_file.map(|file| system_dir.join(file)),
        fail_closed: cloud_toml.fail_closed,
        cache_ttl: Duration::from_secs(
            cloud_toml.cache_ttl.unwrap_or(DEFAULT_CLOUD_CACHE_TTL_SECS),
        ),
    };
    let fetched = fetch_cloud_requirements(&cloud, codex_home, options).await?;
    warnings.extend(fetched.warnings);
    let mut requirements =
        Requirements::from_lists(local.as_deref(), fetched.allowed_sandbox_modes.as_deref())?;
    requirements.cloud_origin = Some(fetched.origin);
    Ok(LoadedRequirements {
        requirements,
        cloud: Some(cloud),
        warnings,
    })
}
