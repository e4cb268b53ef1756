//! Where the process's runfiles are, decided from an explicit environment.
//!
//! The `runfiles` crate discovers its source from the process environment, which tests
//! cannot fake without mutating it. This module does the discovery itself, from a
//! [`Context`] (an env lookup, the current directory and `argv[0]`), and hands the
//! result to `runfiles::Runfiles::builder()` for the actual lookups, so repo mapping and
//! manifest parsing stay the `runfiles` crate's job.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::Path;
use std::path::PathBuf;

use path_absolutize::Absolutize;
use runfiles::Runfiles;

/// The Bazel workspace name used when `TEST_WORKSPACE` is not set.
pub(crate) const DEFAULT_WORKSPACE: &str = "codex";

/// Everything the lookups read from the process, passed in explicitly.
pub(crate) struct Context<'a> {
    /// Reads one environment variable.
    pub(crate) env: &'a dyn Fn(&str) -> Option<OsString>,
    /// The current directory; relative paths are resolved against it.
    pub(crate) cwd: &'a Path,
    /// `argv[0]`, used to find `<argv0>.runfiles` / `<argv0>.runfiles_manifest`.
    pub(crate) argv0: Option<&'a Path>,
}

impl Context<'_> {
    /// Runs `f` with the real process environment, current directory and `argv[0]`.
    pub(crate) fn with_process<T>(f: impl FnOnce(&Context<'_>) -> T) -> io::Result<T> {
        let cwd = std::env::current_dir()?;
        let argv0 = std::env::args_os().next().map(PathBuf::from);
        let env = |name: &str| std::env::var_os(name);
        Ok(f(&Context {
            env: &env,
            cwd: &cwd,
            argv0: argv0.as_deref(),
        }))
    }

    /// A non-empty environment variable.
    pub(crate) fn var(&self, name: &str) -> Option<OsString> {
        (self.env)(name).filter(|value| !value.is_empty())
    }

    /// The Bazel workspace name: run-time `TEST_WORKSPACE`, default `codex`.
    pub(crate) fn workspace(&self) -> String {
        self.var("TEST_WORKSPACE")
            .map(|value| value.to_string_lossy().into_owned())
            .unwrap_or_else(|| DEFAULT_WORKSPACE.to_owned())
    }

    /// `path` made absolute against the current directory and normalised lexically.
    pub(crate) fn absolutize(&self, path: &Path) -> io::Result<PathBuf> {
        Ok(path.absolutize_from(self.cwd)?.into_owned())
    }
}

/// How the runfiles were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RunfilesSource {
    /// A runfiles directory (symlink tree).
    Directory {
        /// The directory, absolute.
        dir: PathBuf,
        /// What pointed at it, e.g. `RUNFILES_DIR`.
        via: String,
    },
    /// A runfiles manifest file (no directory tree).
    Manifest {
        /// The manifest file, absolute.
        file: PathBuf,
        /// What pointed at it, e.g. `RUNFILES_MANIFEST_FILE`.
        via: String,
    },
}

/// Runfiles found for this process, ready for lookups.
pub(crate) struct FoundRunfiles {
    pub(crate) source: RunfilesSource,
    runfiles: Runfiles,
}

impl FoundRunfiles {
    /// The real path of the runfile at `rlocation_path` (e.g.
    /// `codex/codex-rs/exec-server/codex-exec-server`), if the runfiles know it. A
    /// directory source always answers; the caller checks existence.
    pub(crate) fn rlocation(&self, rlocation_path: &Path) -> Option<PathBuf> {
        // `rlocation_from` panics on non-UTF-8 paths; such a path cannot be a runfile.
        rlocation_path.to_str()?;
        // The main repository's canonical name is the empty string.
        self.runfiles
            .rlocation_from(rlocation_path, /*source_repo*/ "")
    }

    /// A short description for error messages.
    pub(crate) fn describe(&self) -> String {
        match &self.source {
            RunfilesSource::Directory { dir, via } => {
                format!("runfiles directory {} (from {via})", dir.display())
            }
            RunfilesSource::Manifest { file, via } => {
                format!("runfiles manifest {} (from {via})", file.display())
            }
        }
    }
}

/// Finds the runfiles, preferring a directory over a manifest (a directory also serves
/// resources that are directories). Order: `RUNFILES_DIR`, `TEST_SRCDIR`,
/// `RUNFILES_MANIFEST_FILE`, `<argv0>.runfiles/`, `<argv0>.runfiles_manifest`. Every
/// place that was looked at and did not qualify is appended to `tried`.
pub(crate) fn discover_runfiles(
    ctx: &Context<'_>,
    tried: &mut Vec<String>,
) -> Option<FoundRunfiles> {
    for var in ["RUNFILES_DIR", "TEST_SRCDIR"] {
        match ctx.var(var) {
            None => tried.push(format!("env {var}: not set")),
            Some(value) => {
                let dir = Path::new(&value);
                if let Some(found) = directory_source(ctx, dir, var.to_owned(), tried) {
                    return Some(found);
                }
            }
        }
    }

    const MANIFEST_VAR: &str = "RUNFILES_MANIFEST_FILE";
    match ctx.var(MANIFEST_VAR) {
        None => tried.push(format!("env {MANIFEST_VAR}: not set")),
        Some(value) => {
            let file = Path::new(&value);
            if let Some(found) = manifest_source(ctx, file, MANIFEST_VAR.to_owned(), tried) {
                return Some(found);
            }
        }
    }

    match ctx.argv0 {
        None => tried.push("argv[0]: not available".to_owned()),
        Some(argv0) => {
            let mut dir = argv0.as_os_str().to_owned();
            dir.push(".runfiles");
            let via = "argv[0]".to_owned();
            if let Some(found) = directory_source(ctx, Path::new(&dir), via.clone(), tried) {
                return Some(found);
            }
            let mut manifest = argv0.as_os_str().to_owned();
            manifest.push(".runfiles_manifest");
            if let Some(found) = manifest_source(ctx, Path::new(&manifest), via, tried) {
                return Some(found);
            }
        }
    }
    None
}

fn directory_source(
    ctx: &Context<'_>,
    dir: &Path,
    via: String,
    tried: &mut Vec<String>,
) -> Option<FoundRunfiles> {
    let dir = match ctx.absolutize(dir) {
        Ok(dir) => dir,
        Err(err) => {
            tried.push(format!("{via}: {}: {err}", dir.display()));
            return None;
        }
    };
    if !dir.is_dir() {
        tried.push(format!("{via}: {} is not a directory", dir.display()));
        return None;
    }
    match Runfiles::builder().directory(&dir).build() {
        Ok(runfiles) => Some(FoundRunfiles {
            source: RunfilesSource::Directory { dir, via },
            runfiles,
        }),
        Err(err) => {
            tried.push(format!(
                "{via}: runfiles directory {}: {err}",
                dir.display()
            ));
            None
        }
    }
}

fn manifest_source(
    ctx: &Context<'_>,
    file: &Path,
    via: String,
    tried: &mut Vec<String>,
) -> Option<FoundRunfiles> {
    let file = match ctx.absolutize(file) {
        Ok(file) => file,
        Err(err) => {
            tried.push(format!("{via}: {}: {err}", file.display()));
            return None;
        }
    };
    let content = match fs::read_to_string(&file) {
        Ok(content) => content,
        Err(err) => {
            tried.push(format!(
                "{via}: runfiles manifest {}: {err}",
                file.display()
            ));
            return None;
        }
    };
    match Runfiles::builder().manifest(content).build() {
        Ok(runfiles) => Some(FoundRunfiles {
            source: RunfilesSource::Manifest { file, via },
            runfiles,
        }),
        Err(err) => {
            tried.push(format!(
                "{via}: runfiles manifest {}: {err}",
                file.display()
            ));
            None
        }
    }
}

/// `path` normalised lexically as a relative path (`a/./b/../c` becomes `a/c`), for
/// runfiles keys, which must match the manifest exactly.
pub(crate) fn normalize_relative(path: &Path) -> io::Result<PathBuf> {
    let root = Path::new("/");
    let absolute = path.absolutize_from(root)?;
    Ok(absolute
        .strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| absolute.into_owned()))
}
