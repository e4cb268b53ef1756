use std::collections::BTreeMap;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;

use pretty_assertions::assert_eq;

use super::*;

fn request(file: &str, argv: &[&str]) -> ExecRequest {
    ExecRequest {
        file: file.into(),
        argv: argv.iter().map(|arg| arg.to_string()).collect(),
        cwd: "/work".into(),
        env: BTreeMap::new(),
    }
}

/// Answers every prompt with `answer`, counting them.
struct Fixed {
    answer: Approval,
    asked: AtomicUsize,
}

impl Fixed {
    fn new(answer: Approval) -> Self {
        Self {
            answer,
            asked: AtomicUsize::new(0),
        }
    }
}

impl Approver for Fixed {
    fn approve<'a>(
        &'a self,
        _request: &'a ExecRequest,
        _justification: Option<&'a str>,
    ) -> BoxFuture<'a, Approval> {
        self.asked.fetch_add(/*val*/ 1, Ordering::SeqCst);
        Box::pin(async move { self.answer })
    }
}

/// git push: prompt; rm: forbidden; ls: allow; /usr/bin/danger (by path): forbidden.
fn rules(argv: &[String]) -> Option<RuleDecision> {
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    match argv.as_slice() {
        ["git", "push", ..] => Some(RuleDecision::Prompt {
            justification: Some("pushes to a remote".to_string()),
        }),
        ["rm", ..] => Some(RuleDecision::Forbidden {
            justification: Some("deleting is not allowed".to_string()),
        }),
        ["/usr/bin/danger", ..] => Some(RuleDecision::Forbidden {
            justification: None,
        }),
        ["ls", ..] => Some(RuleDecision::Allow),
        _ => None,
    }
}

fn decide<A: Approver>(policy: &RulesPolicy<Rules, A>, request: ExecRequest) -> EscalationDecision {
    futures_executor(policy.decide(request))
}

/// Drives a future that never waits on I/O.
fn futures_executor<T>(future: BoxFuture<'_, T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

type Rules = fn(&[String]) -> Option<RuleDecision>;

#[test]
fn allow_and_no_match_run_in_the_sandbox() {
    let policy = RulesPolicy::new(rules as Rules, Fixed::new(Approval::Deny));
    assert_eq!(
        decide(&policy, request("/bin/ls", &["ls", "-l"])),
        EscalationDecision::Run
    );
    assert_eq!(
        decide(&policy, request("/bin/cat", &["cat", "x"])),
        EscalationDecision::Run
    );
    assert_eq!(policy.approver.asked.load(Ordering::SeqCst), 0);
}

#[test]
fn forbidden_denies_with_the_justification() {
    let policy = RulesPolicy::new(rules as Rules, Fixed::new(Approval::Approve));
    assert_eq!(
        decide(&policy, request("/bin/rm", &["rm", "-rf", "/"])),
        EscalationDecision::Deny {
            reason: "deleting is not allowed".to_string()
        }
    );
    assert_eq!(
        decide(&policy, request("/usr/bin/danger", &["danger"])),
        EscalationDecision::Deny {
            reason: "`danger` is forbidden by a rule".to_string()
        }
    );
    assert_eq!(policy.approver.asked.load(Ordering::SeqCst), 0);
}

#[test]
fn renaming_argv0_does_not_dodge_a_rule() {
    let policy = RulesPolicy::new(rules as Rules, Fixed::new(Approval::Approve));
    // `exec -a ls rm -rf /`: argv says ls (allow), the program is rm (forbidden).
    assert_eq!(
        policy.rule_decision(&request("/bin/rm", &["ls", "-rf", "/"])),
        Some(RuleDecision::Forbidden {
            justification: Some("deleting is not allowed".to_string())
        })
    );
    // By full path too.
    assert!(matches!(
        policy.rule_decision(&request("/usr/bin/danger", &["ls"])),
        Some(RuleDecision::Forbidden { .. })
    ));
}

#[test]
fn prompt_asks_and_escalates_or_denies() {
    let approve = RulesPolicy::new(rules as Rules, Fixed::new(Approval::Approve));
    let push = request("/usr/bin/git", &["git", "push"]);
    assert_eq!(decide(&approve, push.clone()), EscalationDecision::Escalate);
    assert_eq!(decide(&approve, push.clone()), EscalationDecision::Escalate);
    // `Approve` is for one exec: asked each time.
    assert_eq!(approve.approver.asked.load(Ordering::SeqCst), 2);

    let deny = RulesPolicy::new(rules as Rules, Fixed::new(Approval::Deny));
    assert_eq!(
        decide(&deny, push),
        EscalationDecision::Deny {
            reason: "`git push` was not approved".to_string()
        }
    );
}

#[test]
fn approve_for_session_is_remembered_per_instance_by_program_and_argv() {
    let policy = RulesPolicy::new(rules as Rules, Fixed::new(Approval::ApproveForSession));
    let push = request("/usr/bin/git", &["git", "push"]);
    assert_eq!(decide(&policy, push.clone()), EscalationDecision::Escalate);
    assert_eq!(decide(&policy, push.clone()), EscalationDecision::Escalate);
    assert_eq!(policy.approver.asked.load(Ordering::SeqCst), 1);

    // Other arguments, or another program under the same argv: asked again.
    decide(
        &policy,
        request("/usr/bin/git", &["git", "push", "--force"]),
    );
    decide(&policy, request("/tmp/fake-git", &["git", "push"]));
    assert_eq!(policy.approver.asked.load(Ordering::SeqCst), 3);

    // Another instance (another session) remembers nothing.
    let other = RulesPolicy::new(rules as Rules, Fixed::new(Approval::ApproveForSession));
    decide(&other, push);
    assert_eq!(other.approver.asked.load(Ordering::SeqCst), 1);
}

#[test]
fn candidates_replace_argv0_by_the_program_path_and_name() {
    assert_eq!(
        argv_candidates(&request("/usr/bin/git", &["git", "status"])),
        vec![
            vec!["git".to_string(), "status".to_string()],
            vec!["/usr/bin/git".to_string(), "status".to_string()],
        ]
    );
    assert_eq!(
        argv_candidates(&request("/usr/bin/git", &["/usr/bin/git"])),
        vec![vec!["/usr/bin/git".to_string()], vec!["git".to_string()]]
    );
}

#[test]
fn a_closure_is_a_policy_factory() {
    let made = AtomicUsize::new(0);
    let factory = |session: &str| -> Arc<dyn EscalationPolicy> {
        made.fetch_add(/*val*/ 1, Ordering::SeqCst);
        assert!(session.starts_with("session-"));
        Arc::new(RulesPolicy::new(rules as Rules, Fixed::new(Approval::Deny)))
    };
    let factory: &dyn EscalationPolicyFactory = &factory;
    let one = factory.for_session("session-1");
    let two = factory.for_session("session-2");
    assert!(!Arc::ptr_eq(&one, &two));
    assert_eq!(made.load(Ordering::SeqCst), 2);
}
