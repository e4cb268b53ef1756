//! Running `dotslash -- fetch` and verifying what it returns.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::process::ExitStatus;

use sha2::Digest;
use sha2::Sha256;

use crate::dotslash_file;
use crate::dotslash_file::ArtifactEntry;

/// The script that installs DotSlash and seeds its cache with the pinned test shells.
const SEED_SCRIPT: &str = "tools/dotslash/seed-test-shells.sh";

/// Why a DotSlash file could not be resolved to a verified artifact.
#[derive(Debug, thiserror::Error)]
pub enum DotslashError {
    /// The DotSlash file could not be read.
    #[error("cannot read DotSlash file {}: {source}", file.display())]
    FileMissing {
        /// The DotSlash file.
        file: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file is not a DotSlash file (wrong header or invalid JSON).
    #[error("{} is not a DotSlash file: {reason}", file.display())]
    NotDotslash {
        /// The file.
        file: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The DotSlash file has no artifact for the running platform.
    #[error(
        "DotSlash file {} has no artifact for this platform ({platform}); it has entries \
         for: {}",
        file.display(),
        if present.is_empty() { "none".to_owned() } else { present.join(", ") }
    )]
    NoPlatformEntry {
        /// The DotSlash file.
        file: PathBuf,
        /// The running platform, e.g. `linux-x86_64`.
        platform: String,
        /// The platforms the file does have, sorted.
        present: Vec<String>,
    },
    /// The entry uses a hash or format that cannot be verified after fetching.
    #[error(
        "DotSlash file {} entry {platform} cannot be verified after fetching: {reason}; \
         pin a plain file (no `format`) with `\"hash\": \"sha256\"`",
        file.display()
    )]
    UnverifiableEntry {
        /// The DotSlash file.
        file: PathBuf,
        /// The platform entry.
        platform: String,
        /// What is unsupported.
        reason: String,
    },
    /// The `dotslash` program could not be started.
    #[error(
        "cannot run `{}` ({source}); install DotSlash and seed its cache with {SEED_SCRIPT}",
        program.to_string_lossy()
    )]
    NotInstalled {
        /// The program that was run.
        program: OsString,
        /// The underlying error.
        source: io::Error,
    },
    /// `dotslash -- fetch` failed, typically because the artifact is not cached and this
    /// machine cannot download it.
    #[error(
        "`dotslash -- fetch {}` failed ({status}):\n{stderr}\nDotSlash's cache here is \
         {cache_dir}. Run {SEED_SCRIPT} with the same DOTSLASH_CACHE to place the pinned \
         artifacts there; under Bazel, which gives tests a private HOME, pass the seeded \
         cache with --test_env=DOTSLASH_CACHE=<dir>",
        file.display()
    )]
    FetchFailed {
        /// The DotSlash file.
        file: PathBuf,
        /// DotSlash's exit status.
        status: ExitStatus,
        /// DotSlash's standard error.
        stderr: String,
        /// What `dotslash -- cache-dir` printed (or why it could not be asked).
        cache_dir: String,
    },
    /// The path DotSlash printed cannot be read.
    #[error(
        "DotSlash fetched {} for {}, but it cannot be read: {source}",
        artifact.display(),
        file.display()
    )]
    ArtifactUnreadable {
        /// The DotSlash file.
        file: PathBuf,
        /// The path DotSlash printed.
        artifact: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The fetched artifact is not the pinned one (corrupt or truncated cache entry).
    #[error(
        "artifact {} for DotSlash file {} does not match its pin: expected size {expected_size} \
         sha256 {expected_digest}, got size {actual_size} sha256 {actual_digest}; run \
         {SEED_SCRIPT}, which replaces corrupt cache entries",
        artifact.display(),
        file.display()
    )]
    ArtifactMismatch {
        /// The DotSlash file.
        file: PathBuf,
        /// The path DotSlash printed.
        artifact: PathBuf,
        /// Pinned size in bytes.
        expected_size: u64,
        /// Actual size in bytes.
        actual_size: u64,
        /// Pinned sha256, lower-case hex.
        expected_digest: String,
        /// Actual sha256, lower-case hex.
        actual_digest: String,
    },
}

/// Resolves the DotSlash file `file` to the path of its artifact for this platform.
///
/// Parses `file` first (clear errors for a missing file, a non-DotSlash file, or no
/// entry for this platform), then runs `dotslash -- fetch <file>` from `PATH`, then
/// checks that the returned file has the pinned size and sha256. Only plain-file
/// artifacts with sha256 digests are accepted, since only those can be re-checked.
pub fn dotslash_fetch(file: &Path) -> Result<PathBuf, DotslashError> {
    fetch_with(file, &dotslash_file::current_platform(), &|| {
        Command::new("dotslash")
    })
}

/// [`dotslash_fetch`] for `platform`, running `dotslash` as made by `dotslash` (tests
/// substitute a stand-in; `-- fetch <file>` or `-- cache-dir` is appended).
pub(crate) fn fetch_with(
    file: &Path,
    platform: &str,
    dotslash: &dyn Fn() -> Command,
) -> Result<PathBuf, DotslashError> {
    let text = std::fs::read_to_string(file).map_err(|source| DotslashError::FileMissing {
        file: file.to_path_buf(),
        source,
    })?;
    let parsed = dotslash_file::parse(&text).map_err(|reason| DotslashError::NotDotslash {
        file: file.to_path_buf(),
        reason,
    })?;
    let Some(entry) = parsed.platforms.get(platform) else {
        return Err(DotslashError::NoPlatformEntry {
            file: file.to_path_buf(),
            platform: platform.to_owned(),
            present: parsed.platforms.keys().cloned().collect(),
        });
    };
    let unverifiable = |reason: String| DotslashError::UnverifiableEntry {
        file: file.to_path_buf(),
        platform: platform.to_owned(),
        reason,
    };
    if entry.hash != "sha256" {
        return Err(unverifiable(format!("hash is `{}`", entry.hash)));
    }
    if let Some(format) = &entry.format {
        return Err(unverifiable(format!("format is `{format}`")));
    }

    let mut fetch = dotslash();
    let output = fetch
        .arg("--")
        .arg("fetch")
        .arg(file)
        .output()
        .map_err(|source| DotslashError::NotInstalled {
            program: fetch.get_program().to_owned(),
            source,
        })?;
    if !output.status.success() {
        let cache_dir = match dotslash().arg("--").arg("cache-dir").output() {
            Ok(out) if out.status.success() => {
                String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
            }
            Ok(out) => format!("unknown (`dotslash -- cache-dir` failed: {})", out.status),
            Err(err) => format!("unknown (`dotslash -- cache-dir` failed: {err})"),
        };
        return Err(DotslashError::FetchFailed {
            file: file.to_path_buf(),
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr)
                .trim_end()
                .to_owned(),
            cache_dir,
        });
    }
    let artifact = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim_end());
    verify(file, &artifact, entry)?;
    Ok(artifact)
}

fn verify(file: &Path, artifact: &Path, entry: &ArtifactEntry) -> Result<(), DotslashError> {
    let unreadable = |source| DotslashError::ArtifactUnreadable {
        file: file.to_path_buf(),
        artifact: artifact.to_path_buf(),
        source,
    };
    let mut reader = File::open(artifact).map_err(unreadable)?;
    let mut hasher = Sha256::new();
    let actual_size = io::copy(&mut reader, &mut hasher).map_err(unreadable)?;
    let actual_digest: String = hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    if actual_size == entry.size && actual_digest.eq_ignore_ascii_case(&entry.digest) {
        return Ok(());
    }
    Err(DotslashError::ArtifactMismatch {
        file: file.to_path_buf(),
        artifact: artifact.to_path_buf(),
        expected_size: entry.size,
        actual_size,
        expected_digest: entry.digest.clone(),
        actual_digest,
    })
}

#[cfg(test)]
#[path = "fetch_tests.rs"]
mod tests;
