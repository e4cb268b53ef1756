//! Where a policy lets the agent write, worked out for one cwd.
//!
//! A `workspaceWrite` policy names only its *extra* roots; the cwd and the temp
//! directories are implied. This module turns the policy into the explicit list a
//! sandbox or the filesystem layer enforces, so every consumer agrees on it.
//!
//! Inside every writable root, `.git`, `.codex` and `.agents` stay read-only: they hold
//! hooks and configuration that run with the user's privileges later, so an agent that
//! could write them could escape the sandbox. The three are protected whether or not
//! they exist yet (creating `.git/hooks` is as dangerous as editing it), which also
//! keeps this computation free of filesystem access.
//!
//! A `.git` that is a *file* (a worktree or submodule: `gitdir: <path>`) points at the
//! real git directory, which is protected too. Finding it needs to read that file, so it
//! is a separate step, [`WriteAccess::protect_gitdir_targets`], that takes the reader as
//! a closure: tests pass a fake, production passes
//! [`crate::read_gitdir_pointer_from_disk`].

use std::path::Path;
use std::path::PathBuf;

use codex_utils_absolute_path::AbsolutePathBuf;

use crate::SandboxPolicy;

/// Names of the entries directly inside a writable root that stay read-only.
pub const PROTECTED_SUBPATH_NAMES: [&str; 3] = [".git", ".codex", ".agents"];

/// The `.git` entry of a root: the one protected name that may be a gitdir pointer file.
const DOT_GIT: &str = ".git";

/// `/tmp`, writable under `workspaceWrite` on Unix unless `excludeSlashTmp`.
const SLASH_TMP: &str = "/tmp";

/// One writable root and the paths inside it (or, for a gitdir target, elsewhere) that
/// stay read-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritableRoot {
    /// The directory under which writes are allowed.
    pub root: AbsolutePathBuf,
    /// Paths that stay read-only even though they are under a writable root:
    /// `<root>/.git`, `<root>/.codex`, `<root>/.agents`, and the directory a `.git`
    /// pointer file names, once [`WriteAccess::protect_gitdir_targets`] has run.
    pub read_only_subpaths: Vec<AbsolutePathBuf>,
}

/// Where writes are allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteAccess {
    /// Every path (`dangerFullAccess`, or `externalSandbox` where someone else enforces).
    Everything,
    /// Only under these roots, minus their read-only subpaths (`workspaceWrite`; empty
    /// only when the policy names no root and no cwd and excludes both temp directories).
    Roots(Vec<WritableRoot>),
    /// No path at all (`readOnly`).
    Nothing,
}

impl WritableRoot {
    /// A root with the default protected subpaths (`.git`, `.codex`, `.agents`).
    pub fn with_default_protection(root: AbsolutePathBuf) -> Self {
        let read_only_subpaths = PROTECTED_SUBPATH_NAMES
            .iter()
            .map(|name| root.join(name))
            .collect();
        Self {
            root,
            read_only_subpaths,
        }
    }
}

impl WriteAccess {
    /// Adds, for every root whose `.git` is a gitdir pointer file, the directory it
    /// points to as a read-only subpath of that root.
    ///
    /// `read_gitdir_pointer` gets `<root>/.git` and returns the path after `gitdir:` when
    /// that is a pointer file, `None` otherwise (a directory, missing, unreadable). A
    /// relative answer is taken relative to the root, as git does.
    pub fn protect_gitdir_targets(
        self,
        read_gitdir_pointer: impl Fn(&Path) -> Option<PathBuf>,
    ) -> Self {
        match self {
            WriteAccess::Everything => WriteAccess::Everything,
            WriteAccess::Nothing => WriteAccess::Nothing,
            WriteAccess::Roots(roots) => WriteAccess::Roots(
                roots
                    .into_iter()
                    .map(|mut root| {
                        let dot_git = root.root.join(DOT_GIT);
                        if let Some(target) = read_gitdir_pointer(dot_git.as_path()) {
                            let target = root.root.join(target);
                            if !root.read_only_subpaths.contains(&target) {
                                root.read_only_subpaths.push(target);
                            }
                        }
                        root
                    })
                    .collect(),
            ),
        }
    }
}

impl WriteAccess {
    /// The first writable root that lies inside a protected path (of itself or of another
    /// root), with that path: `writableRoots: ["/w", "/w/.git/hooks"]` must not make the
    /// hooks writable, so such a policy is refused rather than quietly narrowed.
    pub fn root_inside_protected(&self) -> Option<(&AbsolutePathBuf, &AbsolutePathBuf)> {
        let WriteAccess::Roots(roots) = self else {
            return None;
        };
        roots.iter().find_map(|root| {
            roots
                .iter()
                .flat_map(|other| &other.read_only_subpaths)
                .find(|protected| root.root.starts_with(protected))
                .map(|protected| (&root.root, protected))
        })
    }
}

impl SandboxPolicy {
    /// The effective writable roots of this policy, bound to the policy's own cwd.
    ///
    /// For `workspaceWrite` that is, in this order and without duplicates:
    /// `writableRoots`, `policy_cwd` (if any), `/tmp` (Unix, unless `excludeSlashTmp`)
    /// and `tmpdir` (unless `excludeTmpdirEnvVar`), each with `.git`, `.codex` and
    /// `.agents` read-only.
    ///
    /// `policy_cwd` is the directory the policy was written for (`sandboxPolicyCwd` on
    /// the wire), never a command's working directory: a request must not widen what the
    /// policy grants by choosing where its command runs. `None` grants no cwd. `tmpdir`
    /// is the `$TMPDIR` of the host that enforces the policy (the same for commands and
    /// filesystem requests), passed in rather than read so the result depends only on the
    /// arguments. Pure: touches neither the filesystem nor the environment.
    pub fn writable_roots_with_cwd(
        &self,
        policy_cwd: Option<&AbsolutePathBuf>,
        tmpdir: Option<&AbsolutePathBuf>,
    ) -> WriteAccess {
        match self {
            SandboxPolicy::DangerFullAccess | SandboxPolicy::ExternalSandbox { .. } => {
                WriteAccess::Everything
            }
            SandboxPolicy::ReadOnly { .. } => WriteAccess::Nothing,
            SandboxPolicy::WorkspaceWrite {
                writable_roots,
                read_only_access: _,
                network_access: _,
                exclude_tmpdir_env_var,
                exclude_slash_tmp,
            } => {
                let mut roots: Vec<AbsolutePathBuf> = writable_roots.clone();
                roots.extend(policy_cwd.cloned());
                if cfg!(unix) && !exclude_slash_tmp {
                    // Always absolute on Unix; `ok()` only spares an `expect`.
                    roots.extend(AbsolutePathBuf::try_from_absolute(SLASH_TMP).ok());
                }
                if !exclude_tmpdir_env_var {
                    roots.extend(tmpdir.cloned());
                }
                let mut unique: Vec<AbsolutePathBuf> = Vec::with_capacity(roots.len());
                for root in roots {
                    if !unique.contains(&root) {
                        unique.push(root);
                    }
                }
                WriteAccess::Roots(
                    unique
                        .into_iter()
                        .map(WritableRoot::with_default_protection)
                        .collect(),
                )
            }
        }
    }
}

#[cfg(test)]
#[path = "writable_roots_tests.rs"]
mod tests;
