//! `codex debug …`: what the agent would see, for a person to check: the effective
//! configuration (each value with the layer it came from) and the instructions assembled
//! from the AGENTS.md files. The project side is read through the executor's filesystem:
//! an exec-server's when `--exec-server-url` is given, never the local disk then.

use std::path::PathBuf;
use std::process::ExitCode;

use codex_agents_md::DiscoveryOptions;
use codex_config::Config;
use codex_config::ConfigOptions;
use codex_file_system::LocalFileSystem;
use codex_utils_absolute_path::AbsolutePathBuf;
use serde_json::Value;
use serde_json::json;

use crate::project_fs::ProjectSide;

/// `codex debug <what>`.
#[derive(Debug, clap::Subcommand)]
pub enum DebugCommand {
    /// The effective configuration: every value, and the layer it came from (system,
    /// user, trusted project, `-c`) or `default`.
    Config(DebugArgs),
    /// The instructions assembled from `$CODEX_HOME/AGENTS.md` and the AGENTS.md files from
    /// the project root down to the working directory.
    Instructions(DebugArgs),
}

/// What both `codex debug` commands take.
#[derive(Debug, clap::Args)]
pub struct DebugArgs {
    /// The working directory (default: the current one). With `--exec-server-url`, a
    /// directory on the server's machine.
    #[arg(short = 'C', long = "cd", value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// Override a configuration value (`key=value`, the value parsed as TOML; a dotted
    /// key reaches into a table). Repeatable; later ones win.
    #[arg(short = 'c', long = "config", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Read the project side through this exec-server's filesystem (ws://… or wss://…,
    /// with `?token=` as the server printed it). System and user files stay local.
    #[arg(long, env = "CODEX_EXEC_SERVER_URL", value_name = "URL")]
    exec_server_url: Option<String>,
}

/// Runs a `codex debug` command.
pub fn run(command: DebugCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("codex debug: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            DebugCommand::Config(args) => config(args).await,
            DebugCommand::Instructions(args) => instructions(args).await,
        }
    });
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("codex debug: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The effective configuration of `args`' working directory, its warnings printed.
pub async fn load(side: &ProjectSide, overrides: &[String]) -> Result<Config, String> {
    let mut options = ConfigOptions::new(side.cwd.as_path()).map_err(|err| err.to_string())?;
    options.overrides = overrides.to_vec();
    let config = codex_config::load_config(&options, &side.config_fs())
        .await
        .map_err(|err| err.to_string())?;
    for warning in &config.warnings {
        eprintln!("codex: warning: {warning}");
    }
    Ok(config)
}

async fn config(args: DebugArgs) -> Result<String, String> {
    let side = ProjectSide::open(args.exec_server_url.as_deref(), args.cwd).await?;
    let config = load(&side, &args.overrides).await?;
    let source = |key: &str| {
        config
            .source_of(key)
            .map_or_else(|| "default".to_string(), ToString::to_string)
    };
    let policy_value = |key: &str| -> Value {
        let policy = serde_json::to_value(&config.sandbox_policy).unwrap_or(Value::Null);
        policy.get(key).cloned().unwrap_or(Value::Null)
    };
    let values: Vec<(&str, Value)> = vec![
        ("sandbox_mode", json!(config.sandbox_mode.as_str())),
        (
            "sandbox_workspace_write.writable_roots",
            policy_value("writableRoots"),
        ),
        (
            "sandbox_workspace_write.network_access",
            policy_value("networkAccess"),
        ),
        (
            "sandbox_workspace_write.exclude_tmpdir_env_var",
            policy_value("excludeTmpdirEnvVar"),
        ),
        (
            "sandbox_workspace_write.exclude_slash_tmp",
            policy_value("excludeSlashTmp"),
        ),
        ("project_root_markers", json!(config.project_root_markers)),
        ("project_doc_max_bytes", json!(config.project_doc_max_bytes)),
        (
            "project_doc_fallback_filenames",
            json!(config.project_doc_fallback_filenames),
        ),
    ];
    let allowed: Vec<&str> = config
        .requirements
        .allowed_sandbox_modes()
        .into_iter()
        .map(|mode| mode.as_str())
        .collect();
    if args.json {
        let values: serde_json::Map<String, Value> = values
            .iter()
            .map(|(key, value)| {
                let source = config.source_of(key).map(ToString::to_string);
                (
                    (*key).to_string(),
                    json!({"value": value, "source": source}),
                )
            })
            .collect();
        let report = json!({
            "values": values,
            "sandboxPolicy": config.sandbox_policy,
            "projectRoot": config.project_root,
            "projectTrusted": config.project_trusted,
            "allowedSandboxModes": allowed,
            "layers": config.layers.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "warnings": config.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        return Ok(format!("{report:#}\n"));
    }
    let mut out = String::new();
    for (key, value) in &values {
        // A table's value has no single source: leave such rows out of the policy's.
        if value.is_null() {
            continue;
        }
        out.push_str(&format!("{key} = {value}  # {}\n", source(key)));
    }
    out.push_str(&format!(
        "# project root {} ({}trusted)\n# allowed sandbox modes: {}\n",
        config.project_root,
        if config.project_trusted { "" } else { "not " },
        allowed.join(", ")
    ));
    Ok(out)
}

async fn instructions(args: DebugArgs) -> Result<String, String> {
    let side = ProjectSide::open(args.exec_server_url.as_deref(), args.cwd).await?;
    let config = load(&side, &args.overrides).await?;
    let codex_home = codex_config::default_codex_home()
        .ok()
        .and_then(|home| AbsolutePathBuf::try_from_absolute(home).ok());
    let options = DiscoveryOptions {
        project_root_markers: config.project_root_markers.clone(),
        max_bytes: config.project_doc_max_bytes,
        fallback_filenames: config.project_doc_fallback_filenames.clone(),
        codex_home,
    };
    let home_fs = LocalFileSystem::default();
    let found = codex_agents_md::discover(side.fs.as_ref(), &home_fs, &side.cwd, &options)
        .await
        .map_err(|err| err.to_string())?;
    for warning in &found.warnings {
        eprintln!("codex debug: warning: {warning}");
    }
    if args.json {
        Ok(format!("{}\n", found.to_json()))
    } else {
        Ok(found.text)
    }
}
