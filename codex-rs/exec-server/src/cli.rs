//! The command line of the exec-server: its flags ([`Cli`]) and what running it does
//! ([`run_main`]: set up the process, logging, serve until SIGINT/SIGTERM, then kill every
//! child process group). The `codex-exec-server` binary and `codex exec-server` share it.

use std::path::PathBuf;
use std::time::Duration;

use crate::DEFAULT_EVENT_QUEUE;
use crate::DEFAULT_MAX_MESSAGE_BYTES;
use crate::DEFAULT_MAX_RETAINED_BYTES;
use crate::ExecServer;
use crate::LocalProcessConfig;
use crate::PolicyGate;
use crate::ServerConfig;
use crate::dispatch_linux_sandbox;
use crate::load_tls_config;
use crate::parse_listen_url;
use std::os::unix::fs::DirBuilderExt;

use anyhow::Context;
use clap::Parser;
use codex_file_system::DEFAULT_MAX_FS_BYTES;
use codex_file_system::DEFAULT_MAX_FS_COPY_BYTES;
use codex_file_system::LocalFileSystemConfig;
use tokio::signal::unix::SignalKind;
use tokio::signal::unix::signal;

/// Run processes for a coding agent over JSON-RPC on WebSocket.
///
/// Prints the URL to connect to as the first line on stdout: ws://HOST:PORT/?token=HEX with
/// the secret this server generated at start-up (wss:// with TLS), or just ws://HOST:PORT
/// when the token came from --auth-token-file or CODEX_EXEC_SERVER_TOKEN, or with --no-auth.
/// Clients of this crate accept that line as CODEX_EXEC_SERVER_URL as it is.
#[derive(Debug, Parser)]
#[command(name = "codex-exec-server", version)]
pub struct Cli {
    /// Where to listen, as ws://HOST:PORT, or wss://HOST:PORT for TLS with --tls-cert and
    /// --tls-key (port 0 picks a free port).
    #[arg(long, default_value = "ws://127.0.0.1:0")]
    listen: String,

    /// PEM file with the TLS certificate chain (leaf first) for a wss:// --listen.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// PEM file with the private key of --tls-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// How long a disconnected session survives before its processes are killed
    /// (e.g. 30, 30s, 500ms, 10m, 2h).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    session_ttl: Duration,

    /// A connection from which nothing arrives for this long (the server pings every
    /// third of it, and live clients answer) is closed and its session detached.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    client_timeout: Duration,

    /// Output bytes retained per process for process/read; older output is reported as a gap.
    #[arg(long, default_value_t = DEFAULT_MAX_RETAINED_BYTES)]
    max_retained_bytes: usize,

    /// How long a closed process stays readable (e.g. 5m).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    closed_grace: Duration,

    /// Largest accepted WebSocket message in bytes; larger ones close that connection.
    #[arg(long, default_value_t = DEFAULT_MAX_MESSAGE_BYTES)]
    max_message_bytes: usize,

    /// Notifications queued per connection before they are dropped for a slow client
    /// (which then recovers with process/read).
    #[arg(long, default_value_t = DEFAULT_EVENT_QUEUE)]
    notification_queue: usize,

    /// Output bytes queued per connection before notifications are dropped for it
    /// [default: the value of --max-retained-bytes].
    #[arg(long)]
    notification_queue_bytes: Option<usize>,

    /// Largest file one fs/readFile returns or one fs/writeFile accepts, in bytes (as
    /// base64 it must fit in --max-message-bytes); bigger files are refused, never truncated.
    #[arg(long, default_value_t = DEFAULT_MAX_FS_BYTES)]
    max_fs_bytes: usize,

    /// Most bytes one fs/copy may write (all the files of a tree together); a bigger
    /// source is refused before anything is written, and a copy whose source grows past
    /// it stops and removes what it wrote.
    #[arg(long, default_value_t = DEFAULT_MAX_FS_COPY_BYTES)]
    max_fs_copy_bytes: u64,

    /// File holding the bearer token clients must present (required off loopback).
    /// Without it, the token is taken from CODEX_EXEC_SERVER_TOKEN when that is set, and
    /// otherwise generated (256 bits) and printed in the first stdout line's URL.
    #[arg(long)]
    auth_token_file: Option<PathBuf>,

    /// Accept connections without any token. Only on a loopback --listen, and unsafe:
    /// any local process, including a sandboxed command allowed network access, can then
    /// drive the server and run unsandboxed commands.
    #[arg(long, conflicts_with = "auth_token_file")]
    no_auth: bool,

    /// A rules file (Starlark `.rules`, see codex-execpolicy) for shell escalation;
    /// repeatable. Added to `rules/*.rules` of /etc/codex and of $CODEX_HOME (default
    /// ~/.codex), and, for a start in a project $CODEX_HOME's config trusts, of that
    /// project's .codex directories. A file that cannot be loaded stops the server.
    #[arg(long = "rules", value_name = "FILE")]
    rules: Vec<PathBuf>,

    /// The patched bash (tools/shells) that `process/start` with `escalation` and
    /// `argv[0]` `bash` runs.
    #[arg(long, value_name = "PATH")]
    escalation_bash: Option<PathBuf>,

    /// The patched zsh (tools/shells) that `process/start` with `escalation` and
    /// `argv[0]` `zsh` runs.
    #[arg(long, value_name = "PATH")]
    escalation_zsh: Option<PathBuf>,

    /// The codex-execve-wrapper that escalated shells run every command through
    /// [default: codex-execve-wrapper next to this executable, if it is there].
    #[arg(long, value_name = "PATH")]
    execve_wrapper: Option<PathBuf>,

    /// What builds the Linux sandboxes of a server running as root with `CAP_SYS_ADMIN`:
    /// `auto` uses codex-sandbox-launcher next to this executable if it is there and only
    /// root can change it (the same sandbox as bubblewrap's, built in less than half the
    /// time), else bubblewrap; `bubblewrap` always uses bubblewrap. Other servers always
    /// use bubblewrap.
    #[arg(long, value_enum, default_value_t = SandboxLauncher::Auto)]
    sandbox_launcher: SandboxLauncher,

    /// How long the server waits for the client's answer to an approval/request before
    /// the command is denied.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    approval_timeout: Duration,
}

/// Where the server's token comes from.
enum Auth {
    /// From --auth-token-file or CODEX_EXEC_SERVER_TOKEN: the operator hands it out.
    Configured(String),
    /// Made here: the first stdout line carries it.
    Generated(String),
    /// --no-auth.
    Disabled,
}

impl Auth {
    fn token(&self) -> Option<&str> {
        match self {
            Auth::Configured(token) | Auth::Generated(token) => Some(token),
            Auth::Disabled => None,
        }
    }
}

/// Environment variable holding the bearer token when `--auth-token-file` is not given.
const TOKEN_ENV_VAR: &str = "CODEX_EXEC_SERVER_TOKEN";

/// Seconds (`30`), or a number with a unit: `ms`, `s`, `m`, `h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 30s, 10m or 2h"))?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" | "secs" => number,
        "ms" => number / 1000.0,
        "m" | "min" | "mins" => number * 60.0,
        "h" | "hr" | "hours" => number * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|err| format!("`{text}`: {err}"))
}

/// Marks every descriptor this process inherited above stderr close-on-exec, so the
/// commands it runs get their stdio and never, say, a build tool's jobserver pipe that
/// was passed to the server. (Descriptors the server opens itself are close-on-exec
/// anyway.) `close_range(CLOSE_RANGE_CLOEXEC)` needs Linux 5.11; elsewhere, and on older
/// kernels, inherited descriptors stay as they are.
fn keep_inherited_fds_from_children() {
    #[cfg(target_os = "linux")]
    // SAFETY: close_range only changes descriptor flags.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            libc::STDERR_FILENO + 1,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
    }
}

/// Started with SIGHUP or SIGQUIT ignored (under `nohup`, say), the server would pass that
/// on to every command, and `process/signal hangup` would do nothing. A handler that does
/// nothing keeps the server as immune as before, while its children start with the default
/// action (`execve` resets handlers, but not "ignore"). SIGINT and SIGTERM get the
/// server's own handlers anyway.
fn give_children_default_signal_actions() {
    extern "C" fn ignore(_: libc::c_int) {}
    for signal in [libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: reading and replacing a signal disposition with a handler that touches
        // nothing; done before any thread exists.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut current) == 0
                && current.sa_sigaction == libc::SIG_IGN
            {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = ignore as *const () as libc::sighandler_t;
                libc::sigemptyset(&mut action.sa_mask);
                action.sa_flags = libc::SA_RESTART;
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
    }
}

/// Many concurrent children need many pipes: raise the soft fd limit to the hard limit.
fn raise_fd_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Same-uid processes that are not root (a command this server runs, among others) may not
/// read this process's `/proc/PID/environ`, `mem` or `fd/`, nor ptrace it: its environment
/// and memory hold the token. Commands are unaffected: `execve` makes them dumpable again.
fn make_non_dumpable() -> anyhow::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with integer arguments only.
        let result = unsafe {
            libc::prctl(
                libc::PR_SET_DUMPABLE,
                /*arg2*/ 0,
                /*arg3*/ 0,
                /*arg4*/ 0,
                /*arg5*/ 0,
            )
        };
        if result != 0 {
            return Err(std::io::Error::last_os_error()).context("prctl(PR_SET_DUMPABLE, 0)");
        }
    }
    Ok(())
}

/// What builds the Linux sandboxes of a root server (`--sandbox-launcher`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SandboxLauncher {
    /// codex-sandbox-launcher when it is usable, else bubblewrap.
    Auto,
    /// Always bubblewrap.
    Bubblewrap,
}

/// The `codex-exec-server` binary: the process-wide dispatches (`codex-linux-sandbox`,
/// `apply_patch` by `argv[0]`), then the flags, then [`run_main`].
pub fn main() -> anyhow::Result<()> {
    // First, before any thread exists: started as `codex-linux-sandbox`, this binary is
    // that standalone sandbox (see `dispatch_linux_sandbox`).
    dispatch_linux_sandbox();
    // Started as `apply_patch` or `applypatch` (`process/start` with that `arg0` and this
    // executable as the program), it applies the patch in its argument and exits.
    codex_apply_patch::arg0_dispatch();
    run_main(Cli::parse())
}

/// Run the server with `cli`. Call it before any other thread is started: it makes the
/// process non-dumpable, sets process-wide descriptor and signal dispositions, then starts
/// the runtime.
pub fn run_main(cli: Cli) -> anyhow::Result<()> {
    make_non_dumpable()?;
    #[cfg(target_os = "linux")]
    if cli.sandbox_launcher == SandboxLauncher::Auto {
        codex_linux_sandbox::enable_mount_launcher();
    }
    keep_inherited_fds_from_children();
    give_children_default_signal_actions();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?
        .block_on(serve(cli))
}

async fn serve(cli: Cli) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, not in log files.
        .with_ansi(codex_terminal_detection::supports_colour(
            codex_terminal_detection::Stream::Stderr,
        ))
        .init();
    raise_fd_limit();

    let configured = match (&cli.auth_token_file, std::env::var(TOKEN_ENV_VAR).ok()) {
        (Some(path), _) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading --auth-token-file {}", path.display()))?
                .trim()
                .to_string(),
        ),
        (None, Some(token)) if !token.is_empty() => Some(token.trim().to_string()),
        (None, _) => None,
    };
    // The server's secrets, by their resolved paths: fs/* never touches them, and no
    // sandbox shows them (each is covered by an empty file), whatever the policy reads.
    let mut secrets = Vec::new();
    for (flag, path) in [
        ("--auth-token-file", &cli.auth_token_file),
        ("--tls-key", &cli.tls_key),
    ] {
        if let Some(path) = path {
            secrets.push(
                std::fs::canonicalize(path)
                    .with_context(|| format!("resolving {flag} {}", path.display()))?,
            );
        }
    }
    let denied_paths = secrets.clone();
    let listen = parse_listen_url(&cli.listen)?;
    let auth = match (cli.no_auth, configured) {
        (true, Some(_)) => anyhow::bail!(
            "--no-auth contradicts the token in {TOKEN_ENV_VAR}: unset it or drop --no-auth"
        ),
        (true, None) if !listen.addr.ip().is_loopback() => anyhow::bail!(
            "--no-auth is only allowed on a loopback --listen address, not {}",
            listen.addr
        ),
        (true, None) => {
            tracing::warn!(
                "--no-auth: any local process, including a sandboxed command that is allowed \
                 network access, can connect to this server and run unsandboxed commands"
            );
            Auth::Disabled
        }
        (false, Some(token)) => Auth::Configured(token),
        // Off loopback the operator must hand out a token: `bind` refuses without one.
        (false, None) if !listen.addr.ip().is_loopback() => Auth::Disabled,
        (false, None) => {
            Auth::Generated(crate::generate_token().context("generating the auth token")?)
        }
    };
    let tls = match (listen.tls, &cli.tls_cert, &cli.tls_key) {
        (true, Some(cert), Some(key)) => Some(load_tls_config(cert, key)?),
        (true, _, _) => anyhow::bail!(
            "--listen {} asks for TLS: pass --tls-cert and --tls-key",
            cli.listen
        ),
        (false, None, None) => None,
        (false, _, _) => anyhow::bail!(
            "--tls-cert and --tls-key are for a wss:// --listen, not {}",
            cli.listen
        ),
    };
    let escalation = escalation_config(&cli)?;
    // Kept until the server ends (see `TempHome`).
    let (policy_gate, _temp_home) = requirements_gate().await?;
    let config = ServerConfig {
        listen: listen.addr,
        tls,
        client_timeout: cli.client_timeout,
        session_ttl: cli.session_ttl,
        process: LocalProcessConfig {
            max_retained_bytes: cli.max_retained_bytes,
            closed_grace: cli.closed_grace,
            event_queue: cli.notification_queue,
            event_queue_bytes: cli
                .notification_queue_bytes
                .unwrap_or(cli.max_retained_bytes),
            hidden_paths: secrets,
        },
        policy_gate,
        escalation,
        max_message_bytes: cli.max_message_bytes,
        auth_token: auth.token().map(str::to_string),
        file_system: LocalFileSystemConfig {
            max_fs_bytes: cli.max_fs_bytes,
            max_copy_bytes: cli.max_fs_copy_bytes,
            denied_paths,
            ..LocalFileSystemConfig::default()
        },
    };
    let server = ExecServer::bind(config).await?;
    // The URL is logged without the token, which goes only to stdout, for the launcher.
    match &auth {
        Auth::Generated(token) => {
            println!("{}", crate::url_with_token(&server.url(), token));
        }
        Auth::Configured(_) | Auth::Disabled => println!("{}", server.url()),
    }
    tracing::info!("listening on {}", server.url());

    let mut sigterm = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    server
        .run(async move {
            tokio::select! {
                _ = sigterm.recv() => tracing::info!("SIGTERM"),
                _ = sigint.recv() => tracing::info!("SIGINT"),
            }
        })
        .await;
    Ok(())
}

/// The shell escalation settings of `cli`: the rules (`rules/*.rules` of the system and
/// user config layers, then `--rules`), loaded now (an error, with its file and line,
/// stops the server), the patched shells and the wrapper, checked to be executable files.
fn escalation_config(cli: &Cli) -> anyhow::Result<crate::EscalationConfig> {
    let mut layers = vec![PathBuf::from(codex_config::SYSTEM_CONFIG_DIR)];
    let codex_home = codex_config::default_codex_home().ok();
    layers.extend(codex_home.clone());
    let mut files = codex_execpolicy::rules_files_in_layers(&layers)
        .context("finding the rules files of the config layers")?;
    files.extend(cli.rules.iter().cloned());
    let rules = codex_execpolicy::load_policy(&files).context("loading the rules")?;
    // A trusted project's rules are added per start, for the process's cwd.
    let project_layers = codex_home.map(|codex_home| crate::ConfigLocations {
        codex_home,
        system_dir: PathBuf::from(codex_config::SYSTEM_CONFIG_DIR),
    });
    let mut shells = std::collections::BTreeMap::new();
    for (name, path) in [("bash", &cli.escalation_bash), ("zsh", &cli.escalation_zsh)] {
        if let Some(path) = path {
            let flag = format!("--escalation-{name}");
            shells.insert(name.to_string(), executable(&flag, path)?);
        }
    }
    let execve_wrapper = match &cli.execve_wrapper {
        Some(path) => Some(executable("--execve-wrapper", path)?),
        None => {
            let next_to_us = std::env::current_exe()
                .ok()
                .and_then(|exe| Some(exe.parent()?.join(EXECVE_WRAPPER_NAME)));
            next_to_us.and_then(|path| executable("--execve-wrapper", &path).ok())
        }
    };
    if !shells.is_empty() && execve_wrapper.is_none() {
        tracing::warn!(
            "no {EXECVE_WRAPPER_NAME} next to this executable and no --execve-wrapper: \
             process/start with escalation is refused"
        );
    }
    if !files.is_empty() {
        tracing::info!(
            "shell escalation rules: {} rules from {} files",
            rules.rules().len(),
            files.len()
        );
    }
    Ok(crate::EscalationConfig {
        shells,
        execve_wrapper,
        rules: std::sync::Arc::new(rules),
        approval_timeout: cli.approval_timeout,
        rules_files: files,
        project_layers,
    })
}

/// The wrapper's file name.
const EXECVE_WRAPPER_NAME: &str = "codex-execve-wrapper";

/// `path` resolved, if it is an executable file.
fn executable(flag: &str, path: &std::path::Path) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let resolved =
        std::fs::canonicalize(path).with_context(|| format!("{flag} {}", path.display()))?;
    let metadata =
        std::fs::metadata(&resolved).with_context(|| format!("{flag} {}", path.display()))?;
    if !metadata.is_file() || metadata.permissions().mode() & 0o111 == 0 {
        anyhow::bail!("{flag} {}: not an executable file", path.display());
    }
    Ok(resolved)
}

/// The administrator's requirements (`/etc/codex/requirements.toml`, and its cloud copy
/// when it names one) as the server's [`PolicyGate`]: a `sandboxPolicy` of a mode they do
/// not allow, or no policy at all (an unconfined command, or `fs/*` without checks: the
/// `danger-full-access` mode) unless they allow that, is refused before anything runs.
/// Requirements that cannot be read, or a fail-closed cloud copy that cannot be had, stop
/// the server from starting.
async fn requirements_gate() -> anyhow::Result<(PolicyGate, Option<TempHome>)> {
    // Only a cloud copy of the requirements uses it (as its cache). Without CODEX_HOME or
    // HOME (a bare service), a fresh private directory serves: no cache survives, so a
    // fail-closed cloud copy must then be fetched at every start.
    let (codex_home, temp_home) = match codex_config::default_codex_home() {
        Ok(home) => (home, None),
        Err(_) => {
            let dir = std::env::temp_dir().join(format!("codex-home-{}", uuid::Uuid::new_v4()));
            std::fs::DirBuilder::new()
                .mode(/*mode*/ 0o700)
                .create(&dir)
                .with_context(|| format!("creating {}", dir.display()))?;
            (dir.clone(), Some(TempHome(dir)))
        }
    };
    let loaded = codex_config::load_requirements(
        std::path::Path::new(codex_config::SYSTEM_CONFIG_DIR),
        &codex_home,
        &codex_config::CloudFetchOptions::default(),
    )
    .await
    .context("loading the requirements; nothing runs until they can be enforced")?;
    for warning in &loaded.warnings {
        tracing::warn!("requirements: {warning}");
    }
    let requirements = loaded.requirements;
    let gate = PolicyGate::new(move |policy| {
        match policy {
            Some(policy) => requirements.check_policy(policy),
            None => requirements.check_mode(codex_config::SandboxMode::DangerFullAccess),
        }
        .map_err(|err| err.to_string())
    });
    Ok((gate, temp_home))
}

/// The private stand-in for `CODEX_HOME` of a server without one, removed when the server
/// ends.
struct TempHome(PathBuf);

impl Drop for TempHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use pretty_assertions::assert_eq;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("soon").is_err());
    }
}
