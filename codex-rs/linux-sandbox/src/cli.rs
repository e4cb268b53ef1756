//! The `codex-linux-sandbox` command line, in the library so that any binary can become
//! the sandbox by its `argv[0]` (see [`arg0_dispatch`]).
//!
//! One executable plays two stages:
//!
//! - **outer** (`--sandbox-policy-json … --cwd … -- CMD…`): reads the policy, builds the
//!   `bwrap` arguments, runs `bwrap --json-status-fd N … -- <this executable>
//!   --apply-seccomp-then-exec [--deny-network] [--stderr-fd FD] -- CMD…` and exits as
//!   the command did — or, if bubblewrap failed before executing anything, reports why
//!   (after one retry without `/proc` when only mounting `/proc` failed);
//! - **seccomp stage** (`--apply-seccomp-then-exec`, internal): already inside the
//!   sandbox, restores the real stderr, sets `PR_SET_NO_NEW_PRIVS`, installs the
//!   network filter when asked, and executes the command in its place.

use std::ffi::OsStr;
use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;

use clap::CommandFactory;
use clap::Parser;
use clap::error::ErrorKind;
use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;

use crate::BwrapOptions;
use crate::FilterKind;
use crate::LinuxSandboxError;
use crate::PlaceholderLease;
use crate::ProcMount;
use crate::ResourceLimits;
use crate::SandboxPlan;
use crate::TrustedBwrap;
use crate::bwrap_argv::build_bwrap_argv_pinned;
use crate::launcher;
use crate::launcher::BwrapOutcome;
use crate::launcher::SetupFailure;
use crate::seccomp;

/// The name under which an executable acts as the sandbox (see [`arg0_dispatch`]).
pub(crate) const CODEX_LINUX_SANDBOX_ARG0: &str = "codex-linux-sandbox";

/// The flag of the internal seccomp stage.
const APPLY_SECCOMP_FLAG: &str = "--apply-seccomp-then-exec";

/// The seccomp stage's flag naming the descriptor to restore as the command's stderr.
const STDERR_FD_FLAG: &str = "--stderr-fd";

/// Runs a command under bubblewrap and a seccomp network filter, as a sandbox policy says.
///
/// Exit status: the command's own (or its signal); 125 when the sandbox could not be
/// set up (nothing ran); 126 / 127 when the command could not be executed / found.
#[derive(Debug, Parser)]
#[command(name = "codex-linux-sandbox", version)]
struct Cli {
    /// The sandbox policy as JSON, exactly as in the exec-server protocol, e.g.
    /// '{"type":"readOnly","access":{"type":"fullAccess"}}'.
    #[arg(
        long,
        value_name = "JSON",
        required_unless_present = "apply_seccomp_then_exec"
    )]
    sandbox_policy_json: Option<String>,

    /// Absolute working directory of the command.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "apply_seccomp_then_exec"
    )]
    cwd: Option<PathBuf>,

    /// The directory the policy's cwd-relative rules are applied to (writable under
    /// workspaceWrite, readable with includePlatformDefaults). Default: --cwd.
    #[arg(long, value_name = "DIR")]
    sandbox_policy_cwd: Option<PathBuf>,

    /// The bubblewrap executable (default: `bwrap` on $PATH, then /usr/bin/bwrap).
    #[arg(long, value_name = "PATH")]
    bwrap: Option<PathBuf>,

    /// Internal: the seccomp stage, run by bubblewrap inside the sandbox.
    #[arg(
        long,
        hide = true,
        conflicts_with_all = ["sandbox_policy_json", "cwd", "sandbox_policy_cwd", "bwrap"]
    )]
    apply_seccomp_then_exec: bool,

    /// Internal: with --apply-seccomp-then-exec, also install the network filter.
    // `requires = "apply_seccomp_then_exec"` would not do: a flag's default counts as present.
    #[arg(
        long,
        hide = true,
        conflicts_with_all = ["sandbox_policy_json", "cwd", "sandbox_policy_cwd", "bwrap"]
    )]
    deny_network: bool,

    /// Internal: with --apply-seccomp-then-exec, make this descriptor (the outer
    /// stage's stderr, passed through bubblewrap, whose own stderr is a pipe the outer
    /// stage reads) the command's stderr first.
    #[arg(
        long,
        hide = true,
        value_name = "FD",
        conflicts_with_all = ["sandbox_policy_json", "cwd", "sandbox_policy_cwd", "bwrap"]
    )]
    stderr_fd: Option<i32>,

    /// Limit processes and threads (RLIMIT_NPROC). Applied inside the sandbox's user
    /// namespace, so for a bubblewrap policy it counts the sandbox's own processes; refused
    /// as root, whose processes Linux does not hold to it.
    #[arg(long, value_name = "N")]
    max_processes: Option<u64>,

    /// Limit the data memory (heap, anonymous mappings) of each process (RLIMIT_DATA).
    #[arg(long, value_name = "BYTES")]
    max_memory: Option<u64>,

    /// Limit the size each process may make a file (RLIMIT_FSIZE).
    #[arg(long, value_name = "BYTES")]
    max_file_size: Option<u64>,

    /// Limit the open descriptors of each process (RLIMIT_NOFILE).
    #[arg(long, value_name = "N")]
    max_open_files: Option<u64>,

    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// If this process is one of the sandbox's stages, runs the sandbox's [`run_main`] and
/// never returns; otherwise returns at once. Call it first thing in `main`, before any
/// thread is started, of a binary that should double as the sandbox (the exec-server
/// does) or that runs bubblewrap without being root: it also makes the binary the
/// trampoline that starts bubblewrap in a private mount namespace (`argv[0]`
/// `codex-bwrap-trampoline`; see [`PrivateMounts`](crate::PrivateMounts)), without
/// which such a binary's sandboxes are refused on a host whose mounts propagate.
///
/// The two stages are recognised by:
/// - the outer stage: started under the name `codex-linux-sandbox` (the file name of
///   `argv[0]`);
/// - the seccomp stage: the outer stage runs *the running executable* again inside
///   bubblewrap with the internal first argument `--apply-seccomp-then-exec`. A bare
///   `codex-linux-sandbox` `argv[0]` names no file that could be mounted into the
///   sandbox, and a symlink on disk could be replaced by a sandboxed command, so the
///   stage arrives under the host binary's own name.
pub fn arg0_dispatch() {
    crate::trampoline::mark_dispatching();
    let mut args = std::env::args_os();
    if args
        .next()
        .is_some_and(|argv0| argv0 == crate::trampoline::TRAMPOLINE_ARG0)
    {
        crate::trampoline::run(args);
    }
    let mut args = std::env::args_os();
    let outer_stage = args.next().is_some_and(|argv0| is_sandbox_arg0(&argv0));
    let seccomp_stage = args.next().as_deref() == Some(OsStr::new(APPLY_SECCOMP_FLAG));
    if outer_stage || seccomp_stage {
        run_main();
    }
}

/// Whether `argv0` names the sandbox: its file name is `codex-linux-sandbox`.
fn is_sandbox_arg0(argv0: &OsStr) -> bool {
    Path::new(argv0).file_name() == Some(OsStr::new(CODEX_LINUX_SANDBOX_ARG0))
}

/// The `main` of `codex-linux-sandbox`: parses the command line, runs the command in the
/// sandbox and exits with its status. Errors are printed to stderr and mapped to exit
/// codes here, once ([`LinuxSandboxError::exit_code`]).
///
/// It lives in the library for [`arg0_dispatch`], and so it also installs the stderr
/// log subscriber (`RUST_LOG`, default `warn`) if the process has none yet.
pub fn run_main() -> ! {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Fails only if a subscriber is already set, which is then used as is.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(/*ansi*/ false)
        .without_time()
        .try_init();
    let cli = Cli::parse();
    let error = match run(cli) {
        Ok(never) => match never {},
        Err(error) => error,
    };
    eprintln!("codex-linux-sandbox: {error}");
    std::process::exit(error.exit_code());
}

/// Runs the stage `cli` asks for; returns only on error.
fn run(cli: Cli) -> Result<std::convert::Infallible, LinuxSandboxError> {
    let Cli {
        sandbox_policy_json,
        cwd,
        sandbox_policy_cwd,
        bwrap,
        apply_seccomp_then_exec,
        deny_network,
        stderr_fd,
        max_processes,
        max_memory,
        max_file_size,
        max_open_files,
        command,
    } = cli;
    let limits = ResourceLimits {
        max_processes,
        max_memory_bytes: max_memory,
        max_file_size_bytes: max_file_size,
        max_open_files,
    };
    limits.validate()?;
    if limits.max_processes.is_some() {
        // SAFETY: getuid cannot fail and touches no memory.
        ResourceLimits::processes_enforceable(unsafe { libc::getuid() })?;
    }
    if apply_seccomp_then_exec {
        if let Some(fd) = stderr_fd {
            restore_stderr(fd);
        }
        apply_limits(&limits)?;
        return apply_seccomp_then_exec_command(deny_network, &command);
    }
    let (Some(policy_json), Some(cwd)) = (sandbox_policy_json, cwd) else {
        // clap already requires both outside the seccomp stage.
        Cli::command()
            .error(
                ErrorKind::MissingRequiredArgument,
                "--sandbox-policy-json and --cwd are required",
            )
            .exit()
    };
    let policy: SandboxPolicy = serde_json::from_str(&policy_json)
        .map_err(|source| LinuxSandboxError::PolicyJson { source })?;
    let cwd = AbsolutePathBuf::try_from_absolute(&cwd)
        .map_err(|_| LinuxSandboxError::CwdNotAbsolute { cwd })?;
    let policy_cwd = match sandbox_policy_cwd {
        Some(dir) => AbsolutePathBuf::try_from_absolute(&dir)
            .map_err(|_| LinuxSandboxError::CwdNotAbsolute { cwd: dir })?,
        None => cwd.clone(),
    };
    match SandboxPlan::for_policy(&policy) {
        SandboxPlan::Direct => {
            tracing::debug!("policy needs no sandbox; running the command directly");
            apply_limits(&limits)?;
            Err(exec_in(&command, Some(&cwd)))
        }
        SandboxPlan::SeccompOnly => {
            tracing::debug!("externalSandbox without network: seccomp filter only");
            apply_limits(&limits)?;
            seccomp::set_no_new_privs()?;
            seccomp::install_network_seccomp_filter(FilterKind::Host)?;
            Err(exec_in(&command, Some(&cwd)))
        }
        SandboxPlan::Bwrap => run_in_bwrap(
            &policy,
            &cwd,
            policy_cwd,
            bwrap.as_deref(),
            &limits,
            &command,
        ),
    }
}

/// The outer stage: run bubblewrap (once more without `/proc` if only that failed),
/// clean up, exit as the command did.
fn run_in_bwrap(
    policy: &SandboxPolicy,
    cwd: &AbsolutePathBuf,
    policy_cwd: AbsolutePathBuf,
    bwrap: Option<&Path>,
    limits: &ResourceLimits,
    command: &[OsString],
) -> Result<std::convert::Infallible, LinuxSandboxError> {
    let helper = helper_path()?;
    let tmpdir =
        std::env::var_os("TMPDIR").and_then(|value| AbsolutePathBuf::try_from_absolute(value).ok());
    // Not close-on-exec: bubblewrap passes it on to the seccomp stage. Kept until done.
    let stderr_copy = launcher::inheritable_stderr();
    let mut inner: Vec<OsString> = vec![
        helper.as_path().as_os_str().to_owned(),
        OsString::from(APPLY_SECCOMP_FLAG),
    ];
    if !policy.has_full_network_access() {
        inner.push(OsString::from("--deny-network"));
    }
    if let Some(fd) = &stderr_copy {
        inner.push(OsString::from(STDERR_FD_FLAG));
        inner.push(OsString::from(fd.as_raw_fd().to_string()));
    }
    // Applied by the seccomp stage, inside the sandbox's user namespace: there
    // RLIMIT_NPROC counts the sandbox's processes only (set on bubblewrap, before the
    // namespace exists, it would count every process of the user).
    inner.extend(limit_flags(limits));
    inner.push(OsString::from("--"));
    inner.extend(command.iter().cloned());

    // Both variants are built before anything runs.
    let build = |proc_mount| {
        let options = BwrapOptions {
            proc_mount,
            policy_cwd: Some(policy_cwd.clone()),
            tmpdir: tmpdir.clone(),
            helper: Some(helper.clone()),
            seccomp_fds: Vec::new(),
            // This process's environment is the command's; bubblewrap gets none.
            env: std::env::vars_os().collect(),
            // One run: nothing to compare with.
            root_pins: None,
            hidden: Vec::new(),
            // The command runs under the name it was given.
            arg0: None,
            programs: Vec::new(),
        };
        build_bwrap_argv_pinned(policy, cwd, &inner, &options)
    };
    let (with_proc, with_proc_pins) = build(ProcMount::Mount)?;
    let (without_proc, without_proc_pins) = build(ProcMount::Skip)?;
    let trusted = TrustedBwrap::locate(bwrap, std::env::var_os("PATH").as_deref())?;
    let bwrap = trusted.verify()?;
    if let Some(root) = with_proc
        .writable
        .iter()
        .find(|root| bwrap.starts_with(root))
    {
        return Err(LinuxSandboxError::BwrapUntrusted {
            path: bwrap.to_path_buf(),
            reason: format!("it lies in `{root}`, which this policy makes writable"),
        });
    }
    let lease = PlaceholderLease::acquire(&with_proc.placeholders)?;
    let result = run_with_proc_retry(
        bwrap,
        launcher::BwrapArgs::of(&with_proc, &with_proc_pins),
        launcher::BwrapArgs::of(&without_proc, &without_proc_pins),
    );
    lease.release();
    drop(stderr_copy);
    launcher::exit_like(result?);
}

/// Runs bubblewrap with `/proc` and, only if it failed to mount `/proc` before
/// executing anything, once more without it. Returns the exit status to copy.
fn run_with_proc_retry(
    bwrap: &Path,
    with_proc: launcher::BwrapArgs<'_>,
    without_proc: launcher::BwrapArgs<'_>,
) -> Result<std::process::ExitStatus, LinuxSandboxError> {
    let failed = |failure| match failure {
        SetupFailure::ProcMountDenied => LinuxSandboxError::BwrapNotPermitted {
            stderr: "bubblewrap tried to mount /proc although told not to".to_string(),
        },
        SetupFailure::HelperNotRunnable { stderr } => {
            LinuxSandboxError::HelperNotRunnable { stderr }
        }
        SetupFailure::NotPermitted { stderr } => LinuxSandboxError::BwrapNotPermitted { stderr },
    };
    tracing::debug!("running {} {:?}", bwrap.display(), with_proc);
    match launcher::run_bwrap(bwrap, with_proc)? {
        BwrapOutcome::Finished(status) => Ok(status),
        BwrapOutcome::SetupFailed(SetupFailure::ProcMountDenied) => {
            tracing::warn!(
                "bubblewrap may not mount /proc on this host; retrying without --proc /proc \
                 (the sandboxed command will have no /proc)"
            );
            tracing::debug!("running {} {:?}", bwrap.display(), without_proc);
            match launcher::run_bwrap(bwrap, without_proc)? {
                BwrapOutcome::Finished(status) => Ok(status),
                BwrapOutcome::SetupFailed(failure) => Err(failed(failure)),
            }
        }
        BwrapOutcome::SetupFailed(failure) => Err(failed(failure)),
    }
}

/// The seccomp stage: no new privileges, the filter (no new user namespace; no network
/// if asked), then the command.
fn apply_seccomp_then_exec_command(
    deny_network: bool,
    command: &[OsString],
) -> Result<std::convert::Infallible, LinuxSandboxError> {
    seccomp::set_no_new_privs()?;
    seccomp::install_network_seccomp_filter(FilterKind::InBubblewrap { deny_network })?;
    Err(exec_in(command, /*cwd*/ None))
}

/// Sets `limits` on this process, which then executes the command (or bubblewrap).
fn apply_limits(limits: &ResourceLimits) -> Result<(), LinuxSandboxError> {
    limits
        .apply_in_child()
        .map_err(|source| LinuxSandboxError::ApplyLimits { source })
}

/// The flags that ask the seccomp stage for `limits`.
fn limit_flags(limits: &ResourceLimits) -> Vec<OsString> {
    [
        ("--max-processes", limits.max_processes),
        ("--max-memory", limits.max_memory_bytes),
        ("--max-file-size", limits.max_file_size_bytes),
        ("--max-open-files", limits.max_open_files),
    ]
    .into_iter()
    .filter_map(|(flag, value)| value.map(|value| [OsString::from(flag), value.to_string().into()]))
    .flatten()
    .collect()
}

/// Makes `fd` this process's stderr and closes it. On failure (not expected: the outer
/// stage passes a valid descriptor >= 3) stderr stays bubblewrap's pipe, which the outer
/// stage passes on after the run, so only the timing of messages suffers.
fn restore_stderr(fd: i32) {
    if fd < 3 {
        tracing::warn!("ignoring {STDERR_FD_FLAG} {fd}: not a descriptor of ours");
        return;
    }
    // SAFETY: dup2/close on plain descriptors; fd 2 is replaced atomically.
    let restored = unsafe { libc::dup2(fd, libc::STDERR_FILENO) } == libc::STDERR_FILENO;
    if !restored {
        let err = std::io::Error::last_os_error();
        tracing::warn!("cannot restore stderr from descriptor {fd}: {err}");
    }
    // SAFETY: as above; the descriptor is ours (passed for this purpose) and unused after.
    unsafe {
        libc::close(fd);
    }
}

/// Replaces this process with `command` (searched in `$PATH` like `execvp`), in `cwd`
/// if given; returns only the error when that fails.
fn exec_in(command: &[OsString], cwd: Option<&AbsolutePathBuf>) -> LinuxSandboxError {
    let Some((program, args)) = command.split_first() else {
        return LinuxSandboxError::EmptyCommand;
    };
    let mut process = Command::new(program);
    process.args(args);
    if let Some(cwd) = cwd {
        process.current_dir(cwd.as_path());
    }
    LinuxSandboxError::Exec {
        program: PathBuf::from(program),
        source: process.exec(),
    }
}

/// The executable to run as the seccomp stage inside bubblewrap: the path this process
/// was started as when its name is `codex-linux-sandbox` (so a binary reached through
/// an `arg0` alias is dispatched again inside), else the running executable itself.
fn helper_path() -> Result<AbsolutePathBuf, LinuxSandboxError> {
    let by_name = std::env::args_os()
        .next()
        .filter(|argv0| is_sandbox_arg0(argv0) && Path::new(argv0).components().count() > 1)
        .and_then(|argv0| std::path::absolute(argv0).ok());
    let path = match by_name {
        Some(path) => path,
        None => {
            std::env::current_exe().map_err(|source| LinuxSandboxError::CurrentExe { source })?
        }
    };
    AbsolutePathBuf::try_from_absolute(&path).map_err(|err| LinuxSandboxError::CurrentExe {
        source: std::io::Error::other(err.to_string()),
    })
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
