//! Locating data files of a package, for [`find_resource!`](crate::find_resource!) and
//! [`repo_root`].
//!
//! Under Cargo a package's files are at `CARGO_MANIFEST_DIR`. Under Bazel they are in
//! the runfiles at `<workspace>/<BAZEL_PACKAGE>/`, and only if declared as `data`. The
//! macro passes the caller's compile-time `BAZEL_PACKAGE` and `CARGO_MANIFEST_DIR`;
//! this module decides at run time which one applies.

use std::io;
use std::path::Path;
use std::path::PathBuf;

use crate::runfiles_lookup::Context;
use crate::runfiles_lookup::RunfilesSource;
use crate::runfiles_lookup::discover_runfiles;
use crate::runfiles_lookup::normalize_relative;

/// The marker file [`repo_root`] looks for, relative to this crate's directory.
const REPO_ROOT_MARKER: &str = "repo_root.marker";

/// How many directories the marker sits below the repository root
/// (`codex-rs/utils/cargo-bin/repo_root.marker`).
const MARKER_DEPTH: usize = 4;

/// Why a resource could not be located.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// Bazel mode with only a runfiles manifest, and the manifest has no such entry.
    #[error(
        "resource `{path}` (runfiles key `{key}`) is not listed in the runfiles manifest {}; \
         add it to the test's `data` in BUILD.bazel",
        manifest.display()
    )]
    NotInRunfiles {
        /// The path the caller asked for.
        path: PathBuf,
        /// The runfiles key that was looked up.
        key: PathBuf,
        /// The manifest that was searched.
        manifest: PathBuf,
    },
    /// Neither `BAZEL_PACKAGE` with runfiles nor `CARGO_MANIFEST_DIR` was available.
    #[error(
        "cannot locate resource `{path}`: the calling crate was compiled without \
         CARGO_MANIFEST_DIR{bazel_hint}; build it with Cargo, or with Bazel (which sets \
         BAZEL_PACKAGE) and run it with its runfiles"
    )]
    NoBaseDirectory {
        /// The path the caller asked for.
        path: PathBuf,
        /// Extra detail about the Bazel side (empty if not relevant).
        bazel_hint: String,
    },
    /// The repository-root marker is not where it should be.
    #[error(
        "repository root marker {} does not exist; under Bazel, add \
         `codex-rs/utils/cargo-bin/repo_root.marker` to the test's `data`",
        marker.display()
    )]
    MarkerMissing {
        /// Where the marker was expected.
        marker: PathBuf,
    },
    /// Reading the current directory or normalising a path failed.
    #[error("cannot locate resource `{}`: {source}", path.display())]
    Io {
        /// The path the caller asked for.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// Used by [`find_resource!`](crate::find_resource!): the resource `path` of the package
/// compiled with `bazel_package` / `manifest_dir`.
pub fn find_resource_for_package(
    path: impl AsRef<Path>,
    bazel_package: Option<&str>,
    manifest_dir: Option<&str>,
) -> Result<PathBuf, ResourceError> {
    let path = path.as_ref();
    Context::with_process(|ctx| resolve_resource(path, bazel_package, manifest_dir, ctx)).map_err(
        |source| ResourceError::Io {
            path: path.to_path_buf(),
            source,
        },
    )?
}

pub(crate) fn resolve_resource(
    path: &Path,
    bazel_package: Option<&str>,
    manifest_dir: Option<&str>,
    ctx: &Context<'_>,
) -> Result<PathBuf, ResourceError> {
    let io_error = |source| ResourceError::Io {
        path: path.to_path_buf(),
        source,
    };

    // Runfiles only matter for code Bazel compiled; `tried` is not reported here because
    // the Cargo fallback below is always available in that case.
    let mut tried = Vec::new();
    let bazel = bazel_package
        .and_then(|package| discover_runfiles(ctx, &mut tried).map(|runfiles| (package, runfiles)));
    if let Some((package, runfiles)) = bazel {
        let key = normalize_relative(&Path::new(&ctx.workspace()).join(package).join(path))
            .map_err(io_error)?;
        return match &runfiles.source {
            RunfilesSource::Directory { dir, .. } => {
                ctx.absolutize(&dir.join(&key)).map_err(io_error)
            }
            RunfilesSource::Manifest { file, .. } => match runfiles.rlocation(&key) {
                Some(found) => ctx.absolutize(&found).map_err(io_error),
                None => Err(ResourceError::NotInRunfiles {
                    path: path.to_path_buf(),
                    key,
                    manifest: file.clone(),
                }),
            },
        };
    }

    match manifest_dir {
        Some(dir) => ctx.absolutize(&Path::new(dir).join(path)).map_err(io_error),
        None => Err(ResourceError::NoBaseDirectory {
            path: path.to_path_buf(),
            bazel_hint: match bazel_package {
                Some(package) => format!(
                    " and no runfiles were found for BAZEL_PACKAGE={package} ({})",
                    tried.join("; ")
                ),
                None => " or BAZEL_PACKAGE".to_owned(),
            },
        }),
    }
}

/// The root of the repository: the directory holding `Cargo.toml` and `codex-rs/`.
///
/// Under Cargo this is the source checkout. Under Bazel it is the workspace directory in
/// the runfiles (`<runfiles>/codex`), which contains only what the test declared as
/// `data`. Found through the marker file `codex-rs/utils/cargo-bin/repo_root.marker`.
pub fn repo_root() -> Result<PathBuf, ResourceError> {
    let marker = crate::find_resource!(REPO_ROOT_MARKER)?;
    root_from_marker(&marker)
}

pub(crate) fn root_from_marker(marker: &Path) -> Result<PathBuf, ResourceError> {
    match (marker.is_file(), marker.ancestors().nth(MARKER_DEPTH)) {
        (true, Some(root)) => Ok(root.to_path_buf()),
        _ => Err(ResourceError::MarkerMissing {
            marker: marker.to_path_buf(),
        }),
    }
}

#[cfg(test)]
#[path = "resource_tests.rs"]
mod tests;
