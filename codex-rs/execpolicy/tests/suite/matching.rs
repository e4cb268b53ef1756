//! Patterns, alternatives, the strictest decision and the JSON shape.

use codex_execpolicy::Decision;
use codex_execpolicy::Evaluation;
use codex_execpolicy::Location;
use codex_execpolicy::PatternToken;
use codex_execpolicy::PrefixRule;
use codex_execpolicy::RuleMatch;
use pretty_assertions::assert_eq;

use super::evaluate;
use super::policy;

fn prefix_match(prefix: &[&str], decision: Decision, justification: Option<&str>) -> RuleMatch {
    RuleMatch::PrefixRuleMatch {
        matched_prefix: super::argv(prefix),
        decision,
        resolved_program: None,
        justification: justification.map(ToString::to_string),
    }
}

#[test]
fn alternatives_match_any_of_their_words_in_any_position() {
    let policy = policy(
        r#"
prefix_rule(pattern = [["cat", "less"], "-n", ["a.txt", "b.txt"]], decision = "allow")
"#,
    );
    for words in [
        ["cat", "-n", "a.txt"],
        ["less", "-n", "b.txt"],
        ["cat", "-n", "b.txt"],
    ] {
        assert_eq!(
            evaluate(&policy, &words),
            Evaluation {
                matched_rules: vec![prefix_match(&words, Decision::Allow, None)],
                decision: Some(Decision::Allow),
            }
        );
    }
    for words in [
        &["more", "-n", "a.txt"][..],
        &["cat", "-b", "a.txt"],
        &["cat", "-n", "c.txt"],
        // Shorter than the pattern.
        &["cat", "-n"],
        &[],
    ] {
        assert_eq!(
            evaluate(&policy, words),
            Evaluation {
                matched_rules: Vec::new(),
                decision: None,
            },
            "{words:?}"
        );
    }
}

#[test]
fn a_first_word_with_alternatives_is_one_rule_per_word() {
    let policy =
        policy("prefix_rule(pattern = [[\"rm\", \"shred\"], \"-f\"], decision = \"forbidden\")\n");
    let rule = |program: &str| PrefixRule {
        pattern: vec![
            PatternToken::Single(program.to_string()),
            PatternToken::Single("-f".to_string()),
        ],
        decision: Decision::Forbidden,
        justification: None,
        location: Location::new("test.rules", /*line*/ 1, /*column*/ 1),
    };
    assert_eq!(policy.rules(), &[rule("rm"), rule("shred")]);
}

#[test]
fn the_strictest_matching_rule_wins_and_every_match_is_listed_in_load_order() {
    let policy = policy(
        r#"
prefix_rule(pattern = ["git"], decision = "prompt", justification = "git can write")
prefix_rule(pattern = ["git", "status"])
prefix_rule(pattern = ["git", "push", "--force"], decision = "forbidden", justification = "no")
prefix_rule(pattern = ["git", "push"], decision = "prompt")
"#,
    );
    assert_eq!(
        evaluate(&policy, &["git", "status", "-s"]),
        Evaluation {
            matched_rules: vec![
                prefix_match(&["git"], Decision::Prompt, Some("git can write")),
                prefix_match(&["git", "status"], Decision::Allow, None),
            ],
            decision: Some(Decision::Prompt),
        }
    );
    assert_eq!(
        evaluate(&policy, &["git", "push", "--force", "origin"]),
        Evaluation {
            matched_rules: vec![
                prefix_match(&["git"], Decision::Prompt, Some("git can write")),
                prefix_match(&["git", "push", "--force"], Decision::Forbidden, Some("no")),
                prefix_match(&["git", "push"], Decision::Prompt, None),
            ],
            decision: Some(Decision::Forbidden),
        }
    );
}

#[test]
fn allow_is_the_default_decision_and_none_arguments_count_as_left_out() {
    let policy =
        policy("prefix_rule([\"ls\"], None, None, None, None)\nprefix_rule(pattern = [\"pwd\"])\n");
    for program in ["ls", "pwd"] {
        assert_eq!(
            evaluate(&policy, &[program]).decision,
            Some(Decision::Allow)
        );
    }
}

#[test]
fn rules_files_are_starlark_with_loops_functions_and_f_strings() {
    let policy = policy(
        r#"
READ_ONLY = ["status", "log", "diff"]

def readonly(program, subcommands):
    prefix_rule(pattern = [program, subcommands], justification = f"{program} reads only")

readonly("git", READ_ONLY)
for tool in ["cargo", "just"]:
    prefix_rule(pattern = [tool, "publish"], decision = "forbidden")
"#,
    );
    assert_eq!(
        evaluate(&policy, &["git", "diff"]).matched_rules,
        vec![prefix_match(
            &["git", "diff"],
            Decision::Allow,
            Some("git reads only")
        )]
    );
    assert_eq!(
        evaluate(&policy, &["just", "publish"]).decision,
        Some(Decision::Forbidden)
    );
}

#[test]
fn the_json_is_upstreams_shape_with_absent_fields_left_out() {
    let policy = policy(
        r#"
prefix_rule(pattern = ["git"], decision = "prompt", justification = "git can write")
prefix_rule(pattern = ["git", "status"])
"#,
    );
    let evaluation = evaluate(&policy, &["git", "status"]);
    assert_eq!(
        evaluation.to_json(/*pretty*/ false),
        concat!(
            r#"{"matchedRules":["#,
            r#"{"prefixRuleMatch":{"matchedPrefix":["git"],"decision":"prompt","justification":"git can write"}},"#,
            r#"{"prefixRuleMatch":{"matchedPrefix":["git","status"],"decision":"allow"}}"#,
            r#"],"decision":"prompt"}"#
        )
    );
    assert_eq!(
        evaluate(&policy, &["hg"]).to_json(/*pretty*/ false),
        r#"{"matchedRules":[]}"#
    );
    assert_eq!(
        evaluate(&policy, &["hg"]).to_json(/*pretty*/ true),
        "{\n  \"matchedRules\": []\n}"
    );
    // And it reads back.
    let back: Evaluation = serde_json::from_str(&evaluation.to_json(/*pretty*/ true)).unwrap();
    assert_eq!(back, evaluation);
}

#[test]
fn later_files_add_to_the_policy_and_a_failing_file_adds_nothing() {
    let mut parser = codex_execpolicy::PolicyParser::new();
    parser
        .parse_str(
            std::path::Path::new("a.rules"),
            "prefix_rule(pattern = [\"ls\"])\n",
        )
        .unwrap();
    // Its first rule is fine, its second is not: neither is kept.
    let failing = "prefix_rule(pattern = [\"rm\"], decision = \"forbidden\")\n\
                   host_executable(name = \"rm\", paths = [\"/bin/rm\"])\n\
                   prefix_rule(pattern = [\"cp\"], decision = \"nope\")\n";
    parser
        .parse_str(std::path::Path::new("b.rules"), failing)
        .unwrap_err();
    parser
        .parse_str(
            std::path::Path::new("c.rules"),
            "prefix_rule(pattern = [\"ls\", \"-l\"], decision = \"prompt\")\n",
        )
        .unwrap();
    let policy = parser.build();
    let programs: Vec<(&str, Decision)> = policy
        .rules()
        .iter()
        .map(|rule| (rule.program(), rule.decision))
        .collect();
    assert_eq!(
        programs,
        vec![("ls", Decision::Allow), ("ls", Decision::Prompt)]
    );
    assert!(policy.host_executables().is_empty());
    assert_eq!(
        evaluate(&policy, &["ls", "-l"]).decision,
        Some(Decision::Prompt)
    );
}
