//! Finding, reading, validating and merging the layers.

use std::collections::BTreeMap;
use std::path::Path;
use std::path::PathBuf;

use codex_utils_absolute_path::AbsolutePathBuf;
use toml::Table;
use toml::Value;

use crate::cloud::CloudFetchOptions;
use crate::config::CONFIG_SCHEMA;
use crate::config::Config;
use crate::config::ConfigToml;
use crate::config::DEFAULT_PROJECT_DOC_MAX_BYTES;
use crate::config::DEFAULT_PROJECT_ROOT_MARKERS;
use crate::config::PROJECT_FORBIDDEN_KEYS;
use crate::config::sandbox_policy;
use crate::error::ConfigError;
use crate::error::ConfigWarning;
use crate::error::LayerSource;
use crate::error::Location;
use crate::fs::ProjectFs;
use crate::fs::read_local;
use crate::requirements::load_requirements;
use crate::toml_util::DocOrigin;
use crate::toml_util::merge;
use crate::toml_util::nest;
use crate::toml_util::parse_doc;
use crate::toml_util::parse_override;
use crate::toml_util::unknown_keys;

/// The system directory: `config.toml` and `requirements.toml` live here.
pub const SYSTEM_CONFIG_DIR: &str = "/etc/codex";
/// File name of every config layer.
pub const CONFIG_FILE: &str = "config.toml";
/// The per-directory folder holding a project layer (`.codex/config.toml`).
pub const PROJECT_CONFIG_DIR: &str = ".codex";

/// Everything the loader needs; every path is injectable so tests never touch `/etc`
/// or `~`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigOptions {
    /// The working directory (absolute).
    pub cwd: PathBuf,
    /// `$CODEX_HOME` (user layer, cloud cache).
    pub codex_home: PathBuf,
    /// The system directory (default [`SYSTEM_CONFIG_DIR`]).
    pub system_dir: PathBuf,
    /// `-c key=value` arguments, in command-line order (later wins).
    pub overrides: Vec<String>,
    /// How the cloud requirements are fetched.
    pub cloud: CloudFetchOptions,
}

impl ConfigOptions {
    /// Options with the real locations: `$CODEX_HOME` (else `~/.codex`) and `/etc/codex`.
    pub fn new(cwd: impl Into<PathBuf>) -> Result<Self, ConfigError> {
        Ok(Self::with_paths(
            cwd,
            default_codex_home()?,
            PathBuf::from(SYSTEM_CONFIG_DIR),
        ))
    }

    /// Options with explicit locations (tests, embedders).
    pub fn with_paths(
        cwd: impl Into<PathBuf>,
        codex_home: impl Into<PathBuf>,
        system_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            cwd: cwd.into(),
            codex_home: codex_home.into(),
            system_dir: system_dir.into(),
            overrides: Vec::new(),
            cloud: CloudFetchOptions::default(),
        }
    }
}

/// `$CODEX_HOME` when set and non-empty, else `$HOME/.codex`.
pub fn default_codex_home() -> Result<PathBuf, ConfigError> {
    if let Some(home) = std::env::var_os("CODEX_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|home| PathBuf::from(home).join(".codex"))
        .ok_or(ConfigError::NoCodexHome)
}

/// Which layer a [`LayerDir`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// The system directory (default [`SYSTEM_CONFIG_DIR`]).
    System,
    /// `$CODEX_HOME`.
    User,
    /// A trusted project's `.codex` directory.
    Project,
}

/// The directory of a config layer: where its `config.toml` and its other per-layer
/// files (such as `rules/`) live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDir {
    /// Which layer.
    pub kind: LayerKind,
    /// The directory (it may not exist).
    pub dir: PathBuf,
}

/// The layer directories behind `config` (loaded with `options`), lowest precedence
/// first: the system directory, `$CODEX_HOME`, then — only when the project is trusted —
/// `<dir>/.codex` for each directory from the project root down to the cwd
/// (`$CODEX_HOME` itself skipped, as [`load_config`] does). Every directory is listed
/// whether or not it exists or holds a `config.toml`; callers look for their own files.
pub fn layer_dirs(options: &ConfigOptions, config: &Config) -> Vec<LayerDir> {
    let mut dirs = vec![
        LayerDir {
            kind: LayerKind::System,
            dir: options.system_dir.clone(),
        },
        LayerDir {
            kind: LayerKind::User,
            dir: options.codex_home.clone(),
        },
    ];
    if config.project_trusted {
        let codex_home = AbsolutePathBuf::try_from_absolute(&options.codex_home).ok();
        for dir in dirs_from_root_to_cwd(&config.project_root, &config.cwd) {
            let codex_dir = dir.join(PROJECT_CONFIG_DIR);
            if codex_home.as_ref() != Some(&codex_dir) {
                dirs.push(LayerDir {
                    kind: LayerKind::Project,
                    dir: codex_dir.into_path_buf(),
                });
            }
        }
    }
    dirs
}

struct Layer {
    source: LayerSource,
    table: Table,
    typed: ConfigToml,
}

/// Loads the requirements, then the layers (system, user, trusted project layers from
/// the project root down to the cwd, `-c` overrides), merges them and checks the result
/// against the requirements.
pub async fn load_config<F: ProjectFs>(
    options: &ConfigOptions,
    project_fs: &F,
) -> Result<Config, ConfigError> {
    let loaded =
        load_requirements(&options.system_dir, &options.codex_home, &options.cloud).await?;
    let requirements = loaded.requirements;
    let mut warnings = loaded.warnings;

    let cwd = AbsolutePathBuf::try_from_absolute(&options.cwd).map_err(|_| {
        ConfigError::CwdNotAbsolute {
            cwd: options.cwd.clone(),
        }
    })?;
    let cwd_is_dir =
        project_fs
            .is_dir(cwd.as_path())
            .await
            .map_err(|source| ConfigError::Read {
                path: options.cwd.clone(),
                source,
            })?;
    if !cwd_is_dir {
        return Err(ConfigError::CwdNotFound {
            cwd: options.cwd.clone(),
        });
    }

    let mut base_layers = Vec::new();
    let system_file = options.system_dir.join(CONFIG_FILE);
    if let Some(text) = read_or_err(&system_file, read_local(&system_file).await)? {
        let source = LayerSource::System {
            file: system_file.clone(),
        };
        base_layers.push(file_layer(&text, &system_file, source, &mut warnings)?);
    }
    let user_file = options.codex_home.join(CONFIG_FILE);
    if let Some(text) = read_or_err(&user_file, read_local(&user_file).await)? {
        let source = LayerSource::User {
            file: user_file.clone(),
        };
        base_layers.push(file_layer(&text, &user_file, source, &mut warnings)?);
    }
    let override_layers = options
        .overrides
        .iter()
        .map(|raw| override_layer(raw, &mut warnings))
        .collect::<Result<Vec<_>, _>>()?;

    // The root markers and the trust entries come from the layers that are not project
    // layers: the project layers can only be found once the root is known.
    let pre_project: Vec<&Layer> = base_layers.iter().chain(&override_layers).collect();
    let (pre_merged, _) = merge_layers(&pre_project)?;
    let markers = pre_merged.project_root_markers.clone().unwrap_or_else(|| {
        DEFAULT_PROJECT_ROOT_MARKERS
            .iter()
            .map(|m| (*m).to_string())
            .collect()
    });
    let project_root = find_project_root(project_fs, &cwd, &markers).await?;
    let project_trusted = pre_merged.is_trusted(&project_root);

    let mut project_layers = Vec::new();
    if project_trusted {
        let codex_home = AbsolutePathBuf::try_from_absolute(&options.codex_home).ok();
        for dir in dirs_from_root_to_cwd(&project_root, &cwd) {
            let codex_dir = dir.join(PROJECT_CONFIG_DIR);
            if codex_home.as_ref() == Some(&codex_dir) {
                // `~/.codex` is the user layer, not a project layer.
                continue;
            }
            let file = codex_dir.join(CONFIG_FILE).into_path_buf();
            let read = project_fs.read_to_string(&file).await;
            if let Some(text) = read_or_err(&file, read)? {
                let source = LayerSource::Project { file: file.clone() };
                let mut layer = file_layer(&text, &file, source, &mut warnings)?;
                strip_forbidden(&mut layer, &text, &file, &mut warnings);
                project_layers.push(layer);
            }
        }
    }

    let all: Vec<&Layer> = base_layers
        .iter()
        .chain(&project_layers)
        .chain(&override_layers)
        .collect();
    let (merged, sources) = merge_layers(&all)?;

    let sandbox_mode = match (merged.sandbox_mode, sources.get("sandbox_mode")) {
        (Some(mode), Some(set_by)) => {
            requirements
                .check_mode(mode)
                .map_err(|error| ConfigError::SandboxModeForbidden {
                    set_by: set_by.clone(),
                    error,
                })?;
            mode
        }
        _ => requirements.default_sandbox_mode(),
    };
    let sandbox_policy =
        sandbox_policy(sandbox_mode, merged.sandbox_workspace_write.as_ref(), &cwd);

    Ok(Config {
        sandbox_mode,
        sandbox_policy,
        project_root_markers: markers,
        project_doc_max_bytes: merged
            .project_doc_max_bytes
            .unwrap_or(DEFAULT_PROJECT_DOC_MAX_BYTES),
        project_doc_fallback_filenames: merged.project_doc_fallback_filenames.unwrap_or_default(),
        layers: all.iter().map(|layer| layer.source.clone()).collect(),
        sources,
        requirements,
        warnings,
        cwd,
        project_root,
        project_trusted,
    })
}

fn read_or_err(
    path: &Path,
    read: std::io::Result<Option<String>>,
) -> Result<Option<String>, ConfigError> {
    read.map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn file_layer(
    text: &str,
    path: &Path,
    source: LayerSource,
    warnings: &mut Vec<ConfigWarning>,
) -> Result<Layer, ConfigError> {
    let doc = parse_doc::<ConfigToml>(text, DocOrigin::File(path), &CONFIG_SCHEMA)
        .map_err(|(location, message)| ConfigError::Invalid { location, message })?;
    warnings.extend(
        doc.unknown_keys
            .into_iter()
            .map(|(key, location)| ConfigWarning::UnknownKey { location, key }),
    );
    Ok(Layer {
        source,
        table: doc.table,
        typed: doc.typed,
    })
}

fn override_layer(raw: &str, warnings: &mut Vec<ConfigWarning>) -> Result<Layer, ConfigError> {
    let parsed = parse_override(raw).map_err(|message| ConfigError::BadOverride {
        raw: raw.to_string(),
        message,
    })?;
    let table = nest(&parsed.path, parsed.value);
    let location = Location::Override {
        raw: raw.to_string(),
    };
    let typed: ConfigToml =
        Value::Table(table.clone())
            .try_into()
            .map_err(|err: toml::de::Error| ConfigError::Invalid {
                location: location.clone(),
                message: err.message().trim().to_string(),
            })?;
    warnings.extend(
        unknown_keys(&table, &CONFIG_SCHEMA)
            .into_iter()
            .map(|path| ConfigWarning::UnknownKey {
                location: location.clone(),
                key: crate::toml_util::dotted(&path),
            }),
    );
    Ok(Layer {
        source: LayerSource::Override {
            key: parsed.key,
            value: parsed.value_text,
        },
        table,
        typed,
    })
}

/// Removes the keys a project layer may not set, with a warning for each.
fn strip_forbidden(layer: &mut Layer, text: &str, file: &Path, warnings: &mut Vec<ConfigWarning>) {
    for key in PROJECT_FORBIDDEN_KEYS {
        if layer.table.remove(*key).is_some() {
            let span = toml::de::DeTable::parse(text).ok().and_then(|doc| {
                doc.get_ref()
                    .iter()
                    .find(|(k, _)| k.get_ref().as_ref() == *key)
                    .map(|(k, _)| k.span())
            });
            warnings.push(ConfigWarning::IgnoredInProject {
                location: DocOrigin::File(file).location(text, span),
                key: (*key).to_string(),
            });
        }
    }
    layer.typed.projects = None;
    layer.typed.project_root_markers = None;
}

/// Deep-merges the layers (lowest first) and types the result.
fn merge_layers(
    layers: &[&Layer],
) -> Result<(ConfigToml, BTreeMap<String, LayerSource>), ConfigError> {
    let mut table = Table::new();
    let mut sources = BTreeMap::new();
    for layer in layers {
        merge(&mut table, &layer.table, &layer.source, &mut sources);
    }
    // Every layer was typed on its own; only the merge is typed here, and a merge of
    // valid layers is valid. Should it not be, blame the highest layer.
    let typed = match layers.last() {
        Some(last) if layers.len() == 1 => last.typed.clone(),
        _ => Value::Table(table)
            .try_into()
            .map_err(|err: toml::de::Error| ConfigError::Invalid {
                location: Location::Override {
                    raw: layers
                        .last()
                        .map(|l| l.source.to_string())
                        .unwrap_or_default(),
                },
                message: err.message().trim().to_string(),
            })?,
    };
    Ok((typed, sources))
}

/// The nearest ancestor of `cwd` (the cwd included) that holds one of `markers`; the cwd
/// itself when none does or `markers` is empty.
async fn find_project_root<F: ProjectFs>(
    project_fs: &F,
    cwd: &AbsolutePathBuf,
    markers: &[String],
) -> Result<AbsolutePathBuf, ConfigError> {
    if markers.is_empty() {
        return Ok(cwd.clone());
    }
    let mut dir = Some(cwd.clone());
    while let Some(current) = dir {
        for marker in markers {
            let candidate = current.join(marker);
            let found = project_fs
                .exists(candidate.as_path())
                .await
                .map_err(|source| ConfigError::Read {
                    path: candidate.into_path_buf(),
                    source,
                })?;
            if found {
                return Ok(current);
            }
        }
        dir = current.parent();
    }
    Ok(cwd.clone())
}

/// `root`, then each directory below it down to `cwd` (which lies under `root`).
fn dirs_from_root_to_cwd(root: &AbsolutePathBuf, cwd: &AbsolutePathBuf) -> Vec<AbsolutePathBuf> {
    let mut dirs = Vec::new();
    let mut dir = Some(cwd.clone());
    while let Some(current) = dir {
        let at_root = &current == root;
        dir = if at_root { None } else { current.parent() };
        dirs.push(current);
        if at_root {
            break;
        }
    }
    dirs.reverse();
    dirs
}
