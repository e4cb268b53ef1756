//! Concurrent requests of one session, and the rules seam end to end.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::time::Duration;

use codex_shell_escalation::Approval;
use codex_shell_escalation::Approver;
use codex_shell_escalation::BoxFuture;
use codex_shell_escalation::EscalationDecision;
use codex_shell_escalation::EscalationPolicy;
use codex_shell_escalation::EscalationPolicyFactory;
use codex_shell_escalation::EscalationServer;
use codex_shell_escalation::ExecRequest;
use codex_shell_escalation::RuleDecision;
use codex_shell_escalation::RulesPolicy;
use codex_shell_escalation::ServerOptions;
use codex_utils_test_support::Who;
use codex_utils_test_support::both_users;
use pretty_assertions::assert_eq;

use super::harness::Session;
use super::harness::StubPolicy;
use super::harness::code;
use super::harness::output;
use super::harness::stderr;
use super::harness::stdout;
use super::harness::wrapper_bin;

both_users!(async three_concurrent_escalations_are_each_decided_once);

/// Three wrappers at once: the policy holds every decision until all three are being
/// decided (so they are concurrent), each is decided exactly once, and each gets its
/// own program's output and status.
async fn three_concurrent_escalations_are_each_decided_once(who: Who) {
    let barrier = Arc::new(tokio::sync::Barrier::new(/*n*/ 3));
    let policy = StubPolicy::with(move |_| {
        let barrier = Arc::clone(&barrier);
        Box::pin(async move {
            match tokio::time::timeout(Duration::from_secs(30), barrier.wait()).await {
                Ok(_) => EscalationDecision::Escalate,
                Err(_) => EscalationDecision::Deny {
                    reason: "the three requests were not decided concurrently".to_string(),
                },
            }
        })
    });
    let session = Session::start(who, policy);

    let run = |n: i32| {
        let script = format!("echo out-{n}; exit {n}");
        output(session.wrapper_command("/bin/sh", &["sh", "-c", &script]))
    };
    let (one, two, three) = tokio::join!(run(1), run(2), run(3));
    let outputs = [one, two, three];

    for (n, out) in (1..=3).zip(&outputs) {
        assert_eq!(code(out), n, "stderr: {}", stderr(out));
        assert_eq!(stdout(out), format!("out-{n}\n"));
    }
    let counts = session.policy.counts();
    assert_eq!(counts.len(), 3);
    assert!(counts.values().all(|&count| count == 1), "{counts:?}");
}

/// Counts prompts and answers each with `answer`.
struct CountingApprover {
    asked: Arc<AtomicUsize>,
    answer: Approval,
}

impl Approver for CountingApprover {
    fn approve<'a>(
        &'a self,
        _request: &'a ExecRequest,
        _justification: Option<&'a str>,
    ) -> BoxFuture<'a, Approval> {
        self.asked.fetch_add(/*val*/ 1, Ordering::SeqCst);
        let answer = self.answer;
        Box::pin(async move { answer })
    }
}

/// `sh -c 'echo …'` is `prompt`, anything with `rm` is `forbidden`, `true` is `allow`.
fn rules(argv: &[String]) -> Option<RuleDecision> {
    match argv.first().map(String::as_str) {
        Some("sh") if argv.get(/*index*/ 1).map(String::as_str) == Some("-c") => {
            Some(RuleDecision::Prompt {
                justification: Some("runs a script".to_string()),
            })
        }
        Some("rm") => Some(RuleDecision::Forbidden {
            justification: Some("no deleting".to_string()),
        }),
        Some("true") => Some(RuleDecision::Allow),
        _ => None,
    }
}

/// A `RulesPolicy` per session from a factory, through the real wrapper: a prompt
/// approved for the session is asked once and then escalates; another session asks
/// again; `forbidden` denies with its justification, even under another `argv[0]`.
#[tokio::test]
async fn rules_policy_per_session() {
    let asked = Arc::new(AtomicUsize::new(0));
    let factory = {
        let asked = Arc::clone(&asked);
        move |_session: &str| -> Arc<dyn EscalationPolicy> {
            Arc::new(RulesPolicy::new(
                rules,
                CountingApprover {
                    asked: Arc::clone(&asked),
                    answer: Approval::ApproveForSession,
                },
            ))
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let run = |shell: &codex_shell_escalation::ShellSide, file: &str, argv: &[&str]| {
        let mut command = std::process::Command::new(wrapper_bin());
        command.arg(file).args(argv).current_dir(dir.path());
        shell.configure(&mut command);
        output(command)
    };
    let script = "echo $PPID";

    for session_id in ["one", "two"] {
        let (_server, shell) = EscalationServer::start_with(
            factory.for_session(session_id),
            ServerOptions::new(wrapper_bin()),
        )
        .unwrap();
        let before = asked.load(Ordering::SeqCst);
        for _ in 0..2 {
            let out = run(&shell, "/bin/sh", &["sh", "-c", script]).await;
            assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
            // Escalated: a child of this process.
            assert_eq!(stdout(&out), format!("{}\n", std::process::id()));
        }
        assert_eq!(
            asked.load(Ordering::SeqCst),
            before + 1,
            "asked once per session"
        );

        let out = run(&shell, "/bin/rm", &["rm", "-rf", "/nonexistent-dir"]).await;
        assert_eq!(code(&out), 126);
        assert_eq!(
            stderr(&out),
            "codex-execve-wrapper: denied: /bin/rm: no deleting\n"
        );
        // `exec -a innocent rm …`: the program is still rm.
        let out = run(&shell, "/bin/rm", &["innocent", "-rf", "/nonexistent-dir"]).await;
        assert_eq!(code(&out), 126);

        let out = run(&shell, "/bin/true", &["true"]).await;
        assert_eq!(code(&out), 0);
    }
    assert_eq!(asked.load(Ordering::SeqCst), 2);
}
