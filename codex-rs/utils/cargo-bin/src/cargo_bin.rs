//! Locating a binary target of the package under test.
//!
//! Cargo sets `CARGO_BIN_EXE_<bin>` to an absolute path, both when compiling an
//! integration test and (since Cargo 1.94; checked with 1.95) when running it. Bazel and
//! Buck2 set it to a path relative to the runfiles root, e.g.
//! `codex/codex-rs/exec-server/codex-exec-server`, because absolute paths break
//! sandboxing and remote execution. This module accepts both, and when no variable is
//! set at all (a test run some other way) builds the binary with `escargot`.

use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::path::PathBuf;

use crate::runfiles_lookup::Context;
use crate::runfiles_lookup::FoundRunfiles;
use crate::runfiles_lookup::discover_runfiles;

/// Why a binary could not be located.
#[derive(Debug, thiserror::Error)]
pub enum CargoBinError {
    /// No candidate path exists. `tried` lists every variable and path that was looked
    /// at, in order.
    #[error(
        "could not find binary `{name}`; tried:\n{tried}\nRun the test with `cargo test` or \
         `cargo nextest run` in the package that declares the binary `{name}`, or, under \
         Bazel, pass the binary in the test's `data` and set `CARGO_BIN_EXE_{name}` to its \
         runfiles path (e.g. `codex/<package>/{name}`)."
    )]
    NotFound {
        /// The binary target's name.
        name: String,
        /// Everything that was tried.
        tried: Tried,
    },
    /// No `CARGO_BIN_EXE_<name>` was set, and building the binary with Cargo failed.
    #[error(
        "could not find binary `{name}`; tried:\n{tried}\nand `cargo build --bin {name}` \
         failed: {source}\nRun the test from the package that declares the binary `{name}`."
    )]
    Build {
        /// The binary target's name.
        name: String,
        /// Everything that was tried before building.
        tried: Tried,
        /// Cargo's error.
        source: escargot::error::CargoError,
    },
    /// The current directory could not be read.
    #[error("could not read the current directory while looking for binary `{name}`: {source}")]
    CurrentDir {
        /// The binary target's name.
        name: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The places a lookup tried, in order; displayed one per line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tried(pub Vec<String>);

impl fmt::Display for Tried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, line) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "  - {line}")?;
        }
        Ok(())
    }
}

/// What to do when no `CARGO_BIN_EXE_<name>` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BuildFallback<'a> {
    /// Build the binary with `escargot` (`cargo build --bin <name>`), in the package
    /// whose directory is `manifest_dir`, or the current directory's package.
    Escargot {
        /// The package directory (`CARGO_MANIFEST_DIR` of the caller), if known.
        manifest_dir: Option<&'a str>,
    },
    /// Fail with [`CargoBinError::NotFound`]; used by unit tests.
    #[cfg_attr(not(test), allow(dead_code))]
    Disabled,
}

/// The path of the binary target `name` of the package under test.
///
/// Reads `CARGO_BIN_EXE_<name>` at run time. An absolute value (Cargo) is used when it
/// exists. A relative value (Bazel, Buck2) is looked up in the runfiles (directory or
/// manifest), then against the current directory. With no variable at all, the binary
/// is built with `cargo build --bin <name>` through `escargot`. On failure the error
/// lists every place that was tried.
///
/// Prefer [`cargo_bin!`](crate::cargo_bin!) in integration tests: it also accepts the
/// compile-time value, so the test executable works when run directly.
pub fn cargo_bin(name: &str) -> Result<PathBuf, CargoBinError> {
    cargo_bin_for_package(name, /*compile_time*/ None, /*manifest_dir*/ None)
}

/// The binary target `name` of another package of the workspace, whose directory is
/// `manifest_dir`: what a test runs besides its own package's binaries. Found as
/// [`cargo_bin`] finds one (`CARGO_BIN_EXE_<name>` at run time: Bazel sets it for the
/// binaries a test depends on); without the variable (Cargo sets it only for the
/// package's own binaries), built from that package's `Cargo.toml`.
pub fn cargo_bin_of_package(name: &str, manifest_dir: &str) -> Result<PathBuf, CargoBinError> {
    cargo_bin_for_package(name, /*compile_time*/ None, Some(manifest_dir))
}

/// [`cargo_bin`] wrapped in an [`assert_cmd::Command`], for the common case of running
/// the binary and asserting on its output.
pub fn cargo_bin_cmd(name: &str) -> Result<assert_cmd::Command, CargoBinError> {
    cargo_bin(name).map(assert_cmd::Command::new)
}

/// Used by [`cargo_bin!`](crate::cargo_bin!): [`cargo_bin`] that also accepts
/// `compile_time`, the value of `CARGO_BIN_EXE_<name>` when the caller was compiled, and
/// builds with the caller's `Cargo.toml` (from `manifest_dir`) if it must build.
pub fn cargo_bin_for_package(
    name: &str,
    compile_time: Option<&str>,
    manifest_dir: Option<&str>,
) -> Result<PathBuf, CargoBinError> {
    Context::with_process(|ctx| {
        resolve_cargo_bin(
            name,
            compile_time,
            ctx,
            BuildFallback::Escargot { manifest_dir },
        )
    })
    .map_err(|source| CargoBinError::CurrentDir {
        name: name.to_owned(),
        source,
    })?
}

pub(crate) fn resolve_cargo_bin(
    name: &str,
    compile_time: Option<&str>,
    ctx: &Context<'_>,
    fallback: BuildFallback<'_>,
) -> Result<PathBuf, CargoBinError> {
    let var = format!("CARGO_BIN_EXE_{name}");
    let mut tried = Vec::new();
    let mut values: Vec<(String, OsString)> = Vec::new();
    match ctx.var(&var) {
        Some(value) => values.push((format!("run-time {var}"), value)),
        None => tried.push(format!("run-time env {var}: not set")),
    }
    match compile_time.filter(|value| !value.is_empty()) {
        Some(value) => {
            if values.iter().all(|(_, seen)| seen != value) {
                values.push((format!("compile-time {var}"), OsString::from(value)));
            }
        }
        None => tried.push(format!("compile-time env {var}: not set")),
    }

    if values.is_empty() {
        return match fallback {
            BuildFallback::Escargot { manifest_dir } => {
                let build = escargot::CargoBuild::new().bin(name).current_release();
                match manifest_dir {
                    Some(dir) => build.manifest_path(Path::new(dir).join("Cargo.toml")),
                    None => build,
                }
                .run()
                .map(|run| run.path().to_path_buf())
                .map_err(|source| CargoBinError::Build {
                    name: name.to_owned(),
                    tried: Tried(tried),
                    source,
                })
            }
            BuildFallback::Disabled => Err(CargoBinError::NotFound {
                name: name.to_owned(),
                tried: Tried(tried),
            }),
        };
    }

    // Discovered once, on the first relative value.
    let mut runfiles: Option<Option<FoundRunfiles>> = None;
    for (origin, value) in values {
        let path = PathBuf::from(&value);
        if path.is_absolute() {
            if path.exists() {
                return Ok(path);
            }
            tried.push(format!("{origin} = {}: does not exist", path.display()));
            continue;
        }

        let found = runfiles.get_or_insert_with(|| discover_runfiles(ctx, &mut tried));
        match found {
            Some(found) => match found.rlocation(&path) {
                Some(candidate) if candidate.exists() => return Ok(candidate),
                Some(candidate) => tried.push(format!(
                    "{origin} = {} in {}: {} does not exist",
                    path.display(),
                    found.describe(),
                    candidate.display()
                )),
                None => tried.push(format!(
                    "{origin} = {}: not listed in {}",
                    path.display(),
                    found.describe()
                )),
            },
            None => tried.push(format!("{origin} = {}: no runfiles found", path.display())),
        }

        let candidate = ctx.cwd.join(&path);
        if candidate.exists() {
            return Ok(candidate);
        }
        tried.push(format!(
            "{origin} = {} against the current directory: {} does not exist",
            path.display(),
            candidate.display()
        ));
    }

    Err(CargoBinError::NotFound {
        name: name.to_owned(),
        tried: Tried(tried),
    })
}

#[cfg(test)]
#[path = "cargo_bin_tests.rs"]
mod tests;
