//! The bubblewrap executable, trusted once and checked before every use.
//!
//! Bubblewrap runs outside the sandbox with the caller's privileges, so whoever can
//! replace it owns every sandbox started after. A sandboxed command may write its
//! writable roots, and as root (no capabilities, but still the owner of root's files)
//! also root-owned directories inside them; a `bwrap` looked up in `$PATH` on every start
//! could be one it planted. So a host resolves `bwrap` once ([`TrustedBwrap::locate`],
//! [`TrustedBwrap::for_this_process`]) to an absolute path with no symlinks, refuses it
//! unless it and every directory above it are owned by root and writable by nobody
//! else, and before each start checks that the same file is still there
//! ([`TrustedBwrap::verify`]). Hosts also refuse to run a sandbox whose writable roots
//! contain it (see [`crate::BwrapArgv::writable`]).

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::LinuxSandboxError;
use crate::launcher::find_bwrap;

/// A bubblewrap executable that only root can change, identified by path and inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedBwrap {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

/// Why [`TrustedBwrap::for_this_process`] has no bubblewrap, kept to answer every later
/// call the same way.
#[derive(Debug, Clone)]
enum Refusal {
    Missing(Vec<PathBuf>),
    Untrusted { path: PathBuf, reason: String },
}

impl TrustedBwrap {
    /// Finds bubblewrap as [`find_bwrap`] does (`explicit`, else `path_env`'s
    /// directories, then `/usr/bin`, `/bin`), resolves it, and checks that only root can
    /// change it or any directory above it.
    pub fn locate(
        explicit: Option<&Path>,
        path_env: Option<&OsStr>,
    ) -> Result<Self, LinuxSandboxError> {
        let found = find_bwrap(explicit, path_env)?;
        let untrusted = |path: &Path, reason: String| LinuxSandboxError::BwrapUntrusted {
            path: path.to_path_buf(),
            reason,
        };
        let path = std::fs::canonicalize(&found)
            .map_err(|err| untrusted(&found, format!("cannot resolve it: {err}")))?;
        let mut metadata = None;
        for (depth, item) in path.ancestors().enumerate() {
            let meta = std::fs::symlink_metadata(item)
                .map_err(|err| untrusted(item, format!("cannot inspect it: {err}")))?;
            if !is_root(meta.uid()) {
                return Err(untrusted(
                    item,
                    format!("it is owned by uid {}, not root", meta.uid()),
                ));
            }
            if meta.mode() & 0o022 != 0 {
                return Err(untrusted(
                    item,
                    format!(
                        "it is writable by its group or by everyone (mode {:o})",
                        meta.mode() & 0o7777
                    ),
                ));
            }
            if depth == 0 {
                metadata = Some(meta);
            }
        }
        let metadata = metadata.ok_or_else(|| untrusted(&path, "empty path".to_string()))?;
        Ok(Self {
            dev: metadata.dev(),
            ino: metadata.ino(),
            path,
        })
    }

    /// The bubblewrap of this process: located once, with this process's `$PATH`, on
    /// the first call (a host calls it at start-up), and the same answer ever after —
    /// also a refusal, so installing or fixing bubblewrap needs a restart.
    pub fn for_this_process() -> Result<&'static Self, LinuxSandboxError> {
        static BWRAP: OnceLock<Result<TrustedBwrap, Refusal>> = OnceLock::new();
        let located = BWRAP.get_or_init(|| {
            Self::locate(None, std::env::var_os("PATH").as_deref()).map_err(|err| match err {
                LinuxSandboxError::BwrapMissing { searched } => Refusal::Missing(searched),
                LinuxSandboxError::BwrapUntrusted { path, reason } => {
                    Refusal::Untrusted { path, reason }
                }
                other => Refusal::Untrusted {
                    path: PathBuf::from("bwrap"),
                    reason: other.to_string(),
                },
            })
        });
        match located {
            Ok(bwrap) => Ok(bwrap),
            Err(Refusal::Missing(searched)) => Err(LinuxSandboxError::BwrapMissing {
                searched: searched.clone(),
            }),
            Err(Refusal::Untrusted { path, reason }) => Err(LinuxSandboxError::BwrapUntrusted {
                path: path.clone(),
                reason: reason.clone(),
            }),
        }
    }

    /// The resolved path, after checking that the file there is still the one that was
    /// trusted (same device and inode).
    pub fn verify(&self) -> Result<&Path, LinuxSandboxError> {
        match std::fs::symlink_metadata(&self.path) {
            Ok(meta) if meta.dev() == self.dev && meta.ino() == self.ino => Ok(&self.path),
            _ => Err(LinuxSandboxError::BwrapChanged {
                path: self.path.clone(),
            }),
        }
    }

    /// The resolved path (unchecked; see [`TrustedBwrap::verify`]).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Whether `uid` is the real root as far as this process can tell: root's id in this
/// process's user namespace (0 outside any, 1000 inside one that maps 1000 to root, as
/// `bwrap --unshare-user --uid 1000` run by root does), or, where root is not mapped at
/// all, the overflow id its files show as (nobody in the namespace can change those).
fn is_root(uid: u32) -> bool {
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    // Lines `inside outside count`: root is mapped where an outside range holds 0.
    let root_inside = map.lines().find_map(|line| {
        let fields: Vec<u64> = line
            .split_whitespace()
            .filter_map(|field| field.parse().ok())
            .collect();
        match fields.as_slice() {
            [inside, 0, count] if *count > 0 => u32::try_from(*inside).ok(),
            _ => None,
        }
    });
    match root_inside {
        Some(root) => uid == root,
        None => {
            let overflow = std::fs::read_to_string("/proc/sys/kernel/overflowuid")
                .ok()
                .and_then(|text| text.trim().parse::<u32>().ok());
            overflow == Some(uid)
        }
    }
}

#[cfg(test)]
#[path = "bwrap_exe_tests.rs"]
mod tests;
