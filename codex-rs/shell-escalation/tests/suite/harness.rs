//! A server with a stub policy, and the real `codex-execve-wrapper` run against it as
//! the caller or as `nobody` (who then runs a world-readable copy of the binary, from a
//! directory it owns).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::Path;
use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;
use std::sync::Mutex;

use codex_shell_escalation::BoxFuture;
use codex_shell_escalation::EscalationDecision;
use codex_shell_escalation::EscalationPolicy;
use codex_shell_escalation::EscalationServer;
use codex_shell_escalation::ExecRequest;
use codex_shell_escalation::Limits;
use codex_shell_escalation::ServerOptions;
use codex_shell_escalation::ShellSide;
use codex_utils_test_support::InstalledCopy;
use codex_utils_test_support::UserDir;
use codex_utils_test_support::Who;

/// The wrapper as built.
pub fn wrapper_bin() -> PathBuf {
    codex_utils_cargo_bin::cargo_bin("codex-execve-wrapper").expect("codex-execve-wrapper binary")
}

type Decide = dyn Fn(&ExecRequest) -> BoxFuture<'static, EscalationDecision> + Send + Sync;

/// A policy that records every request and answers with `decide`.
pub struct StubPolicy {
    decide: Box<Decide>,
    pub requests: Mutex<Vec<ExecRequest>>,
}

impl StubPolicy {
    /// Always `decision`.
    pub fn always(decision: EscalationDecision) -> Arc<Self> {
        Self::with(move |_| {
            let decision = decision.clone();
            Box::pin(async move { decision })
        })
    }

    /// Whatever `decide` says.
    pub fn with(
        decide: impl Fn(&ExecRequest) -> BoxFuture<'static, EscalationDecision> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            decide: Box::new(decide),
            requests: Mutex::new(Vec::new()),
        })
    }

    /// The requests decided so far.
    pub fn requests(&self) -> Vec<ExecRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// How many times each argv was decided.
    pub fn counts(&self) -> HashMap<Vec<String>, usize> {
        let mut counts = HashMap::new();
        for request in self.requests() {
            *counts.entry(request.argv).or_insert(/*default*/ 0) += 1;
        }
        counts
    }
}

impl EscalationPolicy for StubPolicy {
    fn decide(&self, request: ExecRequest) -> BoxFuture<'_, EscalationDecision> {
        let decision = (self.decide)(&request);
        self.requests.lock().unwrap().push(request);
        decision
    }
}

/// A started server, the shell's side of it, and a user (with a directory of theirs)
/// to run the wrapper as.
pub struct Session {
    pub server: Option<EscalationServer>,
    pub shell: ShellSide,
    pub policy: Arc<StubPolicy>,
    pub who: Who,
    pub dir: UserDir,
    wrapper: PathBuf,
    _copy: Option<InstalledCopy>,
}

impl Session {
    /// A session of `who` deciding with `policy`, default limits.
    pub fn start(who: Who, policy: Arc<StubPolicy>) -> Session {
        Self::start_with(who, policy, Limits::default())
    }

    /// A session of `who` deciding with `policy` under `limits`.
    pub fn start_with(who: Who, policy: Arc<StubPolicy>, limits: Limits) -> Session {
        let (wrapper, copy) = match who {
            Who::Caller => (wrapper_bin(), None),
            Who::Nobody => {
                let copy = codex_utils_test_support::installed_copy(&wrapper_bin());
                (copy.path.clone(), Some(copy))
            }
        };
        let mut options = ServerOptions::new(&wrapper);
        options.limits = limits;
        // Escalated programs keep `FOO` of the wrapper's environment (nothing else: see
        // `EscalatedEnv`), and get a `PATH` of the host.
        options.escalated_env.keep = vec!["FOO".to_string()];
        options.escalated_env.set =
            std::collections::BTreeMap::from([("PATH".to_string(), "/usr/bin:/bin".to_string())]);
        let (server, shell) =
            EscalationServer::start_with(Arc::clone(&policy) as Arc<dyn EscalationPolicy>, options)
                .expect("start the escalation server");
        Session {
            server: Some(server),
            shell,
            policy,
            who,
            dir: who.dir(),
            wrapper,
            _copy: copy,
        }
    }

    /// The wrapper this session's user runs.
    pub fn wrapper(&self) -> &Path {
        &self.wrapper
    }

    /// `codex-execve-wrapper FILE ARGV...` as the session's user, in its directory,
    /// with the escalation socket inherited and the environment set as for a shell.
    pub fn wrapper_command<S: AsRef<OsStr>>(
        &self,
        file: impl AsRef<OsStr>,
        argv: &[S],
    ) -> std::process::Command {
        let mut command = self.who.command(&self.wrapper);
        command.arg(file).args(argv).current_dir(self.dir.root());
        self.shell.configure(&mut command);
        command
    }

    /// Runs the wrapper (see [`Session::wrapper_command`]) with stdin from `/dev/null`.
    pub async fn run<S: AsRef<OsStr>>(&self, file: impl AsRef<OsStr>, argv: &[S]) -> Output {
        output(self.wrapper_command(file, argv)).await
    }

    /// `sh -c script` through the wrapper.
    pub async fn sh(&self, script: &str) -> Output {
        self.run("/bin/sh", &["sh", "-c", script]).await
    }
}

/// Runs `command` to completion on the runtime (so the server keeps serving meanwhile).
pub async fn output(command: std::process::Command) -> Output {
    let mut command = tokio::process::Command::from(command);
    command.stdin(std::process::Stdio::null());
    tokio::time::timeout(std::time::Duration::from_secs(60), command.output())
        .await
        .expect("the wrapper finished within 60 s")
        .expect("run the wrapper")
}

/// stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The exit code (panics on a signal).
pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or_else(|| {
        panic!(
            "killed by a signal: {:?}; stderr: {}",
            output.status,
            stderr(output)
        )
    })
}
