//! Shared fixtures: a temp dir holding a system dir, a CODEX_HOME and a project.

mod cloud;
mod errors;
mod layers;
mod overrides;
mod requirements;

use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use codex_config::CloudFetchOptions;
use codex_config::Config;
use codex_config::ConfigError;
use codex_config::ConfigOptions;
use codex_config::LocalFs;
use codex_config::load_config;
use tempfile::TempDir;

/// A sandboxed world: nothing is read from the real `/etc` or `~`.
pub(crate) struct World {
    _tmp: TempDir,
    pub(crate) root: PathBuf,
    pub(crate) system_dir: PathBuf,
    pub(crate) codex_home: PathBuf,
    /// `<root>/repo`, with a `.git` marker.
    pub(crate) repo: PathBuf,
}

impl World {
    pub(crate) fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let system_dir = root.join("etc-codex");
        let codex_home = root.join("home/.codex");
        let repo = root.join("repo");
        for dir in [&system_dir, &codex_home, &repo.join(".git")] {
            std::fs::create_dir_all(dir).unwrap();
        }
        Self {
            _tmp: tmp,
            root,
            system_dir,
            codex_home,
            repo,
        }
    }

    pub(crate) fn write(&self, path: &Path, text: &str) -> PathBuf {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        path.to_path_buf()
    }

    pub(crate) fn system(&self, text: &str) -> PathBuf {
        self.write(&self.system_dir.join("config.toml"), text)
    }

    pub(crate) fn user(&self, text: &str) -> PathBuf {
        self.write(&self.codex_home.join("config.toml"), text)
    }

    pub(crate) fn requirements(&self, text: &str) -> PathBuf {
        self.write(&self.system_dir.join("requirements.toml"), text)
    }

    /// `<dir>/.codex/config.toml`.
    pub(crate) fn project(&self, dir: &Path, text: &str) -> PathBuf {
        self.write(&dir.join(".codex/config.toml"), text)
    }

    pub(crate) fn trust_repo(&self) -> String {
        format!(
            "[projects.\"{}\"]\ntrust_level = \"trusted\"\n",
            self.repo.display()
        )
    }

    pub(crate) fn options(&self, cwd: &Path, overrides: &[&str]) -> ConfigOptions {
        let mut options = ConfigOptions::with_paths(cwd, &self.codex_home, &self.system_dir);
        options.overrides = overrides.iter().map(|o| (*o).to_string()).collect();
        options.cloud = test_fetch_options();
        options
    }

    pub(crate) async fn load(&self, cwd: &Path, overrides: &[&str]) -> Result<Config, ConfigError> {
        load_config(&self.options(cwd, overrides), &LocalFs).await
    }
}

pub(crate) fn test_fetch_options() -> CloudFetchOptions {
    CloudFetchOptions {
        timeout: Duration::from_millis(500),
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_body_bytes: 1024 * 1024,
        allow_http: true,
    }
}
