//! Shell escalation end to end: a real exec-server with `--rules`, the pinned patched bash
//! and zsh (`bash-wrapped`, `zsh-wrapped` beside this file) and the real
//! `codex-execve-wrapper`, driven through the library client, whose approval handler
//! answers the server's `approval/request`s. Every command runs under `workspaceWrite`
//! with the test's directory as the only writable root (`/tmp` and `$TMPDIR` excluded),
//! so a file written in `outside` shows that a program ran outside the sandbox.

use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::OnceLock;

use codex_exec_server::ApprovalHandler;
use codex_exec_server::ClientConfig;
use codex_exec_server::Command;
use codex_exec_server::Environment;
use codex_exec_server::ExecError;
use codex_exec_server::Output;
use codex_exec_server::protocol::ApprovalDecision;
use codex_exec_server::protocol::ApprovalKind;
use codex_exec_server::protocol::ApprovalRequest;
use codex_protocol::ReadOnlyAccess;
use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;
use codex_utils_test_support::InstalledCopy;
use codex_utils_test_support::UserDir;
use codex_utils_test_support::Who;
use codex_utils_test_support::both_users;
use codex_utils_test_support::installed_copy;
use pretty_assertions::assert_eq;

use super::harness::EVENT_TIMEOUT;
use super::harness::TestServer;
use super::harness::child_env;
use super::harness::cwd;
use super::harness::pinned_shell;
use super::users::UserServer;
use super::users::server_with;

/// The rules of every test: `touch`, `ls` and `env` need approval, `rm` is forbidden, `tee` is
/// allowed; anything else matches nothing (and runs in the sandbox).
const RULES: &str = r#"
prefix_rule(pattern = ["touch"], decision = "prompt", justification = "touch may write anywhere")
prefix_rule(pattern = ["ls"], decision = "prompt")
prefix_rule(pattern = ["rm"], decision = "forbidden", justification = "nothing is deleted here")
prefix_rule(pattern = ["tee"], decision = "allow")
prefix_rule(pattern = ["env"], decision = "prompt")
"#;

const SHELLS: [&str; 2] = ["bash", "zsh"];

// With the server as the caller (root on CI) and as `nobody`.
both_users!(async
    allowed_and_unmatched_commands_run_in_the_sandbox,
    an_approved_prompt_command_runs_outside_the_sandbox,
    a_missing_or_forged_socket_makes_the_wrapper_refuse,
);

/// The wrapper binary: `CARGO_BIN_EXE_codex-execve-wrapper` under Bazel (the crate's
/// `test_bins`); under Cargo, built from its own package when it is not there yet.
fn execve_wrapper() -> &'static str {
    static WRAPPER: OnceLock<String> = OnceLock::new();
    WRAPPER.get_or_init(|| {
        codex_utils_cargo_bin::cargo_bin_of_package(
            "codex-execve-wrapper",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../shell-escalation"),
        )
        .unwrap_or_else(|err| panic!("{err}"))
        .to_string_lossy()
        .into_owned()
    })
}

/// A server with shell escalation, and the directories of a test.
struct Setup {
    server: UserServer,
    /// The only writable root, and the commands' working directory.
    work: UserDir,
    /// A directory the sandbox cannot write.
    outside: UserDir,
    _rules: UserDir,
    /// For `nobody`: world-readable copies of the shells and the wrapper.
    _copies: Vec<InstalledCopy>,
}

impl Setup {
    fn start() -> Self {
        Self::start_with(&[])
    }

    fn start_with(extra_args: &[&str]) -> Self {
        Self::start_as(Who::Caller, extra_args, &[]).expect("the caller")
    }

    fn start_with_env(extra_args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_as(Who::Caller, extra_args, env).expect("the caller")
    }

    /// The server run by `who` (`None` when that user cannot be had here). For
    /// `nobody`, the shells and the wrapper are world-readable copies (the build's and
    /// DotSlash's directories are under `/root`).
    fn start_as(who: Who, extra_args: &[&str], env: &[(&str, &str)]) -> Option<Self> {
        if !who.available() {
            eprintln!("not run: switching to nobody needs root");
            return None;
        }
        let rules = who.dir();
        let rules_file = rules.root().join("test.rules");
        std::fs::write(&rules_file, RULES).unwrap();
        let mut programs = [
            PathBuf::from(pinned_shell("bash-wrapped")),
            PathBuf::from(pinned_shell("zsh-wrapped")),
            PathBuf::from(execve_wrapper()),
        ];
        let mut copies = Vec::new();
        if who == Who::Nobody {
            for program in &mut programs {
                let copy = installed_copy(program);
                *program = copy.path.clone();
                copies.push(copy);
            }
        }
        let [bash, zsh, wrapper] = programs.map(|path| path.to_str().unwrap().to_string());
        let mut args = vec![
            "--rules",
            rules_file.to_str().unwrap(),
            "--escalation-bash",
            &bash,
            "--escalation-zsh",
            &zsh,
            "--execve-wrapper",
            &wrapper,
        ];
        args.extend_from_slice(extra_args);
        Some(Setup {
            server: server_with(who, &args, env)?,
            work: who.dir(),
            outside: who.dir(),
            _rules: rules,
            _copies: copies,
        })
    }

    /// A new session (client) whose approvals `answer` decides.
    async fn session(&self, approver: &Approver) -> Environment {
        let mut config = ClientConfig::new(self.server.url.clone());
        config.approval_handler = Some(approver.handler());
        Environment::remote(config).await.unwrap()
    }

    fn outside(&self, name: &str) -> PathBuf {
        self.outside.root().join(name)
    }

    fn policy(&self) -> SandboxPolicy {
        SandboxPolicy::WorkspaceWrite {
            writable_roots: vec![AbsolutePathBuf::try_from_absolute(self.work.root()).unwrap()],
            read_only_access: ReadOnlyAccess::FullAccess,
            network_access: false,
            exclude_tmpdir_env_var: true,
            exclude_slash_tmp: true,
        }
    }

    /// `shell -c script`, escalated, to its end.
    async fn run(&self, env: &Environment, shell: &str, script: &str) -> Output {
        self.run_in(env, shell, script, self.work.root()).await
    }

    /// [`Setup::run`] in `cwd`.
    async fn run_in(&self, env: &Environment, shell: &str, script: &str, cwd: &Path) -> Output {
        let command = Command::new(shell)
            .args(["-c", script])
            .cwd(cwd)
            .unwrap()
            .envs(child_env())
            .env("OUT", self.outside.root().to_str().unwrap())
            .sandbox(self.policy())
            .escalation();
        let run = async { command.spawn(env).await?.output().await };
        tokio::time::timeout(EVENT_TIMEOUT, run)
            .await
            .unwrap_or_else(|_| panic!("{shell} -c {script:?} took longer than {EVENT_TIMEOUT:?}"))
            .unwrap_or_else(|err| panic!("{shell} -c {script:?}: {err}"))
    }
}

/// A client's approval handler: answers with `decide` and records what it was asked.
#[derive(Clone)]
struct Approver {
    asked: Arc<Mutex<Vec<ApprovalRequest>>>,
    decide: Arc<dyn Fn(&ApprovalRequest) -> ApprovalDecision + Send + Sync>,
}

impl Approver {
    fn always(decision: ApprovalDecision) -> Self {
        Self::with(move |_| decision)
    }

    fn with(decide: impl Fn(&ApprovalRequest) -> ApprovalDecision + Send + Sync + 'static) -> Self {
        Self {
            asked: Arc::default(),
            decide: Arc::new(decide),
        }
    }

    fn handler(&self) -> ApprovalHandler {
        let approver = self.clone();
        Arc::new(move |request: ApprovalRequest| {
            let decision = (approver.decide)(&request);
            approver.asked.lock().unwrap().push(request);
            Box::pin(async move { decision })
        })
    }

    /// The argv of every request so far, sorted.
    fn asked_argv(&self) -> Vec<Vec<String>> {
        let mut argv: Vec<Vec<String>> = self
            .asked
            .lock()
            .unwrap()
            .iter()
            .map(|request| request.argv.clone())
            .collect();
        argv.sort();
        argv
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path_str(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}

/// A command no rule matches, and an allowed one, run in the sandbox: a write outside the
/// roots fails, one inside works, and nobody is asked.
async fn allowed_and_unmatched_commands_run_in_the_sandbox(who: Who) {
    let Some(setup) = Setup::start_as(who, &[], &[]) else {
        return;
    };
    let approver = Approver::always(ApprovalDecision::Approve);
    let env = setup.session(&approver).await;
    for shell in SHELLS {
        let script = format!(
            "echo in | tee {shell}-inside >/dev/null && echo inside ok; \
             echo out | tee \"$OUT/{shell}-tee\" >/dev/null 2>&1 || echo tee refused; \
             cp {shell}-inside \"$OUT/{shell}-cp\" 2>/dev/null || echo cp refused"
        );
        let output = setup.run(&env, shell, &script).await;
        assert_eq!(
            (shell, text(&output.stdout), output.status.code()),
            (shell, "inside ok\ntee refused\ncp refused\n".to_string(), 0)
        );
        assert!(setup.work.root().join(format!("{shell}-inside")).exists());
        assert!(!setup.outside(&format!("{shell}-tee")).exists());
        assert!(!setup.outside(&format!("{shell}-cp")).exists());
    }
    assert_eq!(approver.asked_argv(), Vec::<Vec<String>>::new());
}

/// An approved `prompt` command runs outside the sandbox: its file exists outside the
/// roots, its output arrives in order on the same stream, its exit status reaches the
/// shell, and the request names the process, the program, its argv, cwd and the rule's
/// justification.
async fn an_approved_prompt_command_runs_outside_the_sandbox(who: Who) {
    let Some(setup) = Setup::start_as(who, &[], &[]) else {
        return;
    };
    let approver = Approver::always(ApprovalDecision::Approve);
    let env = setup.session(&approver).await;
    for shell in SHELLS {
        let made = setup.outside(&format!("{shell}-made"));
        let script = format!(
            "echo one; touch \"$OUT/{shell}-made\" && echo two; \
             ls -d \"$OUT\"; ls /no/such/path 2>/dev/null; echo \"ls status $?\"; echo three"
        );
        let output = setup.run(&env, shell, &script).await;
        assert_eq!(
            (shell, text(&output.stdout), output.status.code()),
            (
                shell,
                format!(
                    "one\ntwo\n{}\nls status 2\nthree\n",
                    setup.outside.root().display()
                ),
                0
            )
        );
        assert!(made.exists(), "{shell}: touch did not run outside");
    }
    let asked = approver.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 6, "{asked:#?}");
    let first = &asked[0];
    assert_eq!(
        (
            first.kind,
            first.program.as_str(),
            first.argv.clone(),
            first.cwd.clone(),
            first.justification.as_deref(),
        ),
        (
            ApprovalKind::Exec,
            "/usr/bin/touch",
            vec!["touch".to_string(), path_str(&setup.outside("bash-made"))],
            path_str(setup.work.root()),
            Some("touch may write anywhere"),
        )
    );
    assert!(!first.process_id.is_empty());
    assert!(!first.approval_id.is_empty());
    let ids: std::collections::BTreeSet<&str> = asked
        .iter()
        .map(|request| request.approval_id.as_str())
        .collect();
    assert_eq!(ids.len(), asked.len(), "approval ids are unique");
}

/// A denied `prompt` command and a forbidden one do not run; the shell sees them fail
/// with their message, and a forbidden one asks nobody.
#[tokio::test]
async fn denied_and_forbidden_commands_fail_with_their_message() {
    let setup = Setup::start();
    let approver = Approver::always(ApprovalDecision::Deny);
    let env = setup.session(&approver).await;
    for shell in SHELLS {
        std::fs::write(setup.work.root().join("keep"), "kept").unwrap();
        let script = format!(
            "touch \"$OUT/{shell}-denied\"; echo \"touch status $?\"; \
             rm keep; echo \"rm status $?\""
        );
        let output = setup.run(&env, shell, &script).await;
        assert_eq!(
            (shell, text(&output.stdout)),
            (shell, "touch status 126\nrm status 126\n".to_string())
        );
        let stderr = text(&output.stderr);
        assert!(stderr.contains("was not approved"), "{shell}: {stderr}");
        assert!(
            stderr.contains("nothing is deleted here"),
            "{shell}: {stderr}"
        );
        assert!(!setup.outside(&format!("{shell}-denied")).exists());
        assert!(setup.work.root().join("keep").exists());
    }
    assert_eq!(
        approver.asked_argv(),
        SHELLS
            .iter()
            .map(|shell| vec![
                "touch".to_string(),
                path_str(&setup.outside(&format!("{shell}-denied")))
            ])
            .collect::<Vec<_>>()
    );
}

/// Commands in a pipeline, a subshell, a command substitution and a script the shell
/// sources all go through the wrapper.
#[tokio::test]
async fn pipelines_subshells_substitutions_and_sourced_scripts_are_intercepted() {
    let setup = Setup::start();
    let approver = Approver::always(ApprovalDecision::Approve);
    let env = setup.session(&approver).await;
    std::fs::write(
        setup.work.root().join("lib.sh"),
        "touch \"$OUT/$1-sourced\"\n",
    )
    .unwrap();
    for shell in SHELLS {
        let script = format!(
            "echo x | touch \"$OUT/{shell}-pipeline\"; \
             (touch \"$OUT/{shell}-subshell\"); \
             v=$(touch \"$OUT/{shell}-substitution\"; echo done); echo $v; \
             set -- {shell}; . ./lib.sh"
        );
        let output = setup.run(&env, shell, &script).await;
        assert_eq!(
            (shell, text(&output.stdout), output.status.code()),
            (shell, "done\n".to_string(), 0)
        );
        for place in ["pipeline", "subshell", "substitution", "sourced"] {
            assert!(
                setup.outside(&format!("{shell}-{place}")).exists(),
                "{shell}: the {place} touch was not escalated"
            );
        }
    }
    assert_eq!(approver.asked_argv().len(), 8);
}

/// `approveForSession` covers the same command again in that session only: a new
/// session is asked again.
#[tokio::test]
async fn approve_for_session_is_remembered_for_that_session_only() {
    let setup = Setup::start();
    let first = Approver::always(ApprovalDecision::ApproveForSession);
    let env = setup.session(&first).await;
    let script = "touch \"$OUT/again\"; touch \"$OUT/again\"; echo ok";
    for shell in SHELLS {
        let output = setup.run(&env, shell, script).await;
        assert_eq!((shell, text(&output.stdout)), (shell, "ok\n".to_string()));
    }
    // Asked once: the second touch, and the other shell's, were approved for the session.
    assert_eq!(first.asked_argv().len(), 1);

    let second = Approver::always(ApprovalDecision::Approve);
    let other = setup.session(&second).await;
    let output = setup.run(&other, "bash", script).await;
    assert_eq!(text(&output.stdout), "ok\n");
    assert_eq!(second.asked_argv().len(), 2);
    assert_eq!(first.asked_argv().len(), 1);
}

/// An escalated program takes nothing from the shell's environment, which code in the
/// sandbox writes, but the terminal variables (with a value that names no path): its
/// environment is the client's `env`.
#[tokio::test]
async fn an_escalated_program_gets_the_clients_environment_not_the_sandboxs() {
    let setup = Setup::start();
    let approver = Approver::always(ApprovalDecision::Approve);
    let env = setup.session(&approver).await;
    for shell in SHELLS {
        let script = "export PATH=/planted:$PATH LD_PRELOAD=/planted.so BASH_ENV=/planted.sh \
                      GIT_SSH_COMMAND=planted BASH_FUNC_x=planted OPENSSL_CONF=x.cnf \
                      FROM_SHELL=dropped TERM=dumb COLORTERM=/planted; /usr/bin/env";
        let output = setup.run(&env, shell, script).await;
        let mut seen: Vec<String> = text(&output.stdout)
            .lines()
            .filter(|line| {
                // What the shells set themselves (zsh exports an empty `LOGNAME`).
                let name = line.split('=').next().unwrap_or_default();
                !["PWD", "OLDPWD", "SHLVL", "_", "LOGNAME"].contains(&name)
            })
            .map(str::to_string)
            .collect();
        seen.sort();
        assert_eq!(
            (shell, seen),
            (
                shell,
                vec![
                    format!("OUT={}", setup.outside.root().display()),
                    "PATH=/usr/bin:/bin".to_string(),
                    "TERM=dumb".to_string(),
                ]
            ),
            "{}",
            text(&output.stderr)
        );
    }
    assert_eq!(approver.asked_argv().len(), 2);
}

/// A command whose shell closed the escalation socket, or pointed the wrapper at another
/// descriptor, is refused by the wrapper: it does not run, in the sandbox or out.
async fn a_missing_or_forged_socket_makes_the_wrapper_refuse(who: Who) {
    let Some(setup) = Setup::start_as(who, &[], &[]) else {
        return;
    };
    let approver = Approver::always(ApprovalDecision::Approve);
    let env = setup.session(&approver).await;
    for shell in SHELLS {
        let script = format!(
            "CODEX_ESCALATE_SOCKET=1 touch {shell}-forged; echo \"forged $?\"; \
             fd=$CODEX_ESCALATE_SOCKET; exec {{fd}}>&-; touch {shell}-closed; echo \"closed $?\""
        );
        let output = setup.run(&env, shell, &script).await;
        assert_eq!(
            (shell, text(&output.stdout)),
            (shell, "forged 126\nclosed 126\n".to_string()),
            "{}",
            text(&output.stderr)
        );
        assert!(!setup.work.root().join(format!("{shell}-forged")).exists());
        assert!(!setup.work.root().join(format!("{shell}-closed")).exists());
    }
    assert_eq!(approver.asked_argv(), Vec::<Vec<String>>::new());
}

/// Three escalations at once in one session: each is asked and decided exactly once.
#[tokio::test]
async fn concurrent_escalations_are_each_decided_once() {
    let setup = Setup::start();
    let approver = Approver::always(ApprovalDecision::Approve);
    let env = setup.session(&approver).await;
    for shell in SHELLS {
        let script = format!(
            "touch \"$OUT/{shell}-1\" & touch \"$OUT/{shell}-2\" & touch \"$OUT/{shell}-3\" & \
             wait; echo waited"
        );
        let output = setup.run(&env, shell, &script).await;
        assert_eq!(
            (shell, text(&output.stdout)),
            (shell, "waited\n".to_string())
        );
        for n in 1..=3 {
            assert!(setup.outside(&format!("{shell}-{n}")).exists());
        }
    }
    let expected: Vec<Vec<String>> = SHELLS
        .iter()
        .flat_map(|shell| (1..=3).map(move |n| format!("{shell}-{n}")))
        .map(|name| vec!["touch".to_string(), path_str(&setup.outside(&name))])
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(approver.asked_argv(), expected);
}

/// A client without an approval handler, or one that does not answer in time, is a
/// denial.
#[tokio::test]
async fn no_handler_or_no_answer_in_time_denies() {
    let setup = Setup::start_with(&["--approval-timeout", "300ms"]);
    let env = Environment::remote(ClientConfig::new(setup.server.url.clone()))
        .await
        .unwrap();
    let output = setup
        .run(&env, "bash", "touch \"$OUT/unasked\"; echo $?")
        .await;
    assert_eq!(text(&output.stdout), "126\n");
    assert!(!setup.outside("unasked").exists());

    // The request says how long the server waits; the handler takes longer.
    let timeouts = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&timeouts);
    let mut config = ClientConfig::new(setup.server.url.clone());
    config.approval_handler = Some(Arc::new(move |request: ApprovalRequest| {
        seen.lock().unwrap().push(request.timeout_ms);
        Box::pin(async {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            ApprovalDecision::Approve
        })
    }));
    let slow = Environment::remote(config).await.unwrap();
    let output = setup
        .run(&slow, "bash", "touch \"$OUT/late\"; echo $?")
        .await;
    assert_eq!(text(&output.stdout), "126\n");
    assert!(!setup.outside("late").exists());
    assert_eq!(*timeouts.lock().unwrap(), vec![Some(300)]);
}

/// Bad requests are refused before anything runs: no sandbox policy, another program
/// than bash or zsh, `arg0`; and a server without patched shells refuses escalation.
#[tokio::test]
async fn escalation_needs_a_policy_a_known_shell_and_a_configured_server() {
    let setup = Setup::start();
    let approver = Approver::always(ApprovalDecision::Approve);
    let env = setup.session(&approver).await;
    let base = |program: &str| {
        Command::new(program)
            .args(["-c", "true"])
            .cwd(setup.work.root())
            .unwrap()
            .envs(child_env())
            .escalation()
    };
    let refused = |result: Result<codex_exec_server::Child, ExecError>| match result {
        Ok(_) => panic!("started"),
        Err(err) => err,
    };
    let no_policy = refused(base("bash").spawn(&env).await);
    assert!(
        matches!(&no_policy, ExecError::InvalidParams(message) if message.contains("sandboxPolicy")),
        "{no_policy:?}"
    );
    let other = refused(base("sh").sandbox(setup.policy()).spawn(&env).await);
    assert!(
        matches!(&other, ExecError::InvalidParams(message) if message.contains("`bash` or `zsh`")),
        "{other:?}"
    );
    let arg0 = refused(
        base("bash")
            .sandbox(setup.policy())
            .arg0("x")
            .spawn(&env)
            .await,
    );
    assert!(matches!(&arg0, ExecError::InvalidParams(_)), "{arg0:?}");

    let plain = TestServer::start();
    let plain_env = Environment::remote(ClientConfig::new(plain.url.clone()))
        .await
        .unwrap();
    let unavailable = refused(base("bash").sandbox(setup.policy()).spawn(&plain_env).await);
    assert!(
        matches!(&unavailable, ExecError::EscalationUnavailable(_)),
        "{unavailable:?}"
    );
}

/// A project that the server's user config trusts adds the `rules/*.rules` of its
/// `.codex` directory for starts in it, after the server's rules; the same rules in an
/// untrusted directory count for nothing.
#[tokio::test]
async fn a_trusted_projects_rules_apply_to_starts_in_it() {
    let codex_home = tempfile::tempdir().unwrap();
    let untrusted = cwd();
    let setup = Setup::start_with_env(&[], &[("CODEX_HOME", codex_home.path().to_str().unwrap())]);
    std::fs::write(
        codex_home.path().join("config.toml"),
        format!(
            "[projects.\"{}\"]\ntrust_level = \"trusted\"\n",
            setup.work.root().display()
        ),
    )
    .unwrap();
    for project in [setup.work.root(), untrusted.path()] {
        // A project root of its own, as a repository is: a `.git` left in `/tmp` would
        // otherwise make `/tmp` the project of both.
        std::fs::create_dir_all(project.join(".git")).unwrap();
        let rules = project.join(".codex/rules");
        std::fs::create_dir_all(&rules).unwrap();
        std::fs::write(
            rules.join("project.rules"),
            "prefix_rule(pattern = [\"cp\"], decision = \"forbidden\", justification = \"this project forbids cp\")\n",
        )
        .unwrap();
        std::fs::write(project.join("a"), "a").unwrap();
    }
    let approver = Approver::always(ApprovalDecision::Approve);
    let env = setup.session(&approver).await;
    let script = "cp a /dev/null; echo \"cp $?\"; touch \"$OUT/project\"; echo \"touch $?\"";
    let trusted = setup.run(&env, "bash", script).await;
    assert_eq!(
        (
            text(&trusted.stdout),
            text(&trusted.stderr).contains("this project forbids cp")
        ),
        ("cp 126\ntouch 0\n".to_string(), true),
        "{}",
        text(&trusted.stderr)
    );
    let other = setup.run_in(&env, "bash", script, untrusted.path()).await;
    assert_eq!(
        text(&other.stdout),
        "cp 0\ntouch 0\n",
        "{}",
        text(&other.stderr)
    );
    // The server's own `touch` rule held in both.
    assert_eq!(approver.asked_argv().len(), 2);
}

/// Rules that do not load stop the server before it listens, naming the file and line;
/// so does a patched shell that is not an executable file.
#[test]
fn rules_or_shells_that_do_not_load_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let bad_rules = dir.path().join("bad.rules");
    std::fs::write(
        &bad_rules,
        "prefix_rule(pattern = [\"git\"], decision = \"allow\")\nprefix_rule(pattern = [\"rm\"], decision = \"sometimes\")\n",
    )
    .unwrap();
    let not_a_shell = dir.path().join("not-a-shell");
    std::fs::write(&not_a_shell, "").unwrap();
    for (args, expected) in [
        (
            vec!["--rules", bad_rules.to_str().unwrap()],
            format!("{}:2", bad_rules.display()),
        ),
        (
            vec!["--escalation-bash", not_a_shell.to_str().unwrap()],
            "not an executable file".to_string(),
        ),
    ] {
        let output = TestServer::command(dir.path().to_path_buf(), &args, &[])
            .output()
            .unwrap();
        let stderr = text(&output.stderr);
        assert_eq!(
            (
                output.status.success(),
                text(&output.stdout),
                stderr.contains(&expected)
            ),
            (false, String::new(), true),
            "{stderr}"
        );
    }
}
