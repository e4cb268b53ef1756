//! Running bubblewrap: finding it, checking before the command runs that it can build
//! the sandbox here (with one retry without `/proc`), then running it and cleaning up.
//!
//! The check is a *preflight*: the same `bwrap` arguments with a harmless command (the
//! seccomp stage's `--version`). Whatever goes wrong there goes wrong before the user's
//! command has run, so a missing or forbidden bubblewrap is a clear error and never a
//! half-run command, and retrying without `/proc` can never run the command twice.

use std::ffi::OsStr;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::process::ExitStatus;
use std::process::Stdio;
use std::sync::atomic::AtomicI32;
use std::sync::atomic::Ordering;

use codex_utils_absolute_path::AbsolutePathBuf;

use crate::LinuxSandboxError;

/// Where `bwrap` is looked for after the directories of `$PATH`.
const FALLBACK_BWRAP_PATHS: [&str; 2] = ["/usr/bin/bwrap", "/bin/bwrap"];

/// Finds the bubblewrap executable: `explicit` if given (and nothing else), otherwise
/// `bwrap` in each directory of `path_env` (the value of `$PATH`), then
/// `/usr/bin/bwrap` and `/bin/bwrap`.
pub fn find_bwrap(
    explicit: Option<&Path>,
    path_env: Option<&OsStr>,
) -> Result<PathBuf, LinuxSandboxError> {
    let candidates: Vec<PathBuf> = match explicit {
        Some(path) => vec![path.to_path_buf()],
        None => path_env
            .map(|value| {
                std::env::split_paths(value)
                    .filter(|dir| dir.is_absolute())
                    .map(|dir| dir.join("bwrap"))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
            .into_iter()
            .chain(FALLBACK_BWRAP_PATHS.iter().map(PathBuf::from))
            .collect(),
    };
    let is_executable_file = |path: &Path| {
        std::fs::metadata(path)
            .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
    };
    match candidates.iter().find(|path| is_executable_file(path)) {
        Some(found) => Ok(found.clone()),
        None => Err(LinuxSandboxError::BwrapMissing {
            searched: candidates,
        }),
    }
}

/// What a preflight run of bubblewrap says about this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreflightOutcome {
    /// The sandbox can be built as asked.
    Ready,
    /// Everything works except mounting a fresh `/proc` (some containers forbid it).
    ProcMountDenied,
    /// The sandbox was built, but the seccomp stage could not be executed inside it
    /// (typically a restricted policy that hides the dynamic loader or libc).
    HelperNotRunnable {
        /// Bubblewrap's stderr.
        stderr: String,
    },
    /// Bubblewrap cannot build the sandbox here.
    NotPermitted {
        /// Bubblewrap's stderr.
        stderr: String,
    },
}

/// Classifies a preflight run from its exit status and captured stderr: success is
/// [`PreflightOutcome::Ready`], bubblewrap's `Can't mount proc` is
/// [`PreflightOutcome::ProcMountDenied`], its `execvp` error is
/// [`PreflightOutcome::HelperNotRunnable`], anything else
/// [`PreflightOutcome::NotPermitted`].
pub fn classify_preflight(status: ExitStatus, stderr: &str) -> PreflightOutcome {
    if status.success() {
        PreflightOutcome::Ready
    } else if stderr.contains("Can't mount proc") {
        PreflightOutcome::ProcMountDenied
    } else if stderr.starts_with("bwrap: execvp ") {
        PreflightOutcome::HelperNotRunnable {
            stderr: stderr.to_string(),
        }
    } else {
        PreflightOutcome::NotPermitted {
            stderr: stderr.to_string(),
        }
    }
}

/// Runs one preflight: `bwrap args` with stdin and stdout discarded, stderr captured.
pub(crate) fn run_preflight(
    bwrap: &Path,
    args: &[OsString],
) -> Result<PreflightOutcome, LinuxSandboxError> {
    let output = Command::new(bwrap)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|source| LinuxSandboxError::BwrapSpawn {
            bwrap: bwrap.to_path_buf(),
            source,
        })?;
    Ok(classify_preflight(
        output.status,
        &String::from_utf8_lossy(&output.stderr),
    ))
}

/// The pid of the running bubblewrap, for the signal forwarder (0: none).
static BWRAP_PID: AtomicI32 = AtomicI32::new(0);

/// Signals that are passed on to bubblewrap (and so to the sandbox) instead of killing
/// this process and leaving placeholders behind.
const FORWARDED_SIGNALS: [libc::c_int; 4] =
    [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM];

extern "C" fn forward_signal(signal: libc::c_int) {
    let pid = BWRAP_PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe and takes plain integers.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// Runs `bwrap args` with this process's stdio, forwarding termination signals to it,
/// and returns its exit status once it (and with it the whole sandbox, thanks to
/// `--die-with-parent` and the PID namespace) is gone.
///
/// The forwarded signals are blocked from before the spawn until the handlers know the
/// pid, so one that arrives in between is delivered (and forwarded) late rather than
/// killing this process and orphaning the placeholders; bubblewrap unblocks them again
/// before it starts (the mask is inherited across `fork` and `execve`).
pub(crate) fn run_bwrap(bwrap: &Path, args: &[OsString]) -> Result<ExitStatus, LinuxSandboxError> {
    let spawn_error = |source| LinuxSandboxError::BwrapSpawn {
        bwrap: bwrap.to_path_buf(),
        source,
    };
    // SAFETY: an all-zero sigset_t is a valid value to initialise with sigemptyset.
    let mut forwarded: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: sigemptyset/sigaddset/sigprocmask only touch the set we own and this
    // (single-threaded) process's mask.
    unsafe {
        libc::sigemptyset(&mut forwarded);
        for signal in FORWARDED_SIGNALS {
            libc::sigaddset(&mut forwarded, signal);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &forwarded, std::ptr::null_mut());
    }
    let unblock = || {
        // SAFETY: as above.
        unsafe {
            libc::sigprocmask(libc::SIG_UNBLOCK, &forwarded, std::ptr::null_mut());
        }
    };
    let mut command = Command::new(bwrap);
    command.args(args);
    // SAFETY: the closure only calls sigprocmask, which is async-signal-safe, on a set
    // copied into it.
    unsafe {
        command.pre_exec(move || {
            libc::sigprocmask(libc::SIG_UNBLOCK, &forwarded, std::ptr::null_mut());
            Ok(())
        });
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(source) => {
            unblock();
            return Err(spawn_error(source));
        }
    };
    BWRAP_PID.store(i32::try_from(child.id()).unwrap_or(0), Ordering::SeqCst);
    for signal in FORWARDED_SIGNALS {
        // SAFETY: the handler only loads an atomic and calls kill(2), both
        // async-signal-safe.
        unsafe {
            libc::signal(signal, forward_signal as *const () as libc::sighandler_t);
        }
    }
    unblock();
    let status = child.wait().map_err(spawn_error);
    BWRAP_PID.store(0, Ordering::SeqCst);
    for signal in FORWARDED_SIGNALS {
        // SAFETY: restoring the default disposition.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
        }
    }
    status
}

/// Removes the placeholder directories bubblewrap created on the host for protected
/// paths that did not exist. Only empty directories are removed (`rmdir`), so anything
/// that was really created there meanwhile, outside the sandbox, stays.
pub(crate) fn remove_placeholders(placeholders: &[AbsolutePathBuf]) {
    for path in placeholders {
        match std::fs::remove_dir(path.as_path()) {
            Ok(()) => tracing::debug!("removed placeholder `{path}`"),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => tracing::warn!("could not remove placeholder `{path}`: {err}"),
        }
    }
}

/// Ends this process the way `status` ended the child: the same exit code, or the same
/// signal (re-raised with its default action), so callers see the command's own status.
pub(crate) fn exit_like(status: ExitStatus) -> ! {
    if let Some(signal) = status.signal() {
        // SAFETY: resetting a disposition and raising a signal at ourselves.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
        std::process::exit(128 + signal);
    }
    std::process::exit(status.code().unwrap_or(1));
}

#[cfg(test)]
#[path = "launcher_tests.rs"]
mod tests;
