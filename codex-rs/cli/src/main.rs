//! `codex`: the front door. One binary for the exec-server, a sandboxed command, applying a
//! patch, the effective configuration and instructions, and checking commands against
//! `.rules` files.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;
use clap::Subcommand;

mod debug_cmd;
mod execpolicy_cmd;
mod project_fs;
mod sandbox_cmd;

/// The front door to the coding agent's executor: run the exec-server, run one command
/// in the sandbox, apply a patch, check a command against the exec policy.
#[derive(Debug, Parser)]
#[command(name = "codex", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the exec-server (the same flags as `codex-exec-server`).
    ExecServer(Box<codex_exec_server::cli::Cli>),
    /// Run one command under a sandbox policy on this machine, through the exec-server's
    /// own code path (bubblewrap + seccomp on Linux); exits with the command's status.
    Sandbox(sandbox_cmd::SandboxArgs),
    /// Apply a patch in the apply-patch format in the current directory (also: started as
    /// `apply_patch` or `applypatch`).
    ApplyPatch {
        /// The patch; read from standard input when left out.
        patch: Option<OsString>,
    },
    /// Show what the agent would see: the effective configuration, the instructions.
    #[command(subcommand)]
    Debug(debug_cmd::DebugCommand),
    /// Check commands against `.rules` files (allowed, needs approval, forbidden).
    #[command(subcommand)]
    Execpolicy(execpolicy_cmd::ExecpolicyCommand),
}

fn main() -> ExitCode {
    // Before anything else, and before any thread: this binary is also
    // `codex-linux-sandbox` and `apply_patch` when started under those names (the
    // exec-server it runs uses both through `arg0`).
    codex_exec_server::dispatch_linux_sandbox();
    codex_apply_patch::arg0_dispatch();
    let cli = Cli::parse();
    match cli.command {
        Command::ExecServer(args) => match codex_exec_server::cli::run_main(*args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("codex exec-server: {err:#}");
                ExitCode::FAILURE
            }
        },
        Command::Sandbox(args) => sandbox_cmd::run(args),
        Command::ApplyPatch { patch } => exit_code(codex_apply_patch::run_patch(patch)),
        Command::Debug(command) => debug_cmd::run(command),
        Command::Execpolicy(command) => execpolicy_cmd::run(command),
    }
}

/// An exit status as `ExitCode` (statuses outside 0..=255 become 1).
fn exit_code(status: i32) -> ExitCode {
    ExitCode::from(u8::try_from(status).unwrap_or(1))
}
