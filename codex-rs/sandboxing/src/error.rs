//! Why no sandbox could be built for a policy.
//!
//! Every error here means "the command must not run": the caller asked for
//! restrictions this crate cannot guarantee, so it refuses rather than running the
//! command with less confinement than the policy promised.

use std::fmt;
use std::path::PathBuf;

use crate::Platform;

/// A policy that cannot be enforced as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxingError {
    /// The platform has no sandbox backend, and the policy restricts something.
    #[error(
        "no sandbox backend exists on {platform} to enforce a `{policy_type}` policy; \
         run the command on macOS or Linux, or use `dangerFullAccess` / `externalSandbox` \
         if it is confined some other way"
    )]
    UnsupportedPlatform {
        /// The platform that was asked for.
        platform: Platform,
        /// The policy's wire `type` (`readOnly`, `workspaceWrite`).
        policy_type: &'static str,
    },
    /// A path of the policy cannot be handed to Seatbelt faithfully.
    #[error("sandbox path `{}` cannot be passed to Seatbelt: {problem}", path.display())]
    UnrepresentablePath {
        /// The offending path.
        path: PathBuf,
        /// What is wrong with it.
        problem: PathProblem,
    },
    /// A root of the policy leads through a symlink in a directory the policy makes
    /// writable, so a sandboxed command could have planted it, to a place that is not
    /// writable anyway.
    #[error(
        "sandbox root `{}` is redirected by the symlink `{}` (to `{}`), which lies in a \
         writable directory where a sandboxed command could have planted it; name the \
         real directory in the policy, or move the link out of the writable roots",
        root.display(),
        link.display(),
        target.display()
    )]
    RootThroughWritableSymlink {
        /// The root as the policy names it.
        root: PathBuf,
        /// The symlink, at its resolved location.
        link: PathBuf,
        /// Where the root leads.
        target: PathBuf,
    },
    /// A `.git` file names its git directory (or that names its common directory)
    /// through a symlink in a writable directory: a sandboxed command could replace the
    /// link and have git on the host use a git directory of its own, hooks and all.
    #[error(
        "`{}` leads git through the symlink `{}`, which lies in a writable directory where \
         a sandboxed command could replace it; point it at the real git directory",
        pointer.display(),
        link.display()
    )]
    GitdirThroughWritableSymlink {
        /// The `.git` file (or `commondir` file).
        pointer: PathBuf,
        /// The symlink, at its resolved location.
        link: PathBuf,
    },
    /// A root resolves elsewhere than the first time it was used (by this server, or
    /// whatever shares the [`crate::RootPins`]).
    #[error(
        "sandbox root `{}` now leads to `{}`, but led to `{}` when it was first used; \
         something replaced it (a symlink planted by a sandboxed command, say). Check it, \
         then name the real directory in the policy (or restart the server to accept the \
         new target)",
        root.display(),
        now.display(),
        first.display()
    )]
    RootChanged {
        /// The root as the policy names it.
        root: PathBuf,
        /// Where it led the first time.
        first: PathBuf,
        /// Where it leads now.
        now: PathBuf,
    },
    /// A root of the policy could not be resolved.
    #[error("cannot resolve sandbox root `{}`: {message}", path.display())]
    Resolve {
        /// The root as the policy names it.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The policy contradicts itself (a writable root inside a protected path).
    #[error(transparent)]
    Policy(codex_protocol::SandboxError),
}

/// What makes a path impossible to pass to Seatbelt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathProblem {
    /// Seatbelt profile parameters are UTF-8 strings (and APFS names are UTF-8), so a
    /// lossy conversion would name a different path.
    NotUtf8,
    /// A NUL byte ends a C string early, so Seatbelt would see a shorter path.
    ContainsNul,
}

impl fmt::Display for PathProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathProblem::NotUtf8 => f.write_str(
                "it is not valid UTF-8, and a lossy conversion would sandbox a different path",
            ),
            PathProblem::ContainsNul => {
                f.write_str("it contains a NUL byte, which would cut the path short in the sandbox")
            }
        }
    }
}
