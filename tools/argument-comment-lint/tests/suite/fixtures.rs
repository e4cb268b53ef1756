//! The lint on each fixture directory (see `tests/fixtures/README.md`), through the
//! library. Findings are compared as the lines the tool prints, with paths relative
//! to the fixture directory.

use std::path::PathBuf;

use codex_argument_comment_lint::FindingKind;
use codex_argument_comment_lint::Options;
use codex_argument_comment_lint::Report;
use pretty_assertions::assert_eq;

fn fixtures() -> PathBuf {
    codex_utils_cargo_bin::find_resource!("tests/fixtures").unwrap()
}

fn run(dir: &str, skip_test_code: bool) -> Report {
    let options = Options {
        skip_test_code,
        ..Options::new(vec![fixtures().join(dir)])
    };
    codex_argument_comment_lint::run(&options).unwrap()
}

/// The report's findings as printed, then its failures, paths relative to `dir`.
fn lines(dir: &str, report: &Report) -> Vec<String> {
    let root = fixtures().join(dir);
    let relative = |path: &PathBuf| path.strip_prefix(&root).unwrap().to_path_buf();
    report
        .findings
        .iter()
        .map(|finding| {
            let mut finding = finding.clone();
            finding.path = relative(&finding.path);
            finding.to_string()
        })
        .chain(report.failures.iter().map(|failure| {
            let mut failure = failure.clone();
            failure.path = relative(&failure.path);
            failure.to_string()
        }))
        .collect()
}

fn lint(dir: &str) -> Vec<String> {
    lines(dir, &run(dir, /*skip_test_code*/ false))
}

#[test]
fn every_literal_kind_without_a_comment_is_reported() {
    assert_eq!(
        lint("literals"),
        [
            "calls.rs:3:9: true passed to `set` needs /*name*/",
            "calls.rs:4:9: false passed to `set` needs /*name*/",
            "calls.rs:5:9: None passed to `set` needs /*name*/",
            "calls.rs:6:9: 42 passed to `set` needs /*name*/",
            "calls.rs:7:9: 1.5 passed to `set` needs /*name*/",
            "calls.rs:8:9: -1 passed to `set` needs /*name*/",
            "calls.rs:9:9: -2.5 passed to `set` needs /*name*/",
            "calls.rs:10:9: 0u8 passed to `set` needs /*name*/",
            "calls.rs:11:9: 0x10 passed to `set` needs /*name*/",
            // `accepted()` has none; then comments that do not name a parameter.
            "calls.rs:23:22: true passed to `set` has /*enabled=*/, which is not of the form /*name*/",
            "calls.rs:24:24: false passed to `set` has /* the flag */, which is not of the form /*name*/",
            "calls.rs:28:9: true passed to `set` needs /*name*/",
            // Only the bare literal arguments, and a comment after the previous
            // argument is not one before this one.
            "calls.rs:33:9: 1 passed to `two` needs /*name*/",
            "calls.rs:35:18: 3 passed to `two` needs /*name*/",
            // Method calls, nested calls, chains.
            "calls.rs:39:18: true passed to `.start` needs /*name*/",
            "calls.rs:39:24: None passed to `.start` needs /*name*/",
            "calls.rs:41:32: 5 passed to `inner` needs /*name*/",
            "calls.rs:43:18: 0 passed to `Config::load` needs /*name*/",
            "calls.rs:43:27: false passed to `.apply` needs /*name*/",
        ]
    );
}

#[test]
fn names_are_checked_against_workspace_definitions() {
    assert_eq!(
        lint("names"),
        [
            "calls.rs:2:15: true passed to `walk` needs /*recursive*/",
            "calls.rs:2:21: None passed to `walk` needs /*max_depth*/",
            "calls.rs:4:27: true passed to `walk` has /*recurse*/ but the parameter is named recursive",
            "calls.rs:5:46: None passed to `walk` has /*depth*/ but the parameter is named max_depth",
            // Two `open`s disagree at that position: any name will do, but one is needed.
            "calls.rs:7:15: true passed to `open` needs /*name*/",
            // `_verbose` is `verbose`; `_` has no name.
            "calls.rs:13:12: false passed to `ignore` needs /*verbose*/",
            "calls.rs:13:19: 1 passed to `ignore` needs /*name*/",
            "calls.rs:16:28: 3 passed to `Walker::new` has /*levels*/ but the parameter is named depth",
            "calls.rs:18:27: -1 passed to `.step` has /*count*/ but the parameter is named by",
            // The free `step`, not the method.
            "calls.rs:20:17: 1 passed to `step` has /*by*/ but the parameter is named first",
            "calls.rs:20:20: 2 passed to `step` needs /*second*/",
            // The trait declares `offset`; the implementation's `start` does not count.
            "calls.rs:23:28: 0 passed to `.fetch` has /*start*/ but the parameter is named offset",
            // Called as an associated function, the receiver comes first.
            "calls.rs:24:27: 0 passed to `Walker::fetch` needs /*offset*/",
            "calls.rs:24:30: false passed to `Walker::fetch` needs /*follow*/",
            "walk.rs:19:21: true passed to `Self::reset` needs /*hard*/",
        ]
    );
}

#[test]
fn macros_struct_fields_constructors_and_the_allow_list_are_not_reported() {
    let report = run("not_flagged", /*skip_test_code*/ false);
    assert_eq!(lines("not_flagged", &report), Vec::<String>::new());
    assert_eq!(report.files_checked, 1);
    assert!(report.is_clean());
}

#[test]
fn a_file_that_does_not_parse_is_reported_and_the_rest_still_checked() {
    let report = run("unparsable", /*skip_test_code*/ false);
    assert_eq!(
        lines("unparsable", &report),
        [
            "fine.rs:2:9: true passed to `set` needs /*name*/",
            "broken.rs: cannot parse: expected one of: identifier, `::`, `<`, `_`, literal, \
             `const`, `ref`, `mut`, `&`, parentheses, square brackets, `..`, `const` \
             (line 2, column 9)",
        ]
    );
    assert_eq!(report.files_checked, 1);
    assert!(!report.is_clean());
    // Named by absolute path here, the fixture is under this crate's `tests/`, so
    // its finding counts as test code.
    assert_eq!(
        report.summary(),
        "argument-comment-lint: 1 finding in 1 of 1 file checked (1 missing comment, \
         0 comment not /*name*/, 0 wrong name; 1 in test code); 1 file could not be checked"
    );
}

#[test]
fn test_code_is_marked_and_can_be_left_out() {
    let report = run("test_code", /*skip_test_code*/ false);
    let marked: Vec<(String, bool)> = report
        .findings
        .iter()
        .map(|finding| (finding.literal.clone(), finding.in_test_code))
        .collect();
    assert_eq!(
        marked,
        [
            ("1".to_string(), false),
            ("2".to_string(), true),
            ("3".to_string(), true),
            ("4".to_string(), false),
            ("5".to_string(), true),
            ("6".to_string(), true),
        ]
    );
    assert_eq!(
        lines("test_code", &run("test_code", /*skip_test_code*/ true)),
        [
            "src/lib.rs:2:9: 1 passed to `set` needs /*name*/",
            "src/lib.rs:19:9: 4 passed to `set` needs /*name*/",
        ]
    );
}

#[test]
fn definitions_can_come_from_paths_that_are_not_checked() {
    let names = fixtures().join("names");
    let only_calls = |definition_paths: Vec<PathBuf>| {
        let options = Options {
            definition_paths,
            ..Options::new(vec![names.join("calls.rs")])
        };
        let report = codex_argument_comment_lint::run(&options).unwrap();
        report
            .findings
            .iter()
            .filter(|finding| matches!(finding.kind, FindingKind::WrongName { .. }))
            .count()
    };
    assert_eq!(
        (only_calls(Vec::new()), only_calls(vec![names.clone()])),
        (0, 6)
    );
}
