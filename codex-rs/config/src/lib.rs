//! `codex-config`: Codex's layered configuration and admin requirements.
//!
//! Layers, lowest precedence first: the system `config.toml`, the user
//! `$CODEX_HOME/config.toml`, the `.codex/config.toml` of a trusted project (from the
//! project root down to the cwd), and `-c key=value` overrides. Tables merge deeply and
//! every effective value records the layer it came from. Requirements
//! (`requirements.toml`, optionally with a cloud copy) constrain the sandbox modes.
//! See `README.md` for the keys and the error/warning rules.
#![deny(missing_docs)]

mod cloud;
mod config;
mod error;
mod fs;
mod loader;
mod requirements;
mod toml_util;

pub use cloud::CLOUD_CACHE_FILE;
pub use cloud::CLOUD_CACHE_META_FILE;
pub use cloud::CloudFetch;
pub use cloud::CloudFetchOptions;
pub use cloud::CloudOrigin;
pub use cloud::fetch_cloud_requirements;
pub use config::Config;
pub use config::DEFAULT_PROJECT_DOC_MAX_BYTES;
pub use config::DEFAULT_PROJECT_ROOT_MARKERS;
pub use config::SandboxMode;
pub use error::ConfigError;
pub use error::ConfigWarning;
pub use error::LayerSource;
pub use error::Location;
pub use error::RequirementsError;
pub use fs::LocalFs;
pub use fs::ProjectFs;
pub use loader::CONFIG_FILE;
pub use loader::ConfigOptions;
pub use loader::LayerDir;
pub use loader::LayerKind;
pub use loader::PROJECT_CONFIG_DIR;
pub use loader::SYSTEM_CONFIG_DIR;
pub use loader::default_codex_home;
pub use loader::layer_dirs;
pub use loader::load_config;
pub use requirements::CloudRequirementsConfig;
pub use requirements::DEFAULT_CLOUD_CACHE_TTL_SECS;
pub use requirements::LoadedRequirements;
pub use requirements::REQUIREMENTS_FILE;
pub use requirements::Requirements;
pub use requirements::load_requirements;
