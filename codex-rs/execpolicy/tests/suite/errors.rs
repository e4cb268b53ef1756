//! Every error names the file and line, and says what was expected.

use std::path::Path;
use std::time::Duration;
use std::time::Instant;

use codex_execpolicy::Location;
use codex_execpolicy::MAX_EVAL_STEPS;
use codex_execpolicy::MAX_RULES;
use codex_execpolicy::MAX_RULES_FILE_BYTES;
use codex_execpolicy::PolicyError;
use codex_execpolicy::PolicyParser;
use pretty_assertions::assert_eq;

use super::error;

/// The error's location and full message.
fn described(err: &PolicyError) -> (Option<Location>, String) {
    (err.location().cloned(), err.to_string())
}

fn at(line: usize, column: usize) -> Option<Location> {
    Some(Location::new("test.rules", line, column))
}

#[test]
fn a_match_example_that_does_not_match_names_the_file_line_and_example() {
    let err = error(
        r#"prefix_rule(pattern = ["ls"])

prefix_rule(
    pattern = ["git", ["status", "log"]],
    match = ["git status", ["git", "log", "--oneline"], "git push 'origin main'"],
)
"#,
    );
    assert!(
        matches!(err, PolicyError::ExampleDidNotMatch { .. }),
        "{err:?}"
    );
    assert_eq!(
        described(&err),
        (
            at(3, 1),
            "test.rules:3:1: `match` example `git push 'origin main'` does not match the \
             rule's pattern [\"git\", [\"status\", \"log\"]]"
                .to_string()
        )
    );
}

#[test]
fn a_not_match_example_that_matches_names_the_file_line_and_example() {
    let err = error(
        r#"
prefix_rule(pattern = [["rm", "shred"]], decision = "forbidden",
            not_match = ["rmdir x", ["shred", "-u", "secret file"]])
"#,
    );
    assert!(
        matches!(err, PolicyError::ExampleDidMatch { .. }),
        "{err:?}"
    );
    assert_eq!(
        described(&err),
        (
            at(2, 1),
            "test.rules:2:1: `not_match` example `shred -u 'secret file'` matches the \
             rule's pattern [[\"rm\", \"shred\"]], but must not"
                .to_string()
        )
    );
}

#[test]
fn examples_are_checked_against_their_own_rule_only() {
    // `git push` matches the first rule, but is the second rule's example.
    let err = error(
        "prefix_rule(pattern = [\"git\"])\nprefix_rule(pattern = [\"git\", \"status\"], match = [\"git push\"])\n",
    );
    assert_eq!(described(&err).0, at(2, 1));
    // Passing examples, strings split like a shell would, are fine.
    super::policy(
        r#"prefix_rule(pattern = ["sh", "-c"], match = ["sh -c 'echo hi'", ["sh", "-c", "x"]],
            not_match = ["sh -x -c true", "bash -c true"])"#,
    );
}

#[test]
fn a_syntax_error_names_the_file_and_line() {
    let err = error(
        "prefix_rule(pattern = [\"ls\"])\nprefix_rule(pattern = [\"git\"] decision = \"allow\")\n",
    );
    assert!(matches!(err, PolicyError::Syntax { .. }), "{err:?}");
    assert_eq!(
        described(&err),
        (
            at(2, 31),
            "test.rules:2:31: syntax error: Parse error: unexpected identifier 'decision', \
             expected symbol ')'"
                .to_string()
        )
    );
}

#[test]
fn load_is_not_allowed() {
    let err = error("\nload(\"other.rules\", \"x\")\n");
    assert_eq!(
        described(&err),
        (
            at(2, 1),
            "test.rules:2:1: syntax error: `load` is not allowed in this dialect".to_string()
        )
    );
}

#[test]
fn an_unknown_decision_names_the_file_line_and_the_valid_ones() {
    let err = error("\n\nprefix_rule(pattern = [\"ls\"], decision = \"deny\")\n");
    assert!(
        matches!(err, PolicyError::InvalidDecision { .. }),
        "{err:?}"
    );
    assert_eq!(
        described(&err),
        (
            at(3, 1),
            "test.rules:3:1: invalid decision \"deny\": expected \"allow\", \"prompt\" or \
             \"forbidden\""
                .to_string()
        )
    );
}

#[test]
fn bad_arguments_say_what_was_expected() {
    let cases = [
        (
            "prefix_rule(pattern = [])",
            "test.rules:1:1: invalid pattern: expected at least one word, got an empty list",
        ),
        (
            "prefix_rule(pattern = \"git status\")",
            "test.rules:1:1: invalid pattern: expected a list of words (strings, or lists of \
             alternative strings), got \"git status\" of type string",
        ),
        (
            "prefix_rule(pattern = [\"git\", [\"a\", 1]])",
            "test.rules:1:1: invalid pattern: element 1: alternatives must be strings, got 1 \
             of type int",
        ),
        (
            "prefix_rule(pattern = [\"git\", []])",
            "test.rules:1:1: invalid pattern: element 1: expected at least one alternative, \
             got an empty list",
        ),
        (
            "prefix_rule(pattern = [\"git\"], match = [\"git 'open\"])",
            "test.rules:1:1: invalid example: `match` example \"git 'open\" is not valid shell \
             syntax",
        ),
        (
            "prefix_rule(pattern = [\"git\"], not_match = [[]])",
            "test.rules:1:1: invalid example: `not_match` example [] has no words",
        ),
        (
            "prefix_rule(pattern = [\"git\"], justification = \" \")",
            "test.rules:1:1: `justification` must say why the rule exists; leave it out \
             rather than give an empty string",
        ),
        (
            "host_executable(name = \"git\", paths = [\"bin/git\"])",
            "test.rules:1:1: host_executable: path \"bin/git\" is not absolute",
        ),
        (
            "host_executable(name = \"git\", paths = [\"/usr/bin/hg\"])",
            "test.rules:1:1: host_executable: path \"/usr/bin/hg\" does not end in the \
             program name \"git\"",
        ),
        (
            "host_executable(name = \"/usr/bin/git\", paths = [])",
            "test.rules:1:1: host_executable: `name` must be a bare program name such as \
             \"git\", got \"/usr/bin/git\"",
        ),
        (
            "prefix_rule(pattern = [\"git\"], colour = \"red\")",
            "test.rules:1:1: Found `colour` extra named parameter(s) for call to prefix_rule",
        ),
        ("fail(\"not today\")", "test.rules:1:1: fail: not today"),
    ];
    let got: Vec<(&str, String)> = cases
        .iter()
        .map(|(text, _)| (*text, error(text).to_string()))
        .collect();
    let expected: Vec<(&str, String)> = cases
        .iter()
        .map(|(text, message)| (*text, message.to_string()))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn a_10_mb_rules_file_is_refused_quickly_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.rules");
    let line = "prefix_rule(pattern = [\"ls\"])\n";
    std::fs::write(&path, line.repeat(10 * 1024 * 1024 / line.len())).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    let started = Instant::now();
    let err = PolicyParser::new().parse_file(&path).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, PolicyError::FileTooLarge { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: the rules file has {size} bytes; rules files may have at most \
             {MAX_RULES_FILE_BYTES} bytes",
            path.display()
        )
    );
    // The same text given directly is refused too.
    let text = std::fs::read_to_string(&path).unwrap();
    let err = PolicyParser::new()
        .parse_str(Path::new("huge.rules"), &text)
        .unwrap_err();
    assert!(matches!(err, PolicyError::FileTooLarge { .. }), "{err:?}");
}

#[test]
fn a_runaway_loop_stops_with_a_clear_error() {
    let started = Instant::now();
    let err = error("x = 0\nfor i in range(1000000000):\n    x += i\n");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, PolicyError::TooLong { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "test.rules: evaluation stopped after {MAX_EVAL_STEPS} steps (loop iterations \
             and calls); a rules file must declare its rules without long-running loops"
        )
    );
}

#[test]
fn too_many_rules_is_an_error_at_the_call_that_goes_over() {
    let err = error(&format!(
        "prefix_rule(pattern = [\"a\"])\n[prefix_rule(pattern = [\"p%d\" % i]) for i in range({MAX_RULES})]\n"
    ));
    assert_eq!(
        described(&err),
        (
            at(2, 2),
            format!(
                "test.rules:2:2: too many rules: a policy may have at most {MAX_RULES} rules \
                 (a first pattern element with alternatives counts one rule per alternative)"
            )
        )
    );
}

#[test]
fn unreadable_and_non_utf8_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.rules");
    let err = PolicyParser::new().parse_file(&missing).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot read {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
    let binary = dir.path().join("binary.rules");
    std::fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
    let err = PolicyParser::new().parse_file(&binary).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}: a rules file must be UTF-8 text", binary.display())
    );
}
