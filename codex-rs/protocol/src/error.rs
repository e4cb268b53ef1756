//! Why the sandbox policy refused an access, typed so the filesystem layer can map it to
//! the protocol's `sandboxDenied` error and a person can see what to change.

use std::fmt;

use codex_utils_absolute_path::AbsolutePathBuf;

/// An access the sandbox policy does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxError {
    /// The path is not readable under the policy.
    #[error(
        "sandbox policy denies reading `{path}`: it is not under any readable root; \
         add it (or a parent) to `readableRoots`, or grant `{{\"type\": \"fullAccess\"}}` reads"
    )]
    ReadDenied {
        /// The resolved path that was refused.
        path: AbsolutePathBuf,
    },
    /// The path is not writable under the policy.
    #[error("sandbox policy denies writing `{path}`: {reason}")]
    WriteDenied {
        /// The resolved path that was refused.
        path: AbsolutePathBuf,
        /// Which rule refused it.
        reason: WriteDeniedReason,
    },
    /// A writable root lies inside a protected path, which it must never make writable.
    #[error(
        "sandbox policy refused: writable root `{root}` lies inside `{protected}`, which \
         stays read-only (`.git`, `.codex`, `.agents` and a worktree's git directory hold \
         hooks and configuration); drop that root"
    )]
    RootInsideProtectedPath {
        /// The writable root.
        root: AbsolutePathBuf,
        /// The protected path that contains it.
        protected: AbsolutePathBuf,
    },
}

/// Which rule refused a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteDeniedReason {
    /// The policy is `readOnly`: nothing is writable.
    ReadOnlyPolicy,
    /// The path is under none of the effective writable roots.
    OutsideWritableRoots,
    /// The path is inside a protected subpath (`.git`, `.codex`, `.agents`, or the git
    /// directory a `.git` file points to) of a writable root.
    ProtectedSubpath {
        /// The protected subpath that contains the refused path.
        subpath: AbsolutePathBuf,
    },
}

impl fmt::Display for WriteDeniedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteDeniedReason::ReadOnlyPolicy => f.write_str(
                "the policy is `readOnly`; use `workspaceWrite` with a writable root that contains it",
            ),
            WriteDeniedReason::OutsideWritableRoots => f.write_str(
                "it is outside every writable root (the cwd, `writableRoots`, and the temp \
                 directories the policy allows); add it (or a parent) to `writableRoots`",
            ),
            WriteDeniedReason::ProtectedSubpath { subpath } => write!(
                f,
                "it is inside `{subpath}`, which stays read-only inside writable roots \
                 (`.git`, `.codex`, `.agents` and a worktree's git directory hold hooks and \
                 configuration); make the change outside the sandbox"
            ),
        }
    }
}
