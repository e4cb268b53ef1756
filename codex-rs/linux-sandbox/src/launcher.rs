//! Running bubblewrap: finding it, running it once with the command, telling a set-up
//! failure (nothing ran) from the command's own exit, and cleaning up.
//!
//! Whether bubblewrap got as far as executing the seccomp stage comes from its
//! `--json-status-fd` reports (see [`classify_bwrap_run`]); only when it did not — so
//! neither the seccomp stage nor the user's command ran — is its stderr classified,
//! which is what makes the one retry without `/proc` safe: the user's command never
//! runs twice.

use std::ffi::OsStr;
use std::ffi::OsString;
use std::io::Read;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::fd::FromRawFd;
use std::os::fd::OwnedFd;
use std::os::fd::RawFd;
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

use crate::LinuxSandboxError;
use crate::PrivateMounts;
use crate::ProcMount;

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

/// Why bubblewrap failed before it executed the seccomp stage (so before the user's
/// command could run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SetupFailure {
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

/// How one run of bubblewrap ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BwrapOutcome {
    /// Bubblewrap executed the seccomp stage (so the user's command may have run), or
    /// it was killed by a signal, or it succeeded: exit as it did, never run it again.
    Finished(ExitStatus),
    /// Bubblewrap exited with an error before executing the seccomp stage: nothing ran.
    SetupFailed(SetupFailure),
}

/// Decides how a run of bubblewrap ended, from its exit status, what it wrote to
/// `--json-status-fd` and its own stderr.
///
/// Bubblewrap reports `{ "child-pid": N }` right after `clone`, *before* the child sets
/// up the mounts (a refused `/proc` mount comes after it), so that is no proof that
/// anything ran. It reports `{ "exit-code": N }` when the child exits only if its setup
/// finished and `execvp` of the command succeeded. So: a non-zero exit (not a signal)
/// with no `exit-code` document is a set-up failure, classified by bubblewrap's stderr
/// (`Can't mount proc` → [`SetupFailure::ProcMountDenied`], its `execvp` error →
/// [`SetupFailure::HelperNotRunnable`], anything else →
/// [`SetupFailure::NotPermitted`]). Everything else — success, a signal, an `exit-code`
/// report, or a status stream that is not valid JSON — is
/// [`BwrapOutcome::Finished`]: when in doubt, the command is assumed to have run, so it
/// is never retried.
pub(crate) fn classify_bwrap_run(
    status: ExitStatus,
    json_status: &[u8],
    stderr: &str,
) -> BwrapOutcome {
    if !nothing_ran(status, json_status) {
        return BwrapOutcome::Finished(status);
    }
    BwrapOutcome::SetupFailed(if stderr.contains("Can't mount proc") {
        SetupFailure::ProcMountDenied
    } else if stderr.starts_with("bwrap: execvp ") {
        SetupFailure::HelperNotRunnable {
            stderr: stderr.to_string(),
        }
    } else {
        SetupFailure::NotPermitted {
            stderr: stderr.to_string(),
        }
    })
}

/// Whether a bubblewrap run that ended with `status` and reported `json_status` failed
/// before it executed anything: a non-zero exit (not a signal) with a valid status
/// stream that has no `exit-code` document (see [`classify_bwrap_run`]).
pub(crate) fn nothing_ran(status: ExitStatus, json_status: &[u8]) -> bool {
    !status.success() && status.signal().is_none() && setup_failed_per_status(json_status)
}

/// Whether bubblewrap's `--json-status-fd` stream is valid and has no `exit-code`
/// document, i.e. says the command was never executed.
fn setup_failed_per_status(json_status: &[u8]) -> bool {
    let mut exit_code_reported = false;
    for document in
        serde_json::Deserializer::from_slice(json_status).into_iter::<serde_json::Value>()
    {
        match document {
            Ok(value) => exit_code_reported |= value.get("exit-code").is_some(),
            Err(_) => return false,
        }
    }
    !exit_code_reported
}

/// How much of bubblewrap's own stderr is kept (for the set-up failure message, or to
/// pass on after a run); the rest is read and dropped so bubblewrap never blocks on it.
const MAX_BWRAP_STDERR: usize = 64 * 1024;

/// Reads `reader` to its end, keeping the first [`MAX_BWRAP_STDERR`] bytes.
pub(crate) fn read_bounded(mut reader: impl Read) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                let room = MAX_BWRAP_STDERR.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    kept
}

/// A pipe whose two ends are close-on-exec and above stderr (should this process have
/// been started with stdin, stdout or stderr closed, a pipe end must not take its place).
pub(crate) fn cloexec_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe2 writes two new descriptors into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((above_stderr(read)?, above_stderr(write)?))
}

/// `fd` itself if it is above 2, else a close-on-exec copy that is (and `fd` is closed).
pub(crate) fn above_stderr(fd: OwnedFd) -> std::io::Result<OwnedFd> {
    if fd.as_raw_fd() > libc::STDERR_FILENO {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC duplicates a descriptor we own to a new one >= 3.
    let moved = unsafe {
        libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, /*min_fd*/ 3)
    };
    if moved < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(moved) })
}

/// A copy of this process's stderr at a descriptor >= 3 and *not* close-on-exec, so
/// that it passes through bubblewrap to the seccomp stage, which puts it back as the
/// command's stderr (bubblewrap's own stderr is a pipe we read, see [`run_bwrap`]).
/// `None` when this process has no stderr.
pub(crate) fn inheritable_stderr() -> Option<OwnedFd> {
    // SAFETY: F_DUPFD duplicates fd 2 (if open) to a new descriptor we then own.
    let fd = unsafe {
        libc::fcntl(libc::STDERR_FILENO, libc::F_DUPFD, /*min_fd*/ 3)
    };
    // SAFETY: as above: a fresh descriptor owned by nobody else.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
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

/// Runs `bwrap --json-status-fd FD args` with this process's stdin and stdout,
/// forwarding termination signals to it, and tells how it ended (see
/// [`classify_bwrap_run`]) once it (and with it the whole sandbox, thanks to
/// `--die-with-parent` and the PID namespace) is gone.
///
/// Bubblewrap's stderr is a pipe read by a thread: what bubblewrap prints is what tells
/// a refused `/proc` mount from other set-up failures. The command does not write
/// there: `args` runs the seccomp stage with `--stderr-fd` (see
/// [`inheritable_stderr`]), which restores the real stderr before anything else. After
/// a [`BwrapOutcome::Finished`] run, what bubblewrap printed is passed on to this
/// process's stderr; after a set-up failure it is only in the returned
/// [`SetupFailure`], as the caller decides what to say.
///
/// The forwarded signals are blocked from before the spawn until the handlers know the
/// pid, so one that arrives in between is delivered (and forwarded) late rather than
/// killing this process and orphaning the placeholders; bubblewrap unblocks them again
/// before it starts (the mask is inherited across `fork` and `execve`). The stderr
/// reader thread is started while they are blocked and keeps them blocked, so they are
/// always handled by this (the main) thread.
pub(crate) fn run_bwrap(
    bwrap: &Path,
    args: BwrapArgs<'_>,
) -> Result<BwrapOutcome, LinuxSandboxError> {
    let spawn_error = |source| LinuxSandboxError::BwrapSpawn {
        bwrap: bwrap.to_path_buf(),
        source,
    };
    let (status_read, status_write) = cloexec_pipe().map_err(spawn_error)?;
    let (stderr_read, stderr_write) = cloexec_pipe().map_err(spawn_error)?;
    let status_fd = status_write.as_raw_fd();
    // SAFETY: an all-zero sigset_t is a valid value to initialise with sigemptyset.
    let mut forwarded: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: sigemptyset/sigaddset/sigprocmask only touch the set we own and the
    // calling thread's mask (no other thread of ours exists yet).
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
    let private_mounts = match PrivateMounts::for_this_process() {
        Ok(private_mounts) => private_mounts,
        Err(err) => {
            unblock();
            return Err(err);
        }
    };
    let (mut command, args_fd) = match bwrap_reporting_to(bwrap, private_mounts, status_fd, &args) {
        Ok(built) => built,
        Err(source) => {
            unblock();
            return Err(spawn_error(source));
        }
    };
    let args_raw = args_fd.as_raw_fd();
    let mut keep = vec![status_fd, args_raw];
    keep.extend(args.inherited.iter().map(AsRawFd::as_raw_fd));
    command.stderr(Stdio::from(stderr_write));
    // SAFETY: the closure only calls sigprocmask and fcntl (keep_fds_across_exec),
    // which are async-signal-safe, on values copied into it.
    unsafe {
        command.pre_exec(move || {
            libc::sigprocmask(libc::SIG_UNBLOCK, &forwarded, std::ptr::null_mut());
            private_mounts.apply()?;
            // The status pipe's write end, the arguments and what they name are for
            // bubblewrap.
            keep_fds_across_exec(&keep)
        });
    }
    let spawned = command.spawn();
    // Our copies of the write ends must go, or the reads below would never end.
    drop(command);
    drop(status_write);
    drop(args_fd);
    let mut child = match spawned {
        Ok(child) => child,
        Err(source) => {
            unblock();
            return Err(spawn_error(source));
        }
    };
    let stderr_reader = std::thread::Builder::new()
        .name("bwrap-stderr".to_string())
        .spawn(move || read_bounded(std::fs::File::from(stderr_read)));
    BWRAP_PID.store(i32::try_from(child.id()).unwrap_or(0), Ordering::SeqCst);
    for signal in FORWARDED_SIGNALS {
        // SAFETY: the handler only loads an atomic and calls kill(2), both
        // async-signal-safe.
        unsafe {
            libc::signal(signal, forward_signal as *const () as libc::sighandler_t);
        }
    }
    unblock();
    let status = child.wait();
    BWRAP_PID.store(/*val*/ 0, Ordering::SeqCst);
    for signal in FORWARDED_SIGNALS {
        // SAFETY: restoring the default disposition.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
        }
    }
    // Bubblewrap is gone and with it every writer of both pipes (the sandbox closes
    // the status descriptor before it executes anything, and the PID namespace is dead).
    let json_status = read_bounded(std::fs::File::from(status_read));
    let stderr = match stderr_reader {
        Ok(handle) => handle.join().unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let outcome = classify_bwrap_run(
        status.map_err(spawn_error)?,
        &json_status,
        &String::from_utf8_lossy(&stderr),
    );
    if matches!(outcome, BwrapOutcome::Finished(_)) && !stderr.is_empty() {
        // Nothing sensible is left to do if our own stderr is gone.
        let _ = std::io::stderr().write_all(&stderr);
    }
    Ok(outcome)
}

/// Clears close-on-exec on each of `fds`, so they survive the coming `execve` (in a
/// `pre_exec` hook; only `fcntl` calls: async-signal-safe).
fn keep_fds_across_exec(fds: &[RawFd]) -> std::io::Result<()> {
    for &fd in fds {
        // SAFETY: F_SETFD on a descriptor number; no memory is involved.
        if unsafe {
            libc::fcntl(fd, libc::F_SETFD, /*flags*/ 0)
        } != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// In a host's `CommandExt::pre_exec`: marks every descriptor above stderr close-on-exec
/// except `keep`, which loses close-on-exec, so the coming `execve` (of bubblewrap, or of
/// a command under the seccomp filter) passes on stdio and `keep` and nothing else —
/// not a descriptor the host inherited or opened without close-on-exec, which could
/// reach around the sandbox (a directory outside the roots, a socket). `keep` are
/// bubblewrap's `--json-status-fd`, `--add-seccomp-fd` and `--args` descriptors, which the host creates
/// close-on-exec so that no other process it spawns meanwhile inherits them.
///
/// Only `close_range` and `fcntl` calls: async-signal-safe. Needs
/// `close_range(CLOSE_RANGE_CLOEXEC)` (Linux 5.11); check with [`check_inherit_only`]
/// before spawning, since a failure here can only fail the spawn.
pub fn inherit_only(keep: &[RawFd]) -> std::io::Result<()> {
    close_range_cloexec(libc::STDERR_FILENO as libc::c_uint + 1, libc::c_uint::MAX)?;
    keep_fds_across_exec(keep)
}

/// `command`, the [`PrivateMounts::launcher`] of `bwrap`, with an empty environment.
fn launcher_command(bwrap: &Path, private_mounts: PrivateMounts) -> Command {
    let (program, arg0, leading) = private_mounts.launcher(bwrap);
    let mut command = Command::new(program);
    if let Some(arg0) = arg0 {
        command.arg0(arg0);
    }
    command.env_clear().args(leading);
    command
}

/// `close_range(first, last, CLOSE_RANGE_CLOEXEC)`.
fn close_range_cloexec(first: libc::c_uint, last: libc::c_uint) -> std::io::Result<()> {
    // SAFETY: close_range only changes descriptor flags; no memory is involved.
    let result = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            last,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Whether [`inherit_only`] works on this kernel (`close_range(CLOSE_RANGE_CLOEXEC)`,
/// Linux 5.11); [`LinuxSandboxError::CloseRangeUnsupported`] if not, so a host can
/// refuse before spawning. Tried once, on a range that holds no descriptor.
pub fn check_inherit_only() -> Result<(), LinuxSandboxError> {
    static ERRNO: std::sync::OnceLock<Option<i32>> = std::sync::OnceLock::new();
    let errno = *ERRNO.get_or_init(|| {
        close_range_cloexec(libc::c_uint::MAX - 1, libc::c_uint::MAX)
            .err()
            .map(|err| err.raw_os_error().unwrap_or(libc::ENOSYS))
    });
    match errno {
        None => Ok(()),
        Some(errno) => Err(LinuxSandboxError::CloseRangeUnsupported {
            source: std::io::Error::from_raw_os_error(errno),
        }),
    }
}

/// Finds out once whether bubblewrap can build a sandbox on this host, and whether it
/// may mount a fresh `/proc` there, for hosts that run bubblewrap themselves with the
/// command's own stdio (so they cannot retry after a failed run without the command's
/// client seeing bubblewrap's message): it runs `bwrap` with the user namespace, the
/// other namespaces, the mounts and the seccomp filter every sandbox uses and executes
/// `bwrap --version` inside, once with `/proc` and, only if just that was refused, once
/// without (saying so in a log line). A host without user namespaces or seccomp thus
/// refuses every sandboxed start before anything runs.
///
/// Returns the [`ProcMount`] to build every later sandbox with, or
/// [`LinuxSandboxError::BwrapNotPermitted`] when no sandbox can be built here.
pub fn probe_proc_mount(bwrap: &Path) -> Result<ProcMount, LinuxSandboxError> {
    // SAFETY: geteuid cannot fail and touches no memory.
    let user_namespace = crate::bwrap_argv::user_namespace_args(unsafe { libc::geteuid() });
    // The filter every sandbox gets: a kernel without seccomp fails here, before any
    // command would run without it.
    let filter =
        crate::NetworkFilter::compile(crate::FilterKind::InBubblewrap { deny_network: true })?;
    let spawn_error = |source| LinuxSandboxError::BwrapSpawn {
        bwrap: bwrap.to_path_buf(),
        source,
    };
    let run = |proc_mount: &[&str]| -> Result<BwrapOutcome, LinuxSandboxError> {
        let mut inherited = filter
            .to_bwrap_bytes()
            .iter()
            .map(|program| crate::host::sealed_memfd(c"codex-seccomp", program))
            .collect::<std::io::Result<Vec<OwnedFd>>>()
            .map_err(spawn_error)?;
        let mut args: Vec<OsString> = user_namespace.iter().map(OsString::from).collect();
        for program in &inherited {
            args.push(OsString::from("--add-seccomp-fd"));
            args.push(OsString::from(program.as_raw_fd().to_string()));
        }
        args.extend(
            [
                "--new-session",
                "--die-with-parent",
                "--unshare-pid",
                "--unshare-net",
            ]
            .map(OsString::from),
        );
        // The root is bound by descriptor, as every sandbox binds its roots: a bubblewrap
        // without `--ro-bind-fd` fails here, not at every start.
        let root = crate::pin::open_pinned(Path::new("/")).map_err(spawn_error)?;
        args.extend([
            OsString::from("--ro-bind-fd"),
            OsString::from(root.as_raw_fd().to_string()),
            OsString::from("/"),
        ]);
        inherited.push(root);
        args.extend(
            ["--dev", "/dev"]
                .iter()
                .chain(proc_mount)
                .map(OsString::from),
        );
        let command_line = [
            OsString::from("--"),
            bwrap.as_os_str().to_owned(),
            OsString::from("--version"),
        ];
        run_bwrap_captured(
            bwrap,
            BwrapArgs {
                options: &args,
                command_line: &command_line,
                inherited: &inherited,
            },
        )
    };
    let not_permitted = |outcome: BwrapOutcome| LinuxSandboxError::BwrapNotPermitted {
        stderr: match outcome {
            BwrapOutcome::Finished(status) => format!("a trial sandbox ended with {status}"),
            BwrapOutcome::SetupFailed(
                SetupFailure::HelperNotRunnable { stderr } | SetupFailure::NotPermitted { stderr },
            ) => stderr,
            BwrapOutcome::SetupFailed(SetupFailure::ProcMountDenied) => {
                "bubblewrap tried to mount /proc although told not to".to_string()
            }
        },
    };
    match run(&["--proc", "/proc", "--remount-ro", "/proc"])? {
        BwrapOutcome::Finished(status) if status.success() => Ok(ProcMount::Mount),
        BwrapOutcome::SetupFailed(SetupFailure::ProcMountDenied) => {
            match run(&["--tmpfs", "/proc", "--remount-ro", "/proc"])? {
                BwrapOutcome::Finished(status) if status.success() => {
                    tracing::warn!(
                        "bubblewrap may not mount /proc on this host; sandboxed commands \
                         run without /proc (an empty read-only one)"
                    );
                    Ok(ProcMount::Skip)
                }
                outcome => Err(not_permitted(outcome)),
            }
        }
        outcome => Err(not_permitted(outcome)),
    }
}

/// `bwrap --args FD` (through the trampoline if `private_mounts` says so) with an empty
/// environment, where `FD` (returned; keep it until the spawn) is a sealed memory file holding `--json-status-fd STATUS_FD` and `args`. Both
/// descriptors must still be made inheritable in `pre_exec` ([`keep_fds_across_exec`]).
///
/// The empty environment keeps `LD_PRELOAD` and friends away from bubblewrap, which runs
/// outside the sandbox; the command's environment is in `args` (`--setenv`, see
/// [`crate::BwrapOptions::env`]), which the memory file keeps out of bubblewrap's
/// world-readable `/proc/<pid>/cmdline`.
fn bwrap_reporting_to(
    bwrap: &Path,
    private_mounts: PrivateMounts,
    status_fd: RawFd,
    args: &BwrapArgs<'_>,
) -> std::io::Result<(Command, OwnedFd)> {
    let mut all = vec![
        OsString::from("--json-status-fd"),
        OsString::from(status_fd.to_string()),
    ];
    all.extend(args.options.iter().cloned());
    let memfd = crate::host::args_memfd(&all)?;
    let mut command = launcher_command(bwrap, private_mounts);
    command
        .arg("--args")
        .arg(memfd.as_raw_fd().to_string())
        .args(args.command_line);
    Ok((command, memfd))
}

/// The arguments of one bubblewrap run: the options (passed in a memory file) and
/// `-- COMMAND...` (on the command line, where bubblewrap wants it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BwrapArgs<'a> {
    pub(crate) options: &'a [OsString],
    pub(crate) command_line: &'a [OsString],
    /// Descriptors the options name (pinned sources, seccomp programs), to inherit.
    pub(crate) inherited: &'a [OwnedFd],
}

impl<'a> BwrapArgs<'a> {
    /// Splits `argv` where its options end; `inherited` are the descriptors they name.
    pub(crate) fn of(argv: &'a crate::BwrapArgv, inherited: &'a [OwnedFd]) -> Self {
        let (options, command_line) = argv.args.split_at(argv.options_end);
        Self {
            options,
            command_line,
            inherited,
        }
    }
}

/// Runs `bwrap --json-status-fd FD args` with no stdin and stdout and its stderr
/// captured, and tells how it ended.
fn run_bwrap_captured(
    bwrap: &Path,
    args: BwrapArgs<'_>,
) -> Result<BwrapOutcome, LinuxSandboxError> {
    let spawn_error = |source| LinuxSandboxError::BwrapSpawn {
        bwrap: bwrap.to_path_buf(),
        source,
    };
    let (status_read, status_write) = cloexec_pipe().map_err(spawn_error)?;
    let status_fd = status_write.as_raw_fd();
    // The trial run starts where every sandbox will.
    let private_mounts = PrivateMounts::for_this_process()?;
    let (mut command, args_fd) =
        bwrap_reporting_to(bwrap, private_mounts, status_fd, &args).map_err(spawn_error)?;
    let args_raw = args_fd.as_raw_fd();
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut keep = vec![status_fd, args_raw];
    keep.extend(args.inherited.iter().map(AsRawFd::as_raw_fd));
    // SAFETY: the closure only calls unshare, mount (apply) and fcntl
    // (keep_fds_across_exec) on values built before the fork: async-signal-safe, no
    // allocation.
    unsafe {
        command.pre_exec(move || {
            private_mounts.apply()?;
            keep_fds_across_exec(&keep)
        });
    }
    let child = command.spawn();
    drop(command);
    drop(status_write);
    drop(args_fd);
    let output = child
        .and_then(|child| child.wait_with_output())
        .map_err(spawn_error)?;
    let json_status = read_bounded(std::fs::File::from(status_read));
    Ok(classify_bwrap_run(
        output.status,
        &json_status,
        &String::from_utf8_lossy(&output.stderr),
    ))
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
