//! `process/start` with a `sandboxPolicy`: from the policy to the command that really runs.
//!
//! Which backend confines the command is decided by `codex-sandboxing`
//! ([`sandbox_type_for_platform`]); this module only turns that decision into a program and
//! its arguments, and refuses (fails closed) whenever it cannot deliver what the policy asks:
//!
//! - **no sandbox** (`dangerFullAccess`, `externalSandbox`): the command runs as it is —
//!   except `externalSandbox` with network `restricted` on Linux, which goes through
//!   `codex-linux-sandbox` like the other policies, because that applies the seccomp network
//!   filter there (see its README); we enforce what we can rather than trust the outer
//!   sandbox to;
//! - **Linux** (`readOnly`, `workspaceWrite`): `codex-linux-sandbox --sandbox-policy-json
//!   JSON --cwd CWD -- ARGV...`. The policy is first checked in-process with
//!   [`codex_linux_sandbox::build_bwrap_argv`] (pure: it only looks at the filesystem) and
//!   bubblewrap is looked up, so a policy that cannot be enforced as written is a typed
//!   `sandboxDenied` error and a missing bubblewrap a `sandboxUnavailable` one, before
//!   anything runs;
//! - **macOS**: `sandbox-exec -p PROFILE -D... -- ARGV...` from
//!   [`codex_sandboxing::seatbelt_policy`] (pure, so it is built and unit-tested everywhere);
//! - **anything else**: `sandboxUnavailable`, never an unsandboxed run.
//!
//! Neither `codex-linux-sandbox` nor `sandbox-exec` can give the command a different
//! `argv[0]`, so `arg0` together with a sandbox is refused rather than dropped.

use std::ffi::OsString;
use std::path::PathBuf;

use codex_protocol::SandboxPolicy;
use codex_sandboxing::SandboxType;
use codex_sandboxing::SandboxingError;
use codex_sandboxing::SeatbeltDecision;
use codex_sandboxing::sandbox_exec_argv;
use codex_sandboxing::sandbox_type_for_platform;
use codex_sandboxing::seatbelt_policy;
use codex_utils_absolute_path::AbsolutePathBuf;

use crate::error::ExecError;
use crate::protocol::StartParams;

/// Where [`crate::LocalProcess`] finds `codex-linux-sandbox`, the program that applies
/// bubblewrap and seccomp to a command on Linux (ignored on other platforms).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LinuxSandboxExe {
    /// None: a start whose policy needs the Linux sandbox fails with `sandboxUnavailable`
    /// before anything runs.
    #[default]
    Unconfigured,
    /// This executable, started under the name `codex-linux-sandbox`. Only for binaries
    /// whose `main` calls [`dispatch_linux_sandbox`] first thing, as `codex-exec-server`
    /// does.
    CurrentExe,
    /// A `codex-linux-sandbox` binary (or any binary that dispatches like
    /// [`LinuxSandboxExe::CurrentExe`] under that file name).
    Path(PathBuf),
}

/// Makes the running binary double as `codex-linux-sandbox` (see
/// [`LinuxSandboxExe::CurrentExe`]); call it first thing in `main`, before any thread is
/// started. Returns at once in a normal start; never returns when the process was started
/// as the sandbox. Does nothing off Linux.
///
/// Both stages of the sandbox (its outer stage and its seccomp stage, which re-runs this
/// very executable inside bubblewrap) are recognised by
/// [`codex_linux_sandbox::arg0_dispatch`].
pub fn dispatch_linux_sandbox() {
    #[cfg(target_os = "linux")]
    codex_linux_sandbox::arg0_dispatch();
}

/// The program to spawn for one `process/start`, after the policy was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Launch {
    /// What to execute.
    pub(crate) program: OsString,
    /// Its arguments (without `argv[0]`).
    pub(crate) args: Vec<OsString>,
    /// `argv[0]` if not `program`.
    pub(crate) arg0: Option<OsString>,
}

impl Launch {
    fn direct(params: &StartParams) -> Self {
        Self {
            program: OsString::from(&params.argv[0]),
            args: params.argv[1..].iter().map(OsString::from).collect(),
            arg0: params.arg0.as_ref().map(OsString::from),
        }
    }

    /// `program args... -- argv...`, refusing a caller's `arg0` (the wrapper executes the
    /// command under its own name).
    fn wrapped(
        params: &StartParams,
        wrapper: &str,
        program: OsString,
        arg0: Option<OsString>,
        mut args: Vec<OsString>,
    ) -> Result<Self, ExecError> {
        if let Some(caller_arg0) = &params.arg0 {
            return Err(ExecError::SandboxUnavailable(format!(
                "`arg0` (`{caller_arg0}`) cannot be combined with this sandboxPolicy: {wrapper} \
                 runs the command under its own name; drop `arg0` or the policy"
            )));
        }
        args.extend(params.argv.iter().map(OsString::from));
        Ok(Self {
            program,
            args,
            arg0,
        })
    }
}

/// What to spawn for `params` (already validated: non-empty argv, absolute cwd).
pub(crate) fn prepare_launch(
    params: &StartParams,
    linux_sandbox_exe: &LinuxSandboxExe,
) -> Result<Launch, ExecError> {
    let Some(policy) = &params.sandbox_policy else {
        return Ok(Launch::direct(params));
    };
    let sandbox_type = sandbox_type_for_platform(policy)
        .map_err(|err| ExecError::SandboxUnavailable(err.to_string()))?;
    match sandbox_type {
        SandboxType::None => unconfined_launch(params, policy, linux_sandbox_exe),
        SandboxType::LinuxBubblewrap => bubblewrap_launch(params, policy, linux_sandbox_exe),
        SandboxType::MacosSeatbelt => seatbelt_launch(params, policy),
    }
}

/// The cwd and `$TMPDIR` the policy's rules are applied to (`$TMPDIR` of the command's
/// environment, which is all it gets).
fn cwd_and_tmpdir(
    params: &StartParams,
) -> Result<(AbsolutePathBuf, Option<AbsolutePathBuf>), ExecError> {
    let cwd = AbsolutePathBuf::try_from_absolute(&params.cwd).map_err(|_| {
        ExecError::InvalidParams(format!(
            "cwd must be an absolute path, got `{}`",
            params.cwd.display()
        ))
    })?;
    let tmpdir = params
        .env
        .get("TMPDIR")
        .and_then(|value| AbsolutePathBuf::try_from_absolute(value).ok());
    Ok((cwd, tmpdir))
}

/// `sandbox-exec` with the generated Seatbelt profile. Pure, so it is compiled and
/// unit-tested on every platform, though only macOS can run the result.
pub(crate) fn seatbelt_launch(
    params: &StartParams,
    policy: &SandboxPolicy,
) -> Result<Launch, ExecError> {
    let (cwd, tmpdir) = cwd_and_tmpdir(params)?;
    let decision = seatbelt_policy(policy, &cwd, tmpdir.as_ref()).map_err(|err| match err {
        SandboxingError::UnsupportedPlatform { .. } => {
            ExecError::SandboxUnavailable(err.to_string())
        }
        SandboxingError::UnrepresentablePath { .. } => ExecError::SandboxDenied(err.to_string()),
    })?;
    match decision {
        SeatbeltDecision::NotNeeded(_) => Ok(Launch::direct(params)),
        SeatbeltDecision::Sandbox(profile) => {
            let mut argv = sandbox_exec_argv(&profile, std::iter::empty::<OsString>());
            let program = argv.remove(0);
            Launch::wrapped(params, "sandbox-exec", program, None, argv)
        }
    }
}

#[cfg(target_os = "linux")]
fn unconfined_launch(
    params: &StartParams,
    policy: &SandboxPolicy,
    linux_sandbox_exe: &LinuxSandboxExe,
) -> Result<Launch, ExecError> {
    linux_launch(params, policy, linux_sandbox_exe)
}

#[cfg(target_os = "linux")]
fn bubblewrap_launch(
    params: &StartParams,
    policy: &SandboxPolicy,
    linux_sandbox_exe: &LinuxSandboxExe,
) -> Result<Launch, ExecError> {
    linux_launch(params, policy, linux_sandbox_exe)
}

/// Off Linux, a policy that needs no sandbox runs the command as it is.
#[cfg(not(target_os = "linux"))]
fn unconfined_launch(
    params: &StartParams,
    _policy: &SandboxPolicy,
    _linux_sandbox_exe: &LinuxSandboxExe,
) -> Result<Launch, ExecError> {
    Ok(Launch::direct(params))
}

/// `codex-sandboxing` only picks bubblewrap on Linux; should it ever do so elsewhere, refuse.
#[cfg(not(target_os = "linux"))]
fn bubblewrap_launch(
    _params: &StartParams,
    _policy: &SandboxPolicy,
    _linux_sandbox_exe: &LinuxSandboxExe,
) -> Result<Launch, ExecError> {
    Err(ExecError::SandboxUnavailable(
        "the bubblewrap sandbox exists only on Linux".to_string(),
    ))
}

/// `codex-linux-sandbox --sandbox-policy-json JSON --cwd CWD -- ARGV...`, after checking
/// in-process what can be checked before anything runs.
#[cfg(target_os = "linux")]
fn linux_launch(
    params: &StartParams,
    policy: &SandboxPolicy,
    linux_sandbox_exe: &LinuxSandboxExe,
) -> Result<Launch, ExecError> {
    use codex_linux_sandbox::BwrapOptions;
    use codex_linux_sandbox::ProcMount;
    use codex_linux_sandbox::SandboxPlan;

    match SandboxPlan::for_policy(policy) {
        SandboxPlan::Direct => return Ok(Launch::direct(params)),
        SandboxPlan::SeccompOnly => {}
        SandboxPlan::Bwrap => {
            let (cwd, env_tmpdir) = cwd_and_tmpdir(params)?;
            let command: Vec<OsString> = params.argv.iter().map(OsString::from).collect();
            // The same check the sandbox makes before it runs bubblewrap (without the
            // helper binding, which the sandbox adds for itself); it creates nothing.
            let options = BwrapOptions {
                proc_mount: ProcMount::Mount,
                env_tmpdir,
                helper: None,
            };
            codex_linux_sandbox::build_bwrap_argv(policy, &cwd, &command, &options)
                .map_err(|err| linux_sandbox_error(err, params))?;
            // The sandbox searches the command's `PATH` (it runs with the command's
            // environment), then the usual places.
            let path = params.env.get("PATH").map(std::ffi::OsStr::new);
            codex_linux_sandbox::find_bwrap(None, path)
                .map_err(|err| linux_sandbox_error(err, params))?;
        }
    }
    let (program, arg0) = match linux_sandbox_exe {
        LinuxSandboxExe::Unconfigured => {
            return Err(ExecError::SandboxUnavailable(
                "no codex-linux-sandbox is configured for this process backend \
                 (LocalProcessConfig::linux_sandbox_exe); refusing to run the command \
                 unsandboxed"
                    .to_string(),
            ));
        }
        LinuxSandboxExe::CurrentExe => {
            let exe = std::env::current_exe().map_err(|err| {
                ExecError::SandboxUnavailable(format!(
                    "cannot find this executable to start it as codex-linux-sandbox: {err}"
                ))
            })?;
            (
                exe.into_os_string(),
                Some(OsString::from(
                    codex_linux_sandbox::CODEX_LINUX_SANDBOX_ARG0,
                )),
            )
        }
        LinuxSandboxExe::Path(path) => {
            if !path.is_file() {
                return Err(ExecError::SandboxUnavailable(format!(
                    "the configured codex-linux-sandbox `{}` is not a file",
                    path.display()
                )));
            }
            (path.clone().into_os_string(), None)
        }
    };
    let policy_json = serde_json::to_string(policy)
        .map_err(|err| ExecError::Internal(format!("serialising the sandbox policy: {err}")))?;
    let args = vec![
        OsString::from("--sandbox-policy-json"),
        OsString::from(policy_json),
        OsString::from("--cwd"),
        params.cwd.clone().into_os_string(),
        OsString::from("--"),
    ];
    Launch::wrapped(params, "codex-linux-sandbox", program, arg0, args)
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
        | LinuxSandboxError::Inspect { .. } => ExecError::SandboxDenied(message),
        LinuxSandboxError::BwrapMissing { .. }
        | LinuxSandboxError::BwrapNotPermitted { .. }
        | LinuxSandboxError::BwrapSpawn { .. }
        | LinuxSandboxError::CurrentExe { .. }
        | LinuxSandboxError::NoNewPrivs { .. }
        | LinuxSandboxError::Seccomp { .. } => ExecError::SandboxUnavailable(message),
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
