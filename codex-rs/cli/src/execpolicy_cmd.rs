//! `codex execpolicy check`: evaluate one command against `.rules` files and print the
//! result as JSON, in exactly the shape of upstream Codex's command of the same name.

use std::path::PathBuf;
use std::process::ExitCode;

use codex_config::ConfigOptions;
use codex_config::LocalFs;
use codex_execpolicy::MatchOptions;
use codex_execpolicy::Policy;

/// `codex execpolicy <what>`.
#[derive(Debug, clap::Subcommand)]
pub enum ExecpolicyCommand {
    /// Evaluate a command against rules files and print the result as JSON:
    /// `{"matchedRules":[{"prefixRuleMatch":{"matchedPrefix":[...],"decision":"...",
    /// "resolvedProgram":"...","justification":"..."}}],"decision":"..."}`.
    ///
    /// `decision` is the strictest of the matching rules (forbidden > prompt > allow);
    /// when nothing matches, `matchedRules` is empty and `decision` is left out. Exits 0
    /// whenever the command was evaluated, whatever the decision; 1 (with the file and
    /// line on stderr) when a rules file is unreadable or wrong.
    ///
    /// Rules come from the `--rules` files only, as in upstream Codex. Without `--rules`,
    /// the rules of the config layers of the current directory are used instead:
    /// `rules/*.rules` in /etc/codex, in $CODEX_HOME (default ~/.codex) and, when the
    /// project is trusted, in each `.codex/` directory from the project root down to the
    /// current directory (lowest precedence first, files sorted by name).
    #[command(verbatim_doc_comment)]
    Check(CheckArgs),
}

/// `codex execpolicy check [--rules FILE]... [--resolve-host-executables] [--pretty] CMD...`
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// A rules file to evaluate (repeatable; in the order given). Without any, the
    /// config layers' `rules/*.rules` files are used.
    #[arg(short = 'r', long = "rules", value_name = "FILE")]
    rules: Vec<PathBuf>,
    /// When no rule names an absolute program path literally, match the rules of its
    /// basename (`/usr/bin/git` → `git`) and report the path as `resolvedProgram`;
    /// `host_executable(name, paths)` declarations restrict which paths may.
    #[arg(long)]
    resolve_host_executables: bool,
    /// Pretty-print the JSON (default: one line).
    #[arg(long)]
    pretty: bool,
    /// The command and its arguments (everything from the first word on, options
    /// included).
    #[arg(
        value_name = "COMMAND",
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<String>,
}

/// Runs a `codex execpolicy` command.
pub fn run(command: ExecpolicyCommand) -> ExitCode {
    let ExecpolicyCommand::Check(args) = command;
    match check(&args) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("codex execpolicy: {message}");
            ExitCode::FAILURE
        }
    }
}

fn check(args: &CheckArgs) -> Result<String, String> {
    let policy = if args.rules.is_empty() {
        layered_policy()?
    } else {
        codex_execpolicy::load_policy(&args.rules).map_err(|err| err.to_string())?
    };
    let options = MatchOptions {
        resolve_host_executables: args.resolve_host_executables,
    };
    Ok(policy
        .evaluate(&args.command, &options)
        .to_json(args.pretty))
}

/// The rules of the config layers of the current directory.
fn layered_policy() -> Result<Policy, String> {
    let cwd = std::env::current_dir()
        .map_err(|err| format!("cannot find the current directory: {err}"))?;
    let options = ConfigOptions::new(cwd).map_err(|err| err.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start: {err}"))?;
    let config = runtime
        .block_on(codex_config::load_config(&options, &LocalFs))
        .map_err(|err| err.to_string())?;
    for warning in &config.warnings {
        eprintln!("codex: warning: {warning}");
    }
    let dirs = codex_config::layer_dirs(&options, &config);
    codex_execpolicy::load_layered_policy(dirs.iter().map(|layer| &layer.dir))
        .map_err(|err| err.to_string())
}
