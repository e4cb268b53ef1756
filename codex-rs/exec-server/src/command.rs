//! [`Command`]: describe a process once, run it in any [`Environment`] (local or remote,
//! the same types), and drive it through the [`Child`] it returns.
//!
//! ```no_run
//! # async fn example() -> Result<(), codex_exec_server::ExecError> {
//! use codex_exec_server::Command;
//! use codex_exec_server::Environment;
//!
//! let env = Environment::from_env().await?;
//! let output = Command::new("git")
//!     .args(["status", "--short"])
//!     .cwd("/work/repo")?
//!     .output(&env)
//!     .await?;
//! println!("{} (exit {})", String::from_utf8_lossy(&output.stdout), output.status);
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;

use crate::child::Child;
use crate::child::Output;
use crate::environment::Environment;
use crate::error::ExecError;
use crate::exec_process::ExecProcess;
use crate::protocol::EscalationParams;
use crate::protocol::OutputMode;
use crate::protocol::ProcessLimits;
use crate::protocol::PtySize;
use crate::protocol::StartParams;

/// The `PATH` a new [`Command`] starts with (the environment is never inherited, since
/// the process may run on another machine).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What happens to a [`Child`] that is dropped before its process finished.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnDrop {
    /// Kill its process group (the default): nothing keeps running unseen.
    #[default]
    Kill,
    /// Leave it running; it can still be reached by id (`ExecProcess::subscribe`, `read`,
    /// `terminate`) while its session lasts.
    Detach,
}

/// A process to run: program, arguments, working directory, environment, terminal,
/// sandbox policy. Build it, then [`Command::spawn`] (or [`Command::output`]) it in an
/// [`Environment`].
#[derive(Clone, Debug)]
pub struct Command {
    program: String,
    args: Vec<String>,
    cwd: Option<AbsolutePathBuf>,
    env: BTreeMap<String, String>,
    pty: Option<PtySize>,
    stdin: bool,
    sandbox: Option<SandboxPolicy>,
    limits: Option<ProcessLimits>,
    output_mode: OutputMode,
    process_id: Option<String>,
    arg0: Option<String>,
    on_drop: OnDrop,
    escalation: Option<EscalationParams>,
}

impl Command {
    /// A command running `program` (looked up in the command's `PATH` when it has no
    /// `/`), with no arguments, `PATH` set to [`DEFAULT_PATH`] and nothing else in its
    /// environment, stdin closed, no terminal, no sandbox policy, lossless output
    /// ([`OutputMode::Pace`]), killed when its [`Child`] is dropped. A working directory
    /// must be set ([`Command::cwd`]): a remote environment has no "current" one.
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            cwd: None,
            env: BTreeMap::from([("PATH".to_string(), DEFAULT_PATH.to_string())]),
            pty: None,
            stdin: false,
            sandbox: None,
            limits: None,
            output_mode: OutputMode::Pace,
            process_id: None,
            arg0: None,
            on_drop: OnDrop::Kill,
            escalation: None,
        }
    }

    /// Add an argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Add arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The working directory, an absolute path on the machine where the process runs
    /// (a relative one is [`ExecError::InvalidParams`]).
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Result<Self, ExecError> {
        let dir = dir.as_ref();
        let absolute = AbsolutePathBuf::try_from_absolute(dir).map_err(|err| {
            ExecError::InvalidParams(format!("working directory `{}`: {err}", dir.display()))
        })?;
        self.cwd = Some(absolute);
        Ok(self)
    }

    /// The working directory, already absolute.
    pub fn current_dir(mut self, dir: AbsolutePathBuf) -> Self {
        self.cwd = Some(dir);
        self
    }

    /// Set an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Set environment variables.
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env
            .extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Remove an environment variable.
    pub fn env_remove(mut self, key: &str) -> Self {
        self.env.remove(key);
        self
    }

    /// Start from an empty environment (no `PATH` either).
    pub fn env_clear(mut self) -> Self {
        self.env.clear();
        self
    }

    /// Run under a pseudo-terminal of `rows` × `cols` (1 to
    /// [`PtySize::MAX_DIMENSION`]); its output is [`ChildEvent::Pty`](crate::ChildEvent::Pty)
    /// and stdin is the terminal.
    pub fn pty(mut self, rows: u16, cols: u16) -> Self {
        self.pty = Some(PtySize { rows, cols });
        self
    }

    /// Give the process a stdin pipe ([`Child::stdin`]); without it stdin is
    /// `/dev/null` (a terminal process always has its terminal).
    pub fn stdin_piped(mut self) -> Self {
        self.stdin = true;
        self
    }

    /// Run confined by `policy` (refused, never run unconfined, where it cannot be
    /// enforced).
    pub fn sandbox(mut self, policy: SandboxPolicy) -> Self {
        self.sandbox = Some(policy);
        self
    }

    /// Resource limits for the process and everything it starts.
    pub fn limits(mut self, limits: ProcessLimits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// What happens to output the caller does not take in time (default
    /// [`OutputMode::Pace`]: nothing is lost, the process waits).
    pub fn output_mode(mut self, mode: OutputMode) -> Self {
        self.output_mode = mode;
        self
    }

    /// The id to start the process under (default: a random one). Ids are unique per
    /// session; a taken one is [`ExecError::DuplicateProcess`].
    pub fn process_id(mut self, id: impl Into<String>) -> Self {
        self.process_id = Some(id.into());
        self
    }

    /// The `argv[0]` the program sees (default: the program as given).
    pub fn arg0(mut self, arg0: impl Into<String>) -> Self {
        self.arg0 = Some(arg0.into());
        self
    }

    /// Run with shell escalation (`process/start`'s `escalation`): the program must be
    /// `bash` or `zsh`, which the server replaces with its patched shell, and a sandbox
    /// policy is required ([`Command::sandbox`]). Every external command the shell runs
    /// is then decided by the server's rules: allowed ones run in the sandbox, `prompt`
    /// ones outside it once the client's approval handler approves
    /// ([`crate::ClientConfig::approval_handler`]), forbidden ones not at all.
    pub fn escalation(mut self) -> Self {
        self.escalation = Some(EscalationParams::default());
        self
    }

    /// What dropping the [`Child`] before the process finished does (default
    /// [`OnDrop::Kill`]).
    pub fn on_drop(mut self, on_drop: OnDrop) -> Self {
        self.on_drop = on_drop;
        self
    }

    /// The `process/start` params this command stands for.
    pub fn to_start_params(&self) -> Result<StartParams, ExecError> {
        let cwd = self.cwd.as_ref().ok_or_else(|| {
            ExecError::InvalidParams(
                "no working directory: set one with Command::cwd (a remote environment has \
                 no current directory to default to)"
                    .to_string(),
            )
        })?;
        let mut argv = Vec::with_capacity(self.args.len() + 1);
        argv.push(self.program.clone());
        argv.extend(self.args.iter().cloned());
        Ok(StartParams {
            process_id: self
                .process_id
                .clone()
                .unwrap_or_else(|| format!("proc-{}", uuid::Uuid::new_v4().simple())),
            argv,
            cwd: cwd.clone(),
            env: self.env.clone(),
            tty: self.pty.is_some(),
            pty_size: self.pty,
            pipe_stdin: self.stdin && self.pty.is_none(),
            arg0: self.arg0.clone(),
            sandbox_policy: self.sandbox.clone(),
            limits: self.limits,
            output_mode: self.output_mode,
            escalation: self.escalation.clone(),
        })
    }

    /// Start the process in `env`.
    pub async fn spawn(&self, env: &Environment) -> Result<Child, ExecError> {
        let exec: Arc<dyn ExecProcess> = Arc::new(env.exec()?.clone());
        self.spawn_on(exec).await
    }

    /// Start the process on any backend.
    pub async fn spawn_on(&self, exec: Arc<dyn ExecProcess>) -> Result<Child, ExecError> {
        let params = self.to_start_params()?;
        let tty = params.tty;
        let (response, stream) = exec.start_streaming(params).await?;
        Ok(Child::new(
            response.process_id,
            exec,
            stream,
            tty,
            self.on_drop,
        ))
    }

    /// Run the process in `env` to the end and collect its output.
    pub async fn output(&self, env: &Environment) -> Result<Output, ExecError> {
        self.spawn(env).await?.output().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_command_without_a_working_directory_is_invalid_params() {
        let err = Command::new("true").to_start_params().unwrap_err();
        assert!(matches!(err, ExecError::InvalidParams(_)), "{err:?}");
        let err = Command::new("true").cwd("relative").unwrap_err();
        assert!(matches!(err, ExecError::InvalidParams(_)), "{err:?}");
    }

    #[test]
    fn the_builder_fills_every_field() {
        let params = Command::new("sh")
            .args(["-c", "exit 0"])
            .cwd("/tmp")
            .unwrap()
            .env("A", "1")
            .env_remove("PATH")
            .pty(/*rows*/ 30, /*cols*/ 100)
            .process_id("p1")
            .arg0("-sh")
            .to_start_params()
            .unwrap();
        assert_eq!(
            params,
            StartParams {
                process_id: "p1".to_string(),
                argv: vec!["sh".to_string(), "-c".to_string(), "exit 0".to_string()],
                cwd: AbsolutePathBuf::try_from_absolute("/tmp").unwrap(),
                env: BTreeMap::from([("A".to_string(), "1".to_string())]),
                tty: true,
                pty_size: Some(PtySize {
                    rows: 30,
                    cols: 100
                }),
                pipe_stdin: false,
                arg0: Some("-sh".to_string()),
                sandbox_policy: None,
                limits: None,
                output_mode: OutputMode::Pace,
                escalation: None,
            }
        );
    }

    #[test]
    fn generated_ids_differ() {
        let command = Command::new("true").cwd("/").unwrap();
        let a = command.to_start_params().unwrap().process_id;
        let b = command.to_start_params().unwrap().process_id;
        assert_ne!(a, b);
    }
}
