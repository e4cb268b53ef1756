//! Why a command could not be sandboxed, typed so callers can tell a bad policy (fix
//! the request) from a host that cannot sandbox (fix the machine) from a command that
//! could not start.

use std::io;
use std::path::PathBuf;

use codex_utils_absolute_path::AbsolutePathBuf;

/// Everything that can stop a command from running under the Linux sandbox. Every
/// variant is raised *before* the command runs, except [`LinuxSandboxError::Exec`].
#[derive(Debug, thiserror::Error)]
pub enum LinuxSandboxError {
    /// The policy needs no bubblewrap (`dangerFullAccess`, `externalSandbox`); see
    /// [`crate::SandboxPlan`] for what to do instead.
    #[error(
        "the `{policy}` policy is not enforced with bubblewrap; run the command directly \
         (or, for `externalSandbox` without network, under the seccomp filter only)"
    )]
    NotABwrapPolicy {
        /// The policy's `type` on the wire.
        policy: &'static str,
    },
    /// No command was given.
    #[error("no command to run: give it after `--`")]
    EmptyCommand,
    /// The working directory is not an absolute path.
    #[error("the working directory `{}` is not absolute", cwd.display())]
    CwdNotAbsolute {
        /// The cwd as given.
        cwd: PathBuf,
    },
    /// The working directory does not exist (or is not a directory).
    #[error("the working directory `{cwd}` does not exist or is not a directory")]
    MissingCwd {
        /// The cwd as given.
        cwd: AbsolutePathBuf,
    },
    /// The working directory is outside every readable root, so the command could not
    /// even start there.
    #[error(
        "the working directory `{cwd}` is not readable under the policy; add it (or a \
         parent) to `readableRoots` or set `includePlatformDefaults`"
    )]
    CwdNotReadable {
        /// The cwd as given.
        cwd: AbsolutePathBuf,
    },
    /// A writable root (from `writableRoots`, or the implied `/tmp` / `$TMPDIR`) does not
    /// exist; bubblewrap cannot bind it and silently dropping it would change the policy.
    #[error(
        "writable root `{root}` does not exist; create it or remove it from the policy \
         (`/tmp` and `$TMPDIR` can be left out with `excludeSlashTmp` / `excludeTmpdirEnvVar`)"
    )]
    MissingWritableRoot {
        /// The root that is missing.
        root: AbsolutePathBuf,
    },
    /// A path of `readableRoots` does not exist.
    #[error("readable root `{root}` does not exist; create it or remove it from `readableRoots`")]
    MissingReadableRoot {
        /// The root that is missing.
        root: AbsolutePathBuf,
    },
    /// A protected path (`.git`, `.codex`, `.agents`, a gitdir target) inside a writable
    /// root is a symlink. A mount would land on the link's target, and the link itself
    /// could then be replaced by a writable directory, so we refuse.
    #[error(
        "protected path `{path}` is a symlink inside a writable root; the sandbox cannot \
         keep it read-only (the link itself could be replaced), so it refuses to run"
    )]
    ProtectedPathIsSymlink {
        /// The protected path.
        path: AbsolutePathBuf,
    },
    /// A protected path does not exist and neither does its parent, so no read-only
    /// placeholder can be put there to stop it from being created.
    #[error(
        "protected path `{path}` and its parent directory do not exist; the sandbox cannot \
         stop it from being created, so it refuses to run (fix or remove the `.git` file \
         that points there)"
    )]
    UnprotectableMissingPath {
        /// The protected path.
        path: AbsolutePathBuf,
    },
    /// A filesystem check failed for another reason than "not found".
    #[error("cannot inspect `{path}`: {source}")]
    Inspect {
        /// The path that was being inspected.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// `bwrap` was not found.
    #[error(
        "bubblewrap (`bwrap`) was not found (searched: {}); install it (Debian/Ubuntu: \
         `apt-get install bubblewrap`) or pass its path with `--bwrap`",
        display_paths(searched)
    )]
    BwrapMissing {
        /// Every path that was tried.
        searched: Vec<PathBuf>,
    },
    /// `bwrap` exists but cannot set up the sandbox here (no user namespaces, a seccomp
    /// profile of the container that forbids `unshare`, …).
    #[error(
        "bubblewrap cannot create the sandbox on this host: {}{}",
        stderr.trim_end(),
        user_namespace_hint(stderr)
    )]
    BwrapNotPermitted {
        /// What bubblewrap printed.
        stderr: String,
    },
    /// Bubblewrap built the sandbox, but this executable (the seccomp stage that runs
    /// first inside it) could not be started there.
    #[error(
        "the sandbox's seccomp stage cannot start inside the sandbox: {}; a restricted \
         policy must keep the dynamic loader and libc readable (set \
         `includePlatformDefaults`, or add `/usr` and `/lib64` to `readableRoots`)",
        stderr.trim_end()
    )]
    HelperNotRunnable {
        /// What bubblewrap printed.
        stderr: String,
    },
    /// Starting or waiting for `bwrap` failed.
    #[error("running bubblewrap `{bwrap}` failed: {source}")]
    BwrapSpawn {
        /// The bubblewrap executable.
        bwrap: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The path of this executable could not be found, so it cannot be run inside the
    /// sandbox as the seccomp stage.
    #[error("cannot find the path of the running executable: {source}")]
    CurrentExe {
        /// The underlying error.
        source: io::Error,
    },
    /// `--sandbox-policy-json` is not a valid policy.
    #[error("invalid sandbox policy JSON: {source}")]
    PolicyJson {
        /// The parse error, naming the field.
        #[source]
        source: serde_json::Error,
    },
    /// `PR_SET_NO_NEW_PRIVS` could not be set.
    #[error("prctl(PR_SET_NO_NEW_PRIVS) failed: {source}")]
    NoNewPrivs {
        /// The underlying error.
        source: io::Error,
    },
    /// The seccomp filter could not be built or installed.
    #[error("installing the seccomp network filter failed: {message}")]
    Seccomp {
        /// What went wrong.
        message: String,
    },
    /// The kernel cannot mark all descriptors close-on-exec at once
    /// (`close_range(CLOSE_RANGE_CLOEXEC)`, Linux 5.11), which a host needs so that
    /// nothing but the command's stdio is passed into the sandbox.
    #[error(
        "this kernel lacks close_range(CLOSE_RANGE_CLOEXEC) (Linux 5.11 or later), which \
         keeps the host's descriptors out of the sandbox: {source}"
    )]
    CloseRangeUnsupported {
        /// The error of the trial call.
        source: io::Error,
    },
    /// Mounts propagate on this host, so a mount it makes while a sandbox runs would
    /// appear inside; hiding them needs root or the trampoline, which this process's
    /// executable is not (its `main` did not call `arg0_dispatch`).
    #[error(
        "mounts propagate on this host, so mounts it makes while a sandbox runs would \
         appear inside it; a process that is not root hides them through its own \
         executable, whose `main` must call codex_linux_sandbox::arg0_dispatch() first"
    )]
    MountsPropagate,
    /// The policy cannot be bound to this host: a root redirected by a symlink a
    /// sandboxed command could have planted, a writable root inside a protected path, or
    /// a root that cannot be resolved.
    #[error(transparent)]
    Policy(codex_sandboxing::SandboxingError),
    /// The bubblewrap executable could be replaced by someone other than root, so
    /// running it would hand them the sandbox.
    #[error(
        "refusing to run bubblewrap `{}`: {reason}; install bwrap where only root can \
         change it (e.g. /usr/bin/bwrap from the distribution's package)",
        path.display()
    )]
    BwrapUntrusted {
        /// The executable (or the directory above it) at fault.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The bubblewrap executable resolved at start-up is no longer the same file.
    #[error(
        "bubblewrap `{}` changed since this process started (another file is at that \
         path now); restart the process to trust the new one",
        path.display()
    )]
    BwrapChanged {
        /// The executable.
        path: PathBuf,
    },
    /// An environment variable of the command cannot be passed into the sandbox.
    #[error(
        "environment variable name `{name}` cannot be set in the sandbox: names must be \
         non-empty and hold no `=` or NUL, values no NUL"
    )]
    InvalidEnv {
        /// The offending name (lossy).
        name: String,
    },
    /// A placeholder for a missing protected path could not be created or locked.
    #[error("cannot hold the placeholder `{path}` of a missing protected path: {source}")]
    Placeholder {
        /// The protected path.
        path: AbsolutePathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A resource limit is out of its bounds (see [`crate::ResourceLimits::validate`]).
    #[error("`{name}` must be an integer from {min} to {max}, got {value}")]
    InvalidLimit {
        /// The limit's name on the wire (`maxProcesses`, ...).
        name: &'static str,
        /// The value asked for.
        value: u64,
        /// The smallest value allowed.
        min: u64,
        /// The largest value allowed.
        max: u64,
    },
    /// A process limit was asked for a command of root, whose processes Linux never holds
    /// to `RLIMIT_NPROC` (see [`crate::ResourceLimits::processes_enforceable`]).
    #[error(
        "`maxProcesses` cannot be enforced: this runs as root (uid 0), and Linux does not \
         hold processes of uid 0 to RLIMIT_NPROC, also inside a sandbox without capabilities \
         (it keeps uid 0 outside its user namespace); run as another user or drop \
         `maxProcesses`"
    )]
    ProcessLimitUnenforceable,
    /// `setrlimit` refused a resource limit.
    #[error("cannot set the resource limits: {source}")]
    ApplyLimits {
        /// The underlying error.
        source: io::Error,
    },
    /// One of the host's secrets (`BwrapOptions::hidden`) lies in a writable root: the
    /// command could move it, or a directory above it, out from under its cover.
    #[error(
        "refusing a writable root that holds a secret of this host: `{root}` contains \
         `{}`; keep the server's token file and TLS key out of every writable root",
        secret.display()
    )]
    SecretInWritableRoot {
        /// The writable root.
        root: AbsolutePathBuf,
        /// The secret.
        secret: PathBuf,
    },
    /// The `arg0` asked for cannot be the name of a file (bubblewrap runs the command from
    /// a file of that name, see [`crate::BwrapOptions::arg0`]).
    #[error(
        "arg0 `{arg0}` cannot be used with a bubblewrap sandbox: it must be a plain file name \
         (no `/`, not `.` or `..`, not empty)"
    )]
    InvalidArg0 {
        /// The arg0 as given.
        arg0: String,
    },
    /// The program to run under another name is not readable under the policy: binding it
    /// into the sandbox would show what the policy hides.
    #[error(
        "`{}` is not readable under this sandbox policy, so it cannot be run under another \
         name (`arg0`); add its directory to `readableRoots`",
        program.display()
    )]
    Arg0ProgramNotReadable {
        /// The program, resolved.
        program: PathBuf,
    },
    /// The command itself could not be executed (after the sandbox was set up).
    #[error("cannot execute `{}`: {source}", program.display())]
    Exec {
        /// The program that was to be executed.
        program: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

impl LinuxSandboxError {
    /// The exit status the `codex-linux-sandbox` binary uses for this error: 127 when
    /// the command was not found, 126 when it could not be executed, and 125 for every
    /// error of the sandbox itself (as `env`, `timeout` and container runtimes do), so a
    /// caller can tell them apart from the command's own failures.
    pub fn exit_code(&self) -> i32 {
        match self {
            LinuxSandboxError::Exec { source, .. } => match source.kind() {
                io::ErrorKind::NotFound => 127,
                _ => 126,
            },
            LinuxSandboxError::NotABwrapPolicy { .. }
            | LinuxSandboxError::InvalidArg0 { .. }
            | LinuxSandboxError::Arg0ProgramNotReadable { .. }
            | LinuxSandboxError::EmptyCommand
            | LinuxSandboxError::CwdNotAbsolute { .. }
            | LinuxSandboxError::MissingCwd { .. }
            | LinuxSandboxError::CwdNotReadable { .. }
            | LinuxSandboxError::MissingWritableRoot { .. }
            | LinuxSandboxError::MissingReadableRoot { .. }
            | LinuxSandboxError::ProtectedPathIsSymlink { .. }
            | LinuxSandboxError::UnprotectableMissingPath { .. }
            | LinuxSandboxError::Inspect { .. }
            | LinuxSandboxError::BwrapMissing { .. }
            | LinuxSandboxError::BwrapNotPermitted { .. }
            | LinuxSandboxError::HelperNotRunnable { .. }
            | LinuxSandboxError::BwrapSpawn { .. }
            | LinuxSandboxError::CurrentExe { .. }
            | LinuxSandboxError::PolicyJson { .. }
            | LinuxSandboxError::NoNewPrivs { .. }
            | LinuxSandboxError::CloseRangeUnsupported { .. }
            | LinuxSandboxError::MountsPropagate
            | LinuxSandboxError::Seccomp { .. }
            | LinuxSandboxError::Policy(_)
            | LinuxSandboxError::BwrapUntrusted { .. }
            | LinuxSandboxError::BwrapChanged { .. }
            | LinuxSandboxError::InvalidEnv { .. }
            | LinuxSandboxError::Placeholder { .. }
            | LinuxSandboxError::InvalidLimit { .. }
            | LinuxSandboxError::ApplyLimits { .. }
            | LinuxSandboxError::ProcessLimitUnenforceable
            | LinuxSandboxError::SecretInWritableRoot { .. } => crate::SETUP_FAILED_EXIT_CODE,
        }
    }
}

/// What to do when bubblewrap's message says user namespaces are refused (the sandbox
/// always runs in one): on Ubuntu 23.10 and later AppArmor restricts them for
/// unprivileged users, and `bwrap` then fails in one of these two ways.
fn user_namespace_hint(stderr: &str) -> &'static str {
    let refused = stderr.contains("setting up uid map: Permission denied")
        || stderr.contains("Failed RTM_NEWADDR: Operation not permitted")
        || stderr.contains("No permissions to create new namespace");
    if refused {
        "; unprivileged user namespaces are refused here (Ubuntu >= 23.10 restricts them \
         through AppArmor): allow them for bwrap with an AppArmor profile \
         (`profile bwrap /usr/bin/bwrap flags=(unconfined) { userns, }`) or \
         `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`; on other hosts check \
         `sysctl user.max_user_namespaces` and `kernel.unprivileged_userns_clone`"
    } else {
        ""
    }
}

fn display_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shown.join(", ")
}
