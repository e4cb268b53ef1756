//! Shell escalation on Linux: each session's policy and what one escalated start needs.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use codex_shell_escalation::Approval;
use codex_shell_escalation::Approver;
use codex_shell_escalation::BoxFuture;
use codex_shell_escalation::EscalatedEnv;
use codex_shell_escalation::EscalationDecision;
use codex_shell_escalation::EscalationPolicy;
use codex_shell_escalation::EscalationPolicyFactory;
use codex_shell_escalation::EscalationServer;
use codex_shell_escalation::ExecRequest;
use codex_shell_escalation::RuleDecision;
use codex_shell_escalation::RulesPolicy;
use codex_shell_escalation::ServerOptions;
use codex_shell_escalation::ShellSide;
use codex_shell_escalation::protocol::EXECVE_WRAPPER_NAME;
use codex_utils_absolute_path::AbsolutePathBuf;

use super::AskClient;
use super::ESCALATION_SHELLS;
use super::EscalationConfig;
use crate::error::ExecError;
use crate::protocol::ApprovalDecision;
use crate::protocol::ApprovalKind;
use crate::protocol::ApprovalRequest;
use crate::protocol::StartParams;

/// What the approver of a session's policy needs to know about the exec it is asked
/// about, besides the request: the process, and whom to ask.
#[derive(Clone)]
struct ProcessContext {
    process_id: String,
    client: Option<Arc<dyn AskClient>>,
    /// The rules for its cwd (the server's, and its trusted project's).
    rules: Arc<codex_execpolicy::Policy>,
}

tokio::task_local! {
    /// Set while a [`ProcessPolicy`] decides: the session's policy is shared by every
    /// process of the session, and its approver reads here which one asks.
    static PROCESS: ProcessContext;
}

/// The policy factory on `codex-execpolicy` rules: each session gets its own
/// [`RulesPolicy`] (what it approves for the session stays in that session), evaluating
/// the rules of the process that asks ([`PROCESS`]; `rules` outside one) with basename
/// resolution (`/usr/bin/git` matches the rules for `git`) and asking the session's
/// client about `prompt` commands.
fn rules_policy_factory(rules: Arc<codex_execpolicy::Policy>) -> impl EscalationPolicyFactory {
    move |_session_id: &str| -> Arc<dyn EscalationPolicy> {
        let rules = Arc::clone(&rules);
        let evaluate = move |argv: &[String]| {
            let process_rules = PROCESS.try_with(|context| Arc::clone(&context.rules));
            rule_decision(process_rules.as_deref().unwrap_or(&rules), argv)
        };
        Arc::new(RulesPolicy::new(evaluate, ClientApprover))
    }
}

/// What the rules say about `argv`: the strictest matching rule's decision, with the
/// justification of the first matching rule of that decision that has one.
pub(super) fn rule_decision(
    rules: &codex_execpolicy::Policy,
    argv: &[String],
) -> Option<RuleDecision> {
    use codex_execpolicy::Decision;
    use codex_execpolicy::RuleMatch;

    let options = codex_execpolicy::MatchOptions {
        resolve_host_executables: true,
    };
    let evaluation = rules.evaluate(argv, &options);
    let decision = evaluation.decision?;
    let justification = evaluation.matched_rules.iter().find_map(|rule| match rule {
        RuleMatch::PrefixRuleMatch {
            decision: matched,
            justification,
            ..
        } if *matched == decision => justification.clone(),
        RuleMatch::PrefixRuleMatch { .. } => None,
    });
    Some(match decision {
        Decision::Allow => RuleDecision::Allow,
        Decision::Prompt => RuleDecision::Prompt { justification },
        Decision::Forbidden => RuleDecision::Forbidden { justification },
    })
}

/// The approver of the sessions' policies: asks the client of the process that is
/// deciding ([`PROCESS`]); without one, denies.
struct ClientApprover;

impl Approver for ClientApprover {
    fn approve<'a>(
        &'a self,
        request: &'a ExecRequest,
        justification: Option<&'a str>,
    ) -> BoxFuture<'a, Approval> {
        let client = PROCESS
            .try_with(|context| {
                context
                    .client
                    .clone()
                    .map(|client| (client, context.process_id.clone()))
            })
            .ok()
            .flatten();
        let Some((client, process_id)) = client else {
            return Box::pin(async { Approval::Deny });
        };
        let request = ApprovalRequest {
            approval_id: uuid::Uuid::new_v4().to_string(),
            kind: ApprovalKind::Exec,
            process_id,
            program: request.file.to_string_lossy().into_owned(),
            argv: request.argv.clone(),
            cwd: request.cwd.to_string_lossy().into_owned(),
            justification: justification.map(str::to_string),
            // Filled in by the session's `AskClient`, which knows the timeout.
            timeout_ms: None,
        };
        Box::pin(async move {
            match client.ask(request).await {
                ApprovalDecision::Approve => Approval::Approve,
                ApprovalDecision::ApproveForSession => Approval::ApproveForSession,
                ApprovalDecision::Deny => Approval::Deny,
            }
        })
    }
}

/// The session's policy, deciding for one of its processes (whose id the approver reads).
struct ProcessPolicy {
    session: Arc<dyn EscalationPolicy>,
    context: ProcessContext,
}

impl EscalationPolicy for ProcessPolicy {
    fn decide(&self, request: ExecRequest) -> BoxFuture<'_, EscalationDecision> {
        Box::pin(PROCESS.scope(self.context.clone(), self.session.decide(request)))
    }
}

/// Shell escalation for the processes of one session: the server's settings, the
/// session's policy, and its client.
pub(crate) struct SessionEscalation {
    config: EscalationConfig,
    policy: Arc<dyn EscalationPolicy>,
    client: Option<Arc<dyn AskClient>>,
}

impl SessionEscalation {
    /// The escalation of session `session_id`, whose client `client` is asked.
    pub(crate) fn new(
        config: &EscalationConfig,
        session_id: &str,
        client: Option<Arc<dyn AskClient>>,
    ) -> Self {
        let factory = rules_policy_factory(Arc::clone(&config.rules));
        Self {
            policy: factory.for_session(session_id),
            config: config.clone(),
            client,
        }
    }
}

/// An escalated start, prepared: what the launch adds to the spawn.
pub(crate) struct PreparedEscalation {
    /// Decides the shell's execs until dropped (then kills what it runs escalated).
    server: EscalationServer,
    /// The shell's end of the escalation socket (this process's copy, closed once the
    /// shell is spawned).
    shell_side: ShellSide,
    /// Under bubblewrap: the shell and the wrapper to show in the sandbox.
    pub(crate) binds: Option<SandboxBinds>,
}

/// What a bubblewrap sandbox must show of an escalated start: the shell and the
/// wrapper, bound read-only at `codex_linux_sandbox::ARG0_DIR/NAME` whatever the policy
/// lets the command read, the shell running from there.
#[derive(Clone, Debug)]
pub(crate) struct SandboxBinds {
    /// The programs to bind (name, host path).
    pub(crate) programs: Vec<(OsString, AbsolutePathBuf)>,
    /// The shell's path inside the sandbox.
    pub(crate) shell: OsString,
}

impl PreparedEscalation {
    /// The descriptor the shell must inherit (under this number).
    pub(crate) fn fd(&self) -> RawFd {
        self.shell_side.raw_fd()
    }

    /// The spawn happened (or failed): close this process's copy of the shell's end.
    /// What is left decides until it is dropped, when the process was reaped.
    pub(crate) fn spawned(self) -> EscalationServer {
        drop(self.shell_side);
        self.server
    }
}

impl std::fmt::Debug for PreparedEscalation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedEscalation")
            .field("fd", &self.fd())
            .field("binds", &self.binds)
            .finish_non_exhaustive()
    }
}

/// The environment an escalated program gets: the client's `env`, plus the few terminal
/// variables of the shell ([`super::ESCALATED_ENV_FROM_SHELL`]).
fn escalated_env(client_env: &BTreeMap<String, String>) -> EscalatedEnv {
    EscalatedEnv {
        keep: super::ESCALATED_ENV_FROM_SHELL
            .iter()
            .map(ToString::to_string)
            .collect(),
        keep_prefixes: Vec::new(),
        set: client_env.clone(),
    }
}

/// `params` as the launch runs them, and the escalation that goes with them; `params`
/// unchanged when it asks for no escalation. With `escalation`: `argv[0]` (`bash` or
/// `zsh`) becomes the configured patched shell, and the environment gets
/// `CODEX_ESCALATE_SOCKET` and `EXEC_WRAPPER` (the wrapper's path as the shell sees it).
///
/// Refused before anything runs: without a `sandboxPolicy`, with `arg0`, or with another
/// `argv[0]` (`-32602`); by a server without that shell or without the wrapper
/// (`escalationUnavailable`).
pub(crate) async fn prepare(
    mut params: StartParams,
    session: Option<&SessionEscalation>,
) -> Result<(StartParams, Option<PreparedEscalation>), ExecError> {
    if params.escalation.is_none() {
        return Ok((params, None));
    }
    let Some(policy) = params.sandbox_policy.as_ref() else {
        return Err(ExecError::InvalidParams(
            "`escalation` needs a `sandboxPolicy`: escalation runs approved commands outside \
             the sandbox that the policy sets up"
                .to_string(),
        ));
    };
    if let Some(arg0) = &params.arg0 {
        return Err(ExecError::InvalidParams(format!(
            "`arg0` (`{arg0}`) cannot be combined with `escalation`: the server runs its \
             patched shell under its own name"
        )));
    }
    let name = params.argv[0].clone();
    if !ESCALATION_SHELLS.contains(&name.as_str()) {
        return Err(ExecError::InvalidParams(format!(
            "with `escalation`, `argv[0]` must be `bash` or `zsh` (the server's patched shell \
             of that name), not `{name}`"
        )));
    }
    let Some(session) = session else {
        return Err(ExecError::EscalationUnavailable(
            "this backend has no shell escalation (an exec-server started with \
             --escalation-bash or --escalation-zsh has)"
                .to_string(),
        ));
    };
    let Some(shell) = session.config.shells.get(&name) else {
        return Err(ExecError::EscalationUnavailable(format!(
            "this server has no patched `{name}` (--escalation-{name})"
        )));
    };
    let Some(wrapper) = &session.config.execve_wrapper else {
        return Err(ExecError::EscalationUnavailable(format!(
            "this server has no {EXECVE_WRAPPER_NAME} (--execve-wrapper)"
        )));
    };
    let in_bubblewrap = matches!(
        codex_sandboxing::sandbox_type_for_platform(policy),
        Ok(codex_sandboxing::SandboxType::LinuxBubblewrap)
    );
    let absolute = |path: &PathBuf| {
        AbsolutePathBuf::try_from_absolute(path).map_err(|_| {
            ExecError::EscalationUnavailable(format!(
                "`{}` is not an absolute path",
                path.display()
            ))
        })
    };
    let in_sandbox = Path::new(codex_linux_sandbox::ARG0_DIR);
    let (binds, wrapper_for_shell) = if in_bubblewrap {
        let binds = SandboxBinds {
            programs: vec![
                (OsString::from(&name), absolute(shell)?),
                (OsString::from(EXECVE_WRAPPER_NAME), absolute(wrapper)?),
            ],
            shell: in_sandbox.join(&name).into_os_string(),
        };
        (Some(binds), in_sandbox.join(EXECVE_WRAPPER_NAME))
    } else {
        (None, wrapper.clone())
    };
    let rules = session.config.rules_for(params.cwd.as_path()).await?;
    let policy = Arc::new(ProcessPolicy {
        session: Arc::clone(&session.policy),
        context: ProcessContext {
            process_id: params.process_id.clone(),
            client: session.client.clone(),
            rules,
        },
    });
    let options = ServerOptions {
        escalated_env: escalated_env(&params.env),
        ..ServerOptions::new(wrapper_for_shell)
    };
    let (server, shell_side) = EscalationServer::start_with(policy, options)
        .map_err(|err| ExecError::EscalationUnavailable(err.to_string()))?;
    params.argv[0] = shell.to_string_lossy().into_owned();
    for (variable, value) in shell_side.env() {
        params
            .env
            .insert(variable.to_string(), value.to_string_lossy().into_owned());
    }
    Ok((
        params,
        Some(PreparedEscalation {
            server,
            shell_side,
            binds,
        }),
    ))
}
