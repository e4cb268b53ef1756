//! May this path be read or written? The answer a policy gives for one cwd.
//!
//! A policy alone cannot answer: `workspaceWrite` makes its cwd and `$TMPDIR` writable,
//! and writable implies readable. [`SandboxPolicy::effective_access`] binds the policy to
//! its cwd and `$TMPDIR` once and yields an [`EffectiveAccess`] that answers for any
//! number of paths (a recursive `fs/copy` asks for many).
//!
//! **Paths must already be resolved.** Containment is decided on components, lexically:
//! `/work/root/../rootkit` is normalised by [`AbsolutePathBuf`] before it gets here, and
//! `/work/rootkit` is not under `/work/root`. But a symlink `/work/root/link ->
//! /etc` is only caught if the caller resolves it first (canonicalise the longest
//! existing prefix, then append the rest) and passes the cwd and `$TMPDIR` in the same
//! resolved form. This crate does no I/O, so it cannot do that for the caller.

use std::path::Path;
use std::path::PathBuf;

use codex_utils_absolute_path::AbsolutePathBuf;

use crate::PLATFORM_DEFAULT_READ_ROOTS;
use crate::ReadOnlyAccess;
use crate::SandboxError;
use crate::SandboxPolicy;
use crate::WriteAccess;
use crate::WriteDeniedReason;

/// Where reads are allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadAccess {
    /// Every path.
    Everything,
    /// Only these paths and what is below them.
    Roots(Vec<AbsolutePathBuf>),
}

/// What a policy allows when applied in one cwd: build it with
/// [`SandboxPolicy::effective_access`], then ask [`EffectiveAccess::check_read`] and
/// [`EffectiveAccess::check_write`] about resolved paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveAccess {
    read: ReadAccess,
    write: WriteAccess,
}

impl SandboxPolicy {
    /// Binds the policy to its own cwd (`policy_cwd`, `sandboxPolicyCwd` on the wire; not
    /// a command's working directory) and `tmpdir` (the `$TMPDIR` of the host enforcing
    /// it, passed in rather than read): the effective read and write access.
    ///
    /// Readable: everything under `fullAccess`; otherwise `readableRoots`, plus (with
    /// `includePlatformDefaults`) [`PLATFORM_DEFAULT_READ_ROOTS`] and the policy cwd, plus
    /// every writable root. Writable: see [`SandboxPolicy::writable_roots_with_cwd`].
    ///
    /// Pure. Call [`EffectiveAccess::protect_gitdir_targets`] afterwards to also protect
    /// the git directories that `.git` pointer files name.
    pub fn effective_access(
        &self,
        policy_cwd: Option<&AbsolutePathBuf>,
        tmpdir: Option<&AbsolutePathBuf>,
    ) -> EffectiveAccess {
        let write = self.writable_roots_with_cwd(policy_cwd, tmpdir);
        let read_only_access = match self {
            SandboxPolicy::DangerFullAccess | SandboxPolicy::ExternalSandbox { .. } => None,
            SandboxPolicy::ReadOnly { access } => Some(access),
            SandboxPolicy::WorkspaceWrite {
                read_only_access, ..
            } => Some(read_only_access),
        };
        let read = match read_only_access {
            None | Some(ReadOnlyAccess::FullAccess) => ReadAccess::Everything,
            Some(ReadOnlyAccess::Restricted {
                include_platform_defaults,
                readable_roots,
            }) => {
                let mut roots = readable_roots.clone();
                if *include_platform_defaults {
                    roots.extend(
                        PLATFORM_DEFAULT_READ_ROOTS
                            .iter()
                            .filter_map(|root| AbsolutePathBuf::try_from_absolute(root).ok()),
                    );
                    roots.extend(policy_cwd.cloned());
                }
                match &write {
                    WriteAccess::Roots(writable) => {
                        roots.extend(writable.iter().map(|root| root.root.clone()));
                    }
                    WriteAccess::Everything | WriteAccess::Nothing => {}
                }
                let mut unique: Vec<AbsolutePathBuf> = Vec::with_capacity(roots.len());
                for root in roots {
                    if !unique.contains(&root) {
                        unique.push(root);
                    }
                }
                ReadAccess::Roots(unique)
            }
        };
        EffectiveAccess { read, write }
    }
}

impl EffectiveAccess {
    /// Also protects the git directory named by each writable root's `.git` pointer
    /// file; see [`WriteAccess::protect_gitdir_targets`]. Pass
    /// [`crate::read_gitdir_pointer_from_disk`] to read the real files.
    pub fn protect_gitdir_targets(
        self,
        read_gitdir_pointer: impl Fn(&Path) -> Option<PathBuf>,
    ) -> Self {
        Self {
            read: self.read,
            write: self.write.protect_gitdir_targets(read_gitdir_pointer),
        }
    }

    /// `Ok` unless a writable root lies inside a protected path
    /// ([`SandboxError::RootInsideProtectedPath`]); call it after
    /// [`EffectiveAccess::protect_gitdir_targets`], and refuse the policy on `Err`.
    pub fn check_roots(&self) -> Result<(), SandboxError> {
        match self.write.root_inside_protected() {
            Some((root, protected)) => Err(SandboxError::RootInsideProtectedPath {
                root: root.clone(),
                protected: protected.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Where reads are allowed.
    pub fn read(&self) -> &ReadAccess {
        &self.read
    }

    /// Where writes are allowed.
    pub fn write(&self) -> &WriteAccess {
        &self.write
    }

    /// Whether the resolved `path` may be read.
    pub fn can_read(&self, path: &AbsolutePathBuf) -> bool {
        self.check_read(path).is_ok()
    }

    /// Whether the resolved `path` may be written (created, changed or removed).
    pub fn can_write(&self, path: &AbsolutePathBuf) -> bool {
        self.check_write(path).is_ok()
    }

    /// `Ok` when the resolved `path` may be read, else [`SandboxError::ReadDenied`].
    pub fn check_read(&self, path: &AbsolutePathBuf) -> Result<(), SandboxError> {
        let allowed = match &self.read {
            ReadAccess::Everything => true,
            ReadAccess::Roots(roots) => roots.iter().any(|root| path.starts_with(root)),
        };
        if allowed {
            Ok(())
        } else {
            Err(SandboxError::ReadDenied { path: path.clone() })
        }
    }

    /// `Ok` when the resolved `path` may be written, else [`SandboxError::WriteDenied`]
    /// saying why.
    ///
    /// Under `workspaceWrite` a path is writable when it is under at least one writable
    /// root and under none of the read-only subpaths of *any* root: with roots `/work`
    /// and `/work/proj`, `/work/proj/.git` stays protected even though `/work` alone
    /// would not protect it.
    pub fn check_write(&self, path: &AbsolutePathBuf) -> Result<(), SandboxError> {
        let denied = |reason| {
            Err(SandboxError::WriteDenied {
                path: path.clone(),
                reason,
            })
        };
        match &self.write {
            WriteAccess::Everything => Ok(()),
            WriteAccess::Nothing => denied(WriteDeniedReason::ReadOnlyPolicy),
            WriteAccess::Roots(roots) => {
                if !roots.iter().any(|root| path.starts_with(&root.root)) {
                    return denied(WriteDeniedReason::OutsideWritableRoots);
                }
                let protected = roots
                    .iter()
                    .flat_map(|root| &root.read_only_subpaths)
                    .find(|subpath| path.starts_with(subpath));
                match protected {
                    Some(subpath) => denied(WriteDeniedReason::ProtectedSubpath {
                        subpath: subpath.clone(),
                    }),
                    None => Ok(()),
                }
            }
        }
    }
}
