//! `process/start` with a `sandboxPolicy`: from the policy to the process that really runs.
//!
//! Which backend confines the command is decided by `codex-sandboxing`
//! ([`sandbox_type_for_platform`]); this module only turns that decision into a program, its
//! arguments and what the child must do before `exec`, and refuses (fails closed) whenever
//! it cannot deliver what the policy asks:
//!
//! - **no sandbox** (`dangerFullAccess`, `externalSandbox` with network): the command runs
//!   as it is;
//! - **`externalSandbox` without network on Linux**: the command runs as it is, with the
//!   seccomp network filter installed between `fork` and `exec` (its host variant, which
//!   also refuses `pidfd_getfd`, `ptrace` and the other calls that reach into the server
//!   next to it) — we enforce what we can rather than trust the outer sandbox to;
//! - **Linux** (`readOnly`, `workspaceWrite`): `bwrap` itself, spawned directly with the
//!   arguments [`codex_linux_sandbox::BwrapLaunch`] builds (bubblewrap installs the seccomp
//!   filter, and executes the command). Before anything runs: the policy is checked (a
//!   policy that cannot be enforced as written is `sandboxDenied`), bubblewrap is found
//!   and, once per server and `bwrap`, tried out (`sandboxUnavailable` when it cannot build
//!   a sandbox here; without `/proc` where only that is refused), and the program is looked
//!   up (a missing one fails as an unsandboxed start would). A run in which bubblewrap then
//!   fails before executing the command exits with 125 and bubblewrap's message on stderr;
//! - **macOS**: `sandbox-exec -p PROFILE -D... -- ARGV...` from
//!   [`codex_sandboxing::seatbelt_policy`] (pure, so it is built and unit-tested everywhere);
//! - **anything else**: `sandboxUnavailable`, never an unsandboxed run.
//!
//! Every start also gets its resource limits here ([`with_limits`]): those the request
//! asks for, plus, for a sandboxed start on Linux, the defaults for the rest.
//!
//! `sandbox-exec` cannot give the command a different `argv[0]`, so `arg0` together with
//! Seatbelt is refused rather than dropped. Bubblewrap (0.8) cannot either, so under it the
//! program is bound at `/dev/.codex-arg0/ARG0` inside the sandbox and run from there (see
//! `codex_linux_sandbox::BwrapOptions::arg0`): `argv[0]` is that path, whose file name is
//! the requested `arg0`; an `arg0` with a `/` is refused.

use std::ffi::OsString;
use std::process::ExitStatus;

use codex_protocol::SandboxPolicy;
use codex_sandboxing::SandboxType;
use codex_sandboxing::SandboxingError;
use codex_sandboxing::SeatbeltDecision;
use codex_sandboxing::sandbox_exec_argv;
use codex_sandboxing::sandbox_type_for_platform;
use codex_sandboxing::seatbelt_policy;
use codex_utils_absolute_path::AbsolutePathBuf;

use crate::error::ExecError;
use crate::escalation::PreparedEscalation;
use crate::protocol::ProcessLimits;
use crate::protocol::StartParams;

/// Makes the running binary double as `codex-linux-sandbox` when started under that name
/// (so `process/start` with `arg0` `codex-linux-sandbox` and this executable as the
/// program runs the standalone sandbox); call it first thing in `main`, before any thread
/// is started. Returns at once in a normal start; never returns when the process was
/// started as the sandbox. Does nothing off Linux.
pub fn dispatch_linux_sandbox() {
    #[cfg(target_os = "linux")]
    codex_linux_sandbox::arg0_dispatch();
}

/// The program to spawn for one `process/start`, after the policy was applied.
#[derive(Debug)]
pub(crate) struct Launch {
    /// What to execute.
    pub(crate) program: OsString,
    /// Its arguments (without `argv[0]`).
    pub(crate) args: Vec<OsString>,
    /// `argv[0]` if not `program`.
    pub(crate) arg0: Option<OsString>,
    /// Whether `program` gets the request's environment. Bubblewrap gets none: it runs
    /// outside the sandbox, where the request's `LD_PRELOAD` must not reach; it sets the
    /// command's environment inside (`--setenv`).
    pub(crate) request_env: bool,
    /// What confines the process beyond its command line.
    pub(crate) confinement: Confinement,
    /// The resource limits set in the child before `exec` (see [`with_limits`]).
    #[cfg(target_os = "linux")]
    pub(crate) limits: codex_linux_sandbox::ResourceLimits,
    /// Shell escalation (`process/start`'s `escalation`): the escalation socket the
    /// child inherits (under the same number), and its server, which must live until
    /// the process was reaped (see [`Reaper::holding`]).
    pub(crate) escalation: Option<PreparedEscalation>,
}

/// What a [`Launch`] needs besides its command line.
#[derive(Debug)]
pub(crate) enum Confinement {
    /// Nothing (no sandbox, or one that is all in the command line, like `sandbox-exec`).
    None,
    /// The seccomp network filter for a command on the host ([`FilterKind::Host`]),
    /// installed in the child before `exec`.
    ///
    /// [`FilterKind::Host`]: codex_linux_sandbox::FilterKind::Host
    #[cfg(target_os = "linux")]
    SeccompFilter(codex_linux_sandbox::NetworkFilter),
    /// The program is bubblewrap: it inherits its status and seccomp descriptors, and its
    /// end is interpreted (did the command run at all?) and cleaned up after.
    #[cfg(target_os = "linux")]
    Bwrap(codex_linux_sandbox::BwrapLaunch),
}

impl Launch {
    /// What the child must run between `fork` and `exec`, if anything: set the resource
    /// limits, pass on nothing but stdio and bubblewrap's descriptors, and install the
    /// filter (async-signal-safe: only `setrlimit`, `close_range`, `fcntl`, `prctl` and
    /// `seccomp`; everything it needs is prepared here, in the parent). `None` for a
    /// plain start without limits, which keeps the faster `posix_spawn`.
    #[cfg(target_os = "linux")]
    pub(crate) fn child_setup(
        &self,
    ) -> Option<impl FnMut() -> std::io::Result<()> + Send + Sync + 'static> {
        let limits = self.limits;
        // The escalation socket: passed on across `exec` (after `inherit_only`, which
        // marks everything else close-on-exec, and after the terminal's set-up).
        let inherit: Vec<std::os::fd::RawFd> = self.escalation.iter().map(|e| e.fd()).collect();
        let (inherit_only, keep_fds, filter, bwrap_setup) = match &self.confinement {
            Confinement::None if limits.is_empty() && inherit.is_empty() => return None,
            Confinement::None => (
                false,
                Vec::new(),
                None,
                codex_linux_sandbox::BwrapChildSetup::default(),
            ),
            Confinement::SeccompFilter(filter) => (
                true,
                Vec::new(),
                Some(filter.clone()),
                codex_linux_sandbox::BwrapChildSetup::default(),
            ),
            Confinement::Bwrap(launch) => (true, launch.child_fds(), None, launch.child_setup()),
        };
        Some(move || {
            // First, so a failure of what follows cannot leave the child unlimited.
            limits.apply_in_child()?;
            if inherit_only {
                codex_linux_sandbox::inherit_only(&keep_fds)?;
            }
            for fd in &inherit {
                codex_shell_escalation::clear_cloexec(*fd)?;
            }
            bwrap_setup.apply()?;
            if let Some(filter) = &filter {
                filter.apply_in_child()?;
            }
            Ok(())
        })
    }

    /// Nothing to run in the child off Linux.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn child_setup(&self) -> Option<fn() -> std::io::Result<()>> {
        None
    }
}

impl Confinement {
    /// The command's stdin when the request pipes none: for a Linux sandbox (bubblewrap or
    /// the launcher), an empty pipe ([`codex_linux_sandbox::BwrapLaunch::empty_stdin`]:
    /// the command must not get a descriptor of a host device); otherwise `None`
    /// (`/dev/null`).
    pub(crate) fn empty_stdin(&self) -> std::io::Result<Option<std::process::Stdio>> {
        #[cfg(target_os = "linux")]
        if let Confinement::Bwrap(launch) = self {
            return Ok(Some(std::process::Stdio::from(launch.empty_stdin()?)));
        }
        Ok(None)
    }

    /// Call right after the spawn (successful or not): closes the parent's copies of what
    /// the child inherited. Keep the result until the process was reaped.
    pub(crate) fn spawned(self) -> Reaper {
        let end = match self {
            Confinement::None => ReaperEnd::Plain,
            #[cfg(target_os = "linux")]
            Confinement::SeccompFilter(_) => ReaperEnd::Plain,
            #[cfg(target_os = "linux")]
            Confinement::Bwrap(launch) => ReaperEnd::Bwrap(launch.spawned()),
        };
        Reaper {
            end,
            escalation: None,
        }
    }
}

/// What is left to do once a spawned process was reaped.
#[derive(Debug)]
pub(crate) struct Reaper {
    end: ReaperEnd,
    /// The escalation server of an escalated shell: dropped once the shell was reaped,
    /// which kills what it still runs outside the sandbox.
    #[cfg(target_os = "linux")]
    escalation: Option<codex_shell_escalation::EscalationServer>,
    #[cfg(not(target_os = "linux"))]
    escalation: Option<std::convert::Infallible>,
}

#[derive(Debug)]
enum ReaperEnd {
    /// Nothing: its status is the command's.
    Plain,
    /// Ask bubblewrap's status reports whether the command ran, and remove placeholders.
    #[cfg(target_os = "linux")]
    Bwrap(codex_linux_sandbox::BwrapRun),
}

impl Reaper {
    /// The exit code to report for a process that ended with `status`: its code, or 128 +
    /// the signal that killed it; for a bubblewrap that failed before it executed the
    /// command, 125 (the exit status `codex-linux-sandbox` uses for that too).
    #[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
    pub(crate) fn exit_code(self, process_id: &str, status: ExitStatus) -> i32 {
        use std::os::unix::process::ExitStatusExt;

        let code_of = |status: ExitStatus| {
            status
                .code()
                .or_else(|| status.signal().map(|signal| 128 + signal))
                .unwrap_or(-1)
        };
        // Whatever the shell still runs outside the sandbox ends with it.
        drop(self.escalation);
        match self.end {
            ReaperEnd::Plain => code_of(status),
            #[cfg(target_os = "linux")]
            ReaperEnd::Bwrap(run) => match run.finish(status) {
                codex_linux_sandbox::BwrapEnd::Command(status) => code_of(status),
                codex_linux_sandbox::BwrapEnd::SetupFailed(status) => {
                    tracing::warn!(
                        process_id,
                        "bubblewrap failed ({status}) before it executed the command; \
                         its message is on the process's stderr"
                    );
                    codex_linux_sandbox::SETUP_FAILED_EXIT_CODE
                }
            },
        }
    }
}

impl Reaper {
    /// Call right after the spawn (successful or not), with the launch's escalation:
    /// closes this process's copy of the shell's escalation socket and keeps its server
    /// until the process was reaped.
    pub(crate) fn holding(mut self, escalation: Option<PreparedEscalation>) -> Self {
        #[cfg(target_os = "linux")]
        {
            self.escalation = escalation.map(PreparedEscalation::spawned);
        }
        #[cfg(not(target_os = "linux"))]
        {
            self.escalation = escalation.map(|never| match never {});
        }
        self
    }
}

impl Launch {
    fn direct(params: &StartParams) -> Self {
        Self {
            program: OsString::from(&params.argv[0]),
            args: params.argv[1..].iter().map(OsString::from).collect(),
            arg0: params.arg0.as_ref().map(OsString::from),
            request_env: true,
            confinement: Confinement::None,
            #[cfg(target_os = "linux")]
            limits: codex_linux_sandbox::ResourceLimits::default(),
            escalation: None,
        }
    }

    /// `program args... -- argv...`, refusing a caller's `arg0` (the wrapper executes the
    /// command under its own name).
    fn wrapped(
        params: &StartParams,
        wrapper: &str,
        program: OsString,
        mut args: Vec<OsString>,
    ) -> Result<Self, ExecError> {
        refuse_arg0(params, wrapper)?;
        args.extend(params.argv.iter().map(OsString::from));
        Ok(Self {
            program,
            args,
            arg0: None,
            request_env: true,
            confinement: Confinement::None,
            #[cfg(target_os = "linux")]
            limits: codex_linux_sandbox::ResourceLimits::default(),
            escalation: None,
        })
    }
}

/// Refuses a caller's `arg0` for a sandbox that executes the command under the name in
/// `argv[0]`.
fn refuse_arg0(params: &StartParams, wrapper: &str) -> Result<(), ExecError> {
    match &params.arg0 {
        Some(caller_arg0) => Err(ExecError::SandboxUnavailable(format!(
            "`arg0` (`{caller_arg0}`) cannot be combined with this sandboxPolicy: {wrapper} \
             runs the command under its own name; drop `arg0` or the policy"
        ))),
        None => Ok(()),
    }
}

/// What to spawn for `params` (already validated: non-empty argv, absolute cwd), with
/// its resource limits.
///
/// `root_pins` are the session's (see [`codex_sandboxing::RootPins`]); `hidden` the
/// files no sandbox may show ([`crate::LocalProcessConfig::hidden_paths`]).
///
/// For an escalated start, `params` are as [`crate::escalation::prepare`] rewrote them,
/// and `escalation` is what it prepared (the socket the child inherits; under bubblewrap,
/// the shell and the wrapper shown in the sandbox).
pub(crate) async fn prepare_launch(
    params: &StartParams,
    root_pins: &std::sync::Arc<codex_sandboxing::RootPins>,
    hidden: &[std::path::PathBuf],
    escalation: Option<PreparedEscalation>,
) -> Result<Launch, ExecError> {
    if let Some(limits) = &params.limits {
        limits.validate().map_err(ExecError::InvalidParams)?;
    }
    let mut launch = match &params.sandbox_policy {
        None => Launch::direct(params),
        Some(policy) => {
            let sandbox_type = sandbox_type_for_platform(policy)
                .map_err(|err| ExecError::SandboxUnavailable(err.to_string()))?;
            match sandbox_type {
                SandboxType::None => unconfined_launch(params, policy)?,
                SandboxType::LinuxBubblewrap => {
                    bubblewrap_launch(params, policy, root_pins, hidden, escalation.as_ref())
                        .await?
                }
                SandboxType::MacosSeatbelt => seatbelt_launch(params, policy)?,
            }
        }
    };
    launch.escalation = escalation;
    with_limits(launch, params.limits.unwrap_or_default())
}

/// `launch` with the limits to set: those `requested`, and for a sandboxed command
/// (bubblewrap, or the seccomp filter of `externalSandbox`) the defaults of
/// [`codex_linux_sandbox::ResourceLimits::sandbox_defaults`] for the rest. A process limit
/// for a server running as root is refused rather than ignored: Linux does not hold
/// processes of uid 0 to it (see the README, "Resource limits").
#[cfg(target_os = "linux")]
pub(crate) fn with_limits(
    mut launch: Launch,
    requested: ProcessLimits,
) -> Result<Launch, ExecError> {
    use codex_linux_sandbox::ResourceLimits;

    let requested = ResourceLimits {
        max_processes: requested.max_processes,
        max_memory_bytes: requested.max_memory_bytes,
        max_file_size_bytes: requested.max_file_size_bytes,
        max_open_files: requested.max_open_files,
    };
    if requested.max_processes.is_some() {
        // SAFETY: getuid cannot fail and touches no memory.
        ResourceLimits::processes_enforceable(unsafe { libc::getuid() })
            .map_err(|err| ExecError::SandboxUnavailable(err.to_string()))?;
    }
    launch.limits = match launch.confinement {
        Confinement::None => requested,
        Confinement::SeccompFilter(_) | Confinement::Bwrap(_) => {
            requested.or(ResourceLimits::sandbox_defaults())
        }
    };
    Ok(launch)
}

/// Off Linux there is nothing to enforce limits with: asking for one is refused.
#[cfg(not(target_os = "linux"))]
pub(crate) fn with_limits(launch: Launch, requested: ProcessLimits) -> Result<Launch, ExecError> {
    if requested.values().iter().any(Option::is_some) {
        return Err(ExecError::SandboxUnavailable(
            "resource limits (`limits`) are only enforced on Linux; drop them".to_string(),
        ));
    }
    Ok(launch)
}

/// The command's cwd (absolute) and the `$TMPDIR` the policy's rules are applied to: this
/// host's (the server's), the same one `fs/*` requests are checked against. The request's
/// `env.TMPDIR` only tells the command where to put its files; it grants nothing.
///
/// There is no policy cwd: what a policy grants is what it names (`writableRoots`,
/// `readableRoots`, `/tmp` and `$TMPDIR`), never the directory a command runs in.
fn cwd_and_tmpdir(
    params: &StartParams,
) -> Result<(AbsolutePathBuf, Option<AbsolutePathBuf>), ExecError> {
    Ok((params.cwd.clone(), host_tmpdir()))
}

/// The `$TMPDIR` of this process, if it is set to an absolute path.
pub(crate) fn host_tmpdir() -> Option<AbsolutePathBuf> {
    std::env::var_os("TMPDIR").and_then(|value| AbsolutePathBuf::try_from_absolute(value).ok())
}

/// `sandbox-exec` with the generated Seatbelt profile. Pure, so it is compiled and
/// unit-tested on every platform, though only macOS can run the result.
pub(crate) fn seatbelt_launch(
    params: &StartParams,
    policy: &SandboxPolicy,
) -> Result<Launch, ExecError> {
    // Validates the cwd; the profile needs only the host's `$TMPDIR`.
    let (_cwd, tmpdir) = cwd_and_tmpdir(params)?;
    let decision =
        seatbelt_policy(policy, /*cwd*/ None, tmpdir.as_ref()).map_err(|err| match err {
            SandboxingError::UnsupportedPlatform { .. } => {
                ExecError::SandboxUnavailable(err.to_string())
            }
            SandboxingError::UnrepresentablePath { .. }
            | SandboxingError::RootThroughWritableSymlink { .. }
            | SandboxingError::Resolve { .. }
            | SandboxingError::RootChanged { .. }
            | SandboxingError::GitdirThroughWritableSymlink { .. }
            | SandboxingError::Policy(_) => ExecError::SandboxDenied(err.to_string()),
        })?;
    match decision {
        SeatbeltDecision::NotNeeded(_) => Ok(Launch::direct(params)),
        SeatbeltDecision::Sandbox(profile) => {
            let mut argv = sandbox_exec_argv(&profile, std::iter::empty::<OsString>());
            let program = argv.remove(0);
            Launch::wrapped(params, "sandbox-exec", program, argv)
        }
    }
}

/// `externalSandbox` without network on Linux: the command as it is, with the seccomp
/// network filter; anything else the platform says needs no sandbox runs as it is.
#[cfg(target_os = "linux")]
fn unconfined_launch(params: &StartParams, policy: &SandboxPolicy) -> Result<Launch, ExecError> {
    use codex_linux_sandbox::SandboxPlan;

    let mut launch = Launch::direct(params);
    match SandboxPlan::for_policy(policy) {
        SandboxPlan::Direct => {}
        SandboxPlan::SeccompOnly => {
            codex_linux_sandbox::check_inherit_only()
                .map_err(|err| linux_sandbox_error(err, params))?;
            // The command runs on the host, next to the server: the variant that also
            // refuses `pidfd_getfd`, `ptrace` and the like.
            let filter =
                codex_linux_sandbox::NetworkFilter::compile(codex_linux_sandbox::FilterKind::Host)
                    .map_err(|err| linux_sandbox_error(err, params))?;
            launch.confinement = Confinement::SeccompFilter(filter);
        }
        // `codex-sandboxing` picks bubblewrap for these; never run them unconfined.
        SandboxPlan::Bwrap => {
            return Err(ExecError::SandboxUnavailable(
                "this policy needs bubblewrap, which was not selected".to_string(),
            ));
        }
    }
    Ok(launch)
}

/// Off Linux, a policy that needs no sandbox runs the command as it is.
#[cfg(not(target_os = "linux"))]
fn unconfined_launch(params: &StartParams, _policy: &SandboxPolicy) -> Result<Launch, ExecError> {
    Ok(Launch::direct(params))
}

/// `codex-sandboxing` only picks bubblewrap on Linux; should it ever do so elsewhere, refuse.
#[cfg(not(target_os = "linux"))]
async fn bubblewrap_launch(
    _params: &StartParams,
    _policy: &SandboxPolicy,
    _root_pins: &std::sync::Arc<codex_sandboxing::RootPins>,
    _hidden: &[std::path::PathBuf],
    _escalation: Option<&PreparedEscalation>,
) -> Result<Launch, ExecError> {
    Err(ExecError::SandboxUnavailable(
        "the bubblewrap sandbox exists only on Linux".to_string(),
    ))
}

/// What [`codex_linux_sandbox::probe_proc_mount`] found for a bubblewrap executable:
/// tried once per server process and `bwrap` (concurrent first starts wait for the one
/// trial run), and again on the next start after a failed try, as the host may have been
/// fixed meanwhile.
#[cfg(target_os = "linux")]
async fn probed_proc_mount(
    bwrap: &std::path::Path,
    params: &StartParams,
) -> Result<codex_linux_sandbox::ProcMount, ExecError> {
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::sync::Mutex;
    use std::sync::OnceLock;

    use codex_linux_sandbox::ProcMount;
    use tokio::sync::OnceCell;

    static PROBES: OnceLock<Mutex<HashMap<PathBuf, Arc<OnceCell<ProcMount>>>>> = OnceLock::new();
    let cell = {
        let mut probes = PROBES
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(probes.entry(bwrap.to_path_buf()).or_default())
    };
    let probed = cell
        .get_or_try_init(|| async {
            let path = bwrap.to_path_buf();
            tokio::task::spawn_blocking(move || codex_linux_sandbox::probe_proc_mount(&path))
                .await
                .map_err(|err| ExecError::Internal(format!("trying out bubblewrap: {err}")))?
                .map_err(|err| linux_sandbox_error(err, params))
        })
        .await?;
    Ok(*probed)
}

/// The bubblewrap of this process: looked up once, in the server's own `PATH` (never the
/// request's), refused unless only root can change it, and checked unchanged before
/// each start (see [`codex_linux_sandbox::TrustedBwrap`]). A sandboxed command allowed
/// to write a directory of some `PATH` could otherwise plant a `bwrap` that the next
/// start would run outside any sandbox.
#[cfg(target_os = "linux")]
fn server_bwrap(
    params: &StartParams,
) -> Result<&'static codex_linux_sandbox::TrustedBwrap, ExecError> {
    codex_linux_sandbox::TrustedBwrap::for_this_process()
        .map_err(|err| linux_sandbox_error(err, params))
}

/// `bwrap ... -- ARGV...`, after checking what can be checked before anything runs: the
/// policy first (it only inspects the filesystem), then the host (bubblewrap, the
/// kernel, the trial run), then the program. An escalated shell (`escalation`) runs from
/// its bind in the sandbox, next to the wrapper's.
#[cfg(target_os = "linux")]
async fn bubblewrap_launch(
    params: &StartParams,
    policy: &SandboxPolicy,
    root_pins: &std::sync::Arc<codex_sandboxing::RootPins>,
    hidden: &[std::path::PathBuf],
    escalation: Option<&PreparedEscalation>,
) -> Result<Launch, ExecError> {
    use codex_linux_sandbox::BwrapOptions;
    use codex_linux_sandbox::ProcMount;

    let (cwd, tmpdir) = cwd_and_tmpdir(params)?;
    let binds = escalation.and_then(|escalation| escalation.binds.clone());
    let mut command: Vec<OsString> = params.argv.iter().map(OsString::from).collect();
    if let Some(binds) = &binds {
        command[0] = binds.shell.clone();
    }
    let options = |proc_mount| BwrapOptions {
        proc_mount,
        policy_cwd: None,
        tmpdir: tmpdir.clone(),
        helper: None,
        seccomp_fds: Vec::new(),
        env: params
            .env
            .iter()
            .map(|(name, value)| (OsString::from(name), OsString::from(value)))
            .collect(),
        root_pins: Some(std::sync::Arc::clone(root_pins)),
        hidden: hidden
            .iter()
            .filter_map(|path| AbsolutePathBuf::try_from_absolute(path).ok())
            .collect(),
        arg0: params.arg0.as_ref().map(OsString::from),
        programs: binds
            .as_ref()
            .map(|binds| binds.programs.clone())
            .unwrap_or_default(),
    };
    // The policy's problems come first: a host or program problem is reported only for a
    // policy that could be enforced. `prepare` checks the policy last, so on any error
    // the policy is checked on its own (once, on the path that succeeds).
    let policy_first = |err: ExecError| match codex_linux_sandbox::build_bwrap_argv(
        policy,
        &cwd,
        &command,
        &options(ProcMount::Mount),
    ) {
        Ok(_) => err,
        Err(policy_err) => linux_sandbox_error(policy_err, params),
    };
    let bwrap = server_bwrap(params).map_err(policy_first)?;
    let bwrap_path = bwrap
        .verify()
        .map_err(|err| policy_first(linux_sandbox_error(err, params)))?;
    codex_linux_sandbox::check_inherit_only()
        .map_err(|err| policy_first(linux_sandbox_error(err, params)))?;
    let proc_mount = probed_proc_mount(bwrap_path, params)
        .await
        .map_err(policy_first)?;
    // Bubblewrap's `execvp` searches the command's `PATH` (set inside with `--setenv`).
    // An escalated shell is the server's own, bound in the sandbox by the server.
    let path = params.env.get("PATH").map(std::ffi::OsStr::new);
    let program = std::ffi::OsStr::new(&params.argv[0]);
    codex_linux_sandbox::find_program(program, path, cwd.as_path()).map_err(|err| {
        policy_first(ExecError::SpawnFailed {
            program: params.argv[0].clone(),
            message: err.to_string(),
        })
    })?;
    let mut launch = codex_linux_sandbox::BwrapLaunch::prepare(
        bwrap,
        policy,
        &cwd,
        &command,
        options(proc_mount),
    )
    .map_err(|err| policy_first(linux_sandbox_error(err, params)))?;
    Ok(Launch {
        program: launch.program.clone().into_os_string(),
        args: std::mem::take(&mut launch.args),
        arg0: launch.arg0.take(),
        request_env: false,
        confinement: Confinement::Bwrap(launch),
        limits: codex_linux_sandbox::ResourceLimits::default(),
        escalation: None,
    })
}

/// A problem the sandbox found before running anything, as the client should see it:
/// `sandboxDenied` when the request must change, `sandboxUnavailable` when the host must.
#[cfg(target_os = "linux")]
fn linux_sandbox_error(
    err: codex_linux_sandbox::LinuxSandboxError,
    params: &StartParams,
) -> ExecError {
    use codex_linux_sandbox::LinuxSandboxError;

    let message = err.to_string();
    match err {
        LinuxSandboxError::CwdNotReadable { .. }
        | LinuxSandboxError::MissingWritableRoot { .. }
        | LinuxSandboxError::MissingReadableRoot { .. }
        | LinuxSandboxError::ProtectedPathIsSymlink { .. }
        | LinuxSandboxError::UnprotectableMissingPath { .. }
        | LinuxSandboxError::HelperNotRunnable { .. }
        | LinuxSandboxError::Inspect { .. }
        | LinuxSandboxError::Policy(_)
        | LinuxSandboxError::SecretInWritableRoot { .. } => ExecError::SandboxDenied(message),
        LinuxSandboxError::InvalidEnv { .. }
        | LinuxSandboxError::InvalidLimit { .. }
        | LinuxSandboxError::InvalidArg0 { .. } => ExecError::InvalidParams(message),
        LinuxSandboxError::Arg0ProgramNotReadable { .. } => ExecError::SandboxDenied(message),
        LinuxSandboxError::BwrapMissing { .. }
        | LinuxSandboxError::BwrapNotPermitted { .. }
        | LinuxSandboxError::BwrapSpawn { .. }
        | LinuxSandboxError::CurrentExe { .. }
        | LinuxSandboxError::NoNewPrivs { .. }
        | LinuxSandboxError::CloseRangeUnsupported { .. }
        | LinuxSandboxError::MountsPropagate
        | LinuxSandboxError::Seccomp { .. }
        | LinuxSandboxError::BwrapUntrusted { .. }
        | LinuxSandboxError::BwrapChanged { .. }
        | LinuxSandboxError::Placeholder { .. }
        | LinuxSandboxError::ProcessLimitUnenforceable
        | LinuxSandboxError::ApplyLimits { .. } => ExecError::SandboxUnavailable(message),
        // The same error an unsandboxed start in a missing cwd gets.
        LinuxSandboxError::MissingCwd { .. } | LinuxSandboxError::Exec { .. } => {
            ExecError::SpawnFailed {
                program: params.argv[0].clone(),
                message,
            }
        }
        LinuxSandboxError::EmptyCommand | LinuxSandboxError::CwdNotAbsolute { .. } => {
            ExecError::InvalidParams(message)
        }
        LinuxSandboxError::NotABwrapPolicy { .. } | LinuxSandboxError::PolicyJson { .. } => {
            ExecError::Internal(message)
        }
    }
}

#[cfg(test)]
#[path = "sandbox_tests.rs"]
mod tests;
