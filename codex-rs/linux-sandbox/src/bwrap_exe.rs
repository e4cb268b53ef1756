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
    /// The inode's last change (`ctime`, seconds and nanoseconds): a file put in its place
    /// may get the same inode number once the old one is freed.
    changed: (i64, i64),
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
                let reason = match real_root_id() {
                    Some(_) => format!("it is owned by uid {}, not root", meta.uid()),
                    None => format!(
                        "it is owned by uid {}, and in this user namespace root's files cannot \
                         be told from those of a user mapped to the same id",
                        meta.uid()
                    ),
                };
                return Err(untrusted(item, reason));
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
            changed: (metadata.ctime(), metadata.ctime_nsec()),
            path,
        })
    }

    /// The bubblewrap of this process: located once, with this process's `$PATH`, on
    /// the first call (a host calls it at start-up), and the same answer ever after —
    /// also a refusal, so installing or fixing bubblewrap needs a restart.
    pub fn for_this_process() -> Result<&'static Self, LinuxSandboxError> {
        static BWRAP: OnceLock<Result<TrustedBwrap, Refusal>> = OnceLock::new();
        let located = BWRAP.get_or_init(|| {
            Self::locate(/*explicit*/ None, std::env::var_os("PATH").as_deref()).map_err(|err| {
                match err {
                    LinuxSandboxError::BwrapMissing { searched } => Refusal::Missing(searched),
                    LinuxSandboxError::BwrapUntrusted { path, reason } => {
                        Refusal::Untrusted { path, reason }
                    }
                    other => Refusal::Untrusted {
                        path: PathBuf::from("bwrap"),
                        reason: other.to_string(),
                    },
                }
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
    /// trusted (same device, inode and last change) and still writable by nobody but its
    /// owner.
    pub fn verify(&self) -> Result<&Path, LinuxSandboxError> {
        match std::fs::symlink_metadata(&self.path) {
            // Still only root's to change: a root server's sandboxed command is uid 0 on
            // the host and may `chmod` the very file through `/proc/1/exe` of bubblewrap's
            // PID 1 (the mounts of its path are not in the way there); after that anyone
            // could replace its contents for the next start.
            Ok(meta) if meta.dev() == self.dev && meta.ino() == self.ino => {
                if meta.mode() & 0o022 != 0 {
                    return Err(LinuxSandboxError::BwrapUntrusted {
                        path: self.path.clone(),
                        reason: format!(
                            "it became writable by its group or by everyone (mode {:o}) \
                             after it was trusted",
                            meta.mode() & 0o7777
                        ),
                    });
                }
                if (meta.ctime(), meta.ctime_nsec()) != self.changed {
                    return Err(LinuxSandboxError::BwrapChanged {
                        path: self.path.clone(),
                    });
                }
                Ok(&self.path)
            }
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

/// Whether files owned by `uid` (as this process sees ids) belong to the real root, who
/// alone can then change them.
///
/// Outside any user namespace that is uid 0. In one, the real root shows as the id it is
/// mapped to, or as the overflow id when it is not mapped; which one cannot be told from
/// `uid_map` alone (bubblewrap run by an ordinary user nests two namespaces, and the
/// parent's root is then that user). The kernel's own sysctl files belong to the real
/// root, so their owner, as this process sees it, is the answer. When that is the
/// overflow id and some id of this namespace is mapped to the overflow id too (`nobody`
/// inside `--uid 65534`), a file shown as overflow may be that user's: nothing is trusted.
fn is_root(uid: u32) -> bool {
    real_root_id() == Some(uid)
}

/// The id the real root has in this process's user namespace, if it can be told apart
/// from every other user's (see [`is_root`]).
fn real_root_id() -> Option<u32> {
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    let inside_ranges: Vec<(u64, u64)> = map
        .lines()
        .filter_map(|line| {
            let fields: Vec<u64> = line
                .split_whitespace()
                .filter_map(|field| field.parse().ok())
                .collect();
            match fields.as_slice() {
                [inside, _outside, count] => Some((*inside, *count)),
                _ => None,
            }
        })
        .collect();
    let Ok(sysctl) = std::fs::metadata("/proc/sys/kernel/overflowuid") else {
        // No procfs to ask: only the initial namespace's root is certain.
        return (map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
            .then_some(0);
    };
    let root = sysctl.uid();
    let overflow = std::fs::read_to_string("/proc/sys/kernel/overflowuid")
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok());
    let ambiguous = overflow == Some(root)
        && inside_ranges.iter().any(|(inside, count)| {
            (*inside..inside.saturating_add(*count)).contains(&u64::from(root))
        });
    (!ambiguous).then_some(root)
}

#[cfg(test)]
#[path = "bwrap_exe_tests.rs"]
mod tests;
