//! Matching an absolute program path by its basename (`--resolve-host-executables`).

use codex_execpolicy::Decision;
use codex_execpolicy::Evaluation;
use codex_execpolicy::MatchOptions;
use codex_execpolicy::Policy;
use codex_execpolicy::RuleMatch;
use codex_utils_absolute_path::AbsolutePathBuf;
use pretty_assertions::assert_eq;

use super::argv;
use super::policy;

const RESOLVE: MatchOptions = MatchOptions {
    resolve_host_executables: true,
};

fn resolved(prefix: &[&str], decision: Decision, program: &str) -> RuleMatch {
    RuleMatch::PrefixRuleMatch {
        matched_prefix: argv(prefix),
        decision,
        resolved_program: Some(AbsolutePathBuf::try_from_absolute(program).unwrap()),
        justification: None,
    }
}

fn no_match() -> Evaluation {
    Evaluation {
        matched_rules: Vec::new(),
        decision: None,
    }
}

fn rules_without_host_executables() -> Policy {
    policy(
        r#"
prefix_rule(pattern = ["git", "status"])
prefix_rule(pattern = ["git"], decision = "prompt")
"#,
    )
}

#[test]
fn without_the_option_an_absolute_path_matches_only_literally() {
    let policy = rules_without_host_executables();
    assert_eq!(
        policy.evaluate(&argv(&["/usr/bin/git", "status"]), &MatchOptions::default()),
        no_match()
    );
}

#[test]
fn with_the_option_and_no_host_executable_any_absolute_path_resolves() {
    let policy = rules_without_host_executables();
    for program in [
        "/usr/bin/git",
        "/opt/git/bin/git",
        "/usr/bin/../local/bin/git",
    ] {
        let normalized = AbsolutePathBuf::try_from_absolute(program).unwrap();
        assert_eq!(
            policy.evaluate(&argv(&[program, "status"]), &RESOLVE),
            Evaluation {
                matched_rules: vec![
                    resolved(
                        &["git", "status"],
                        Decision::Allow,
                        normalized.as_path().to_str().unwrap()
                    ),
                    resolved(
                        &["git"],
                        Decision::Prompt,
                        normalized.as_path().to_str().unwrap()
                    ),
                ],
                decision: Some(Decision::Prompt),
            },
            "{program}"
        );
    }
    // A relative path or a bare name does not resolve.
    for program in ["bin/git", "./git"] {
        assert_eq!(
            policy.evaluate(&argv(&[program, "status"]), &RESOLVE),
            no_match()
        );
    }
}

#[test]
fn host_executable_restricts_the_paths_that_resolve() {
    let policy = policy(
        r#"
prefix_rule(pattern = ["git", "status"])
host_executable(name = "git", paths = ["/usr/bin/git"])
host_executable(name = "git", paths = ["/opt/homebrew/bin/git", "/usr/bin/git"])
"#,
    );
    // Declarations for one name add up.
    assert_eq!(
        policy.host_executables().get("git"),
        Some(&vec![
            AbsolutePathBuf::try_from_absolute("/usr/bin/git").unwrap(),
            AbsolutePathBuf::try_from_absolute("/opt/homebrew/bin/git").unwrap(),
        ])
    );
    for program in ["/usr/bin/git", "/opt/homebrew/bin/git"] {
        assert_eq!(
            policy.evaluate(&argv(&[program, "status"]), &RESOLVE),
            Evaluation {
                matched_rules: vec![resolved(&["git", "status"], Decision::Allow, program)],
                decision: Some(Decision::Allow),
            }
        );
    }
    assert_eq!(
        policy.evaluate(&argv(&["/tmp/evil/git", "status"]), &RESOLVE),
        no_match()
    );
    // Other programs are not restricted.
    let other = super::policy(
        "prefix_rule(pattern = [\"ls\"])\nhost_executable(name = \"git\", paths = [\"/usr/bin/git\"])\n",
    );
    assert_eq!(
        other.evaluate(&argv(&["/tmp/ls"]), &RESOLVE),
        Evaluation {
            matched_rules: vec![resolved(&["ls"], Decision::Allow, "/tmp/ls")],
            decision: Some(Decision::Allow),
        }
    );
}

#[test]
fn a_literal_match_wins_over_the_basename() {
    let policy = policy(
        r#"
prefix_rule(pattern = ["/usr/bin/git"], decision = "forbidden")
prefix_rule(pattern = ["git"], decision = "allow")
"#,
    );
    assert_eq!(
        policy.evaluate(&argv(&["/usr/bin/git", "status"]), &RESOLVE),
        Evaluation {
            matched_rules: vec![RuleMatch::PrefixRuleMatch {
                matched_prefix: argv(&["/usr/bin/git"]),
                decision: Decision::Forbidden,
                resolved_program: None,
                justification: None,
            }],
            decision: Some(Decision::Forbidden),
        }
    );
}

#[test]
fn examples_resolve_basenames_with_the_files_host_executables() {
    // The `host_executable` after the rule counts: examples are checked once the file
    // has been evaluated.
    super::policy(
        r#"
prefix_rule(pattern = ["git"], match = ["/usr/bin/git status"], not_match = ["/tmp/git status"])
host_executable(name = "git", paths = ["/usr/bin/git"])
"#,
    );
    let err = super::error(
        r#"
prefix_rule(pattern = ["git"], match = ["/tmp/git status"])
host_executable(name = "git", paths = ["/usr/bin/git"])
"#,
    );
    assert_eq!(
        err.to_string(),
        "test.rules:2:1: `match` example `/tmp/git status` does not match the rule's pattern \
         [\"git\"]"
    );
}
