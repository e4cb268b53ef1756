//! `codex sandbox`: one command under a sandbox policy, run through the exec-server
//! library's `Command` on a local `Environment`: the same `LocalProcess` (and so the same
//! policy checks, bubblewrap launch and seccomp filter) as a sandboxed `process/start` of
//! the exec-server.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use codex_exec_server::ChildEvent;
use codex_exec_server::Command;
use codex_exec_server::Environment;
use codex_exec_server::LocalProcess;
use codex_protocol::SandboxPolicy;

use crate::project_fs::ProjectSide;

/// Exit status when the sandbox could not run the command at all (as `env`, `timeout` and
/// `codex-linux-sandbox` use it).
const SANDBOX_FAILED: u8 = 125;

/// `codex sandbox [-C DIR] [--policy JSON] -- CMD...`
#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    /// Working directory of the command (default: the current directory).
    #[arg(short = 'C', long = "cd", value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// The sandbox policy as JSON, exactly as the exec-server's `sandboxPolicy`, e.g.
    /// '{"type":"readOnly","access":{"type":"fullAccess"}}'. Default: the configured one
    /// (`sandbox_mode`, see `codex debug config`). Either way it must be a mode the
    /// requirements allow.
    #[arg(long, value_name = "JSON")]
    policy: Option<String>,
    /// Override a configuration value (`key=value`, as for `codex debug config`).
    #[arg(short = 'c', long = "config", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// The command and its arguments (after `--`). Standard input is not forwarded: the
    /// command reads `/dev/null`.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<OsString>,
}

/// Runs the command; exits with its status (128 + signal when killed), or 125 when the
/// sandbox refused or could not run it (the reason on stderr).
pub fn run(args: SandboxArgs) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run_async(args)).unwrap_or_else(|message| {
            eprintln!("codex sandbox: {message}");
            ExitCode::from(SANDBOX_FAILED)
        }),
        Err(err) => {
            eprintln!("codex sandbox: cannot start: {err}");
            ExitCode::from(SANDBOX_FAILED)
        }
    }
}

async fn run_async(args: SandboxArgs) -> Result<ExitCode, String> {
    let cwd = match args.cwd {
        Some(cwd) => std::path::absolute(&cwd)
            .map_err(|err| format!("working directory `{}`: {err}", cwd.display()))?,
        None => std::env::current_dir()
            .map_err(|err| format!("cannot tell the current directory: {err}"))?,
    };
    let side = ProjectSide::open(/*url*/ None, Some(cwd.clone())).await?;
    let config = crate::debug_cmd::load(&side, &args.overrides).await?;
    let policy = match &args.policy {
        Some(json) => serde_json::from_str::<SandboxPolicy>(json)
            .map_err(|err| format!("--policy is not a sandbox policy: {err}"))?,
        None => config.sandbox_policy.clone(),
    };
    // The admin's requirements: a mode they do not allow never runs.
    config
        .requirements
        .check_policy(&policy)
        .map_err(|err| err.to_string())?;
    let argv = args
        .command
        .into_iter()
        .map(|arg| {
            arg.into_string()
                .map_err(|arg| format!("argument `{}` is not UTF-8", arg.to_string_lossy()))
        })
        .collect::<Result<Vec<String>, String>>()?;
    let (program, rest) = argv.split_first().ok_or("no command given")?;
    let env = Environment::local(LocalProcess::default());
    let mut child = Command::new(program)
        .args(rest)
        .cwd(&cwd)
        .map_err(|err| err.to_string())?
        .env_clear()
        .envs(std::env::vars())
        .sandbox(policy)
        .spawn(&env)
        .await
        .map_err(|err| err.to_string())?;
    while let Some(event) = child.next_event().await {
        let written = match event.map_err(|err| err.to_string())? {
            ChildEvent::Stderr(bytes) => std::io::stderr().write_all(&bytes),
            ChildEvent::Stdout(bytes) | ChildEvent::Pty(bytes) => {
                let mut stdout = std::io::stdout();
                stdout.write_all(&bytes).and_then(|()| stdout.flush())
            }
            ChildEvent::Exited(_) | ChildEvent::Gap(_) => Ok(()),
        };
        // A closed stdout (`| head`) ends the command as it would end a pipe (dropping
        // the child kills it).
        if written.is_err() {
            break;
        }
    }
    let code = child
        .status()
        .ok_or("the command's end was not reported")?
        .code();
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
