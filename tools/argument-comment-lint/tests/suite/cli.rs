//! The `codex-argument-comment-lint` binary: output and exit status.

use std::path::PathBuf;
use std::process::Output;

use pretty_assertions::assert_eq;

/// Runs the binary in the fixture directory, so printed paths are relative to it.
fn lint(args: &[&str]) -> Output {
    let binary = codex_utils_cargo_bin::cargo_bin!("codex-argument-comment-lint").unwrap();
    let fixtures: PathBuf = codex_utils_cargo_bin::find_resource!("tests/fixtures").unwrap();
    std::process::Command::new(binary)
        .args(args)
        .current_dir(fixtures)
        .output()
        .unwrap()
}

/// (exit status, stdout, stderr)
fn result(output: &Output) -> (Option<i32>, String, String) {
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn findings_are_printed_sorted_with_a_summary_and_exit_1() {
    assert_eq!(
        result(&lint(&["test_code/tests", "test_code/src"])),
        (
            Some(1),
            "test_code/src/lib.rs:2:9: 1 passed to `set` needs /*name*/\n\
             test_code/src/lib.rs:7:9: 2 passed to `set` needs /*name*/\n\
             test_code/src/lib.rs:13:13: 3 passed to `set` needs /*name*/\n\
             test_code/src/lib.rs:19:9: 4 passed to `set` needs /*name*/\n\
             test_code/src/lib_tests.rs:2:9: 5 passed to `set` needs /*name*/\n\
             test_code/tests/it.rs:2:9: 6 passed to `set` needs /*name*/\n\
             argument-comment-lint: 6 findings in 3 of 3 files checked (6 missing comment, \
             0 comment not /*name*/, 0 wrong name; 4 in test code)\n"
                .to_string(),
            String::new(),
        )
    );
}

#[test]
fn nothing_to_report_exits_0() {
    assert_eq!(
        result(&lint(&["not_flagged"])),
        (
            Some(0),
            "argument-comment-lint: 0 findings in 0 of 1 file checked (0 missing comment, \
             0 comment not /*name*/, 0 wrong name; 0 in test code)\n"
                .to_string(),
            String::new(),
        )
    );
}

#[test]
fn a_file_that_does_not_parse_goes_to_stderr_and_exits_1() {
    let (status, stdout, stderr) = result(&lint(&["unparsable"]));
    assert_eq!(
        (
            status,
            stdout,
            stderr.starts_with("unparsable/broken.rs: cannot parse: ")
        ),
        (
            Some(1),
            "unparsable/fine.rs:2:9: true passed to `set` needs /*name*/\n\
             argument-comment-lint: 1 finding in 1 of 1 file checked (1 missing comment, \
             0 comment not /*name*/, 0 wrong name; 0 in test code); \
             1 file could not be checked\n"
                .to_string(),
            true,
        ),
        "stderr: {stderr}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let missing = lint(&["no-such-dir"]);
    let unknown_flag = lint(&["--no-such-flag"]);
    assert_eq!(
        (
            missing.status.code(),
            String::from_utf8_lossy(&missing.stderr).into_owned(),
            unknown_flag.status.code(),
            missing.stdout.is_empty() && unknown_flag.stdout.is_empty(),
        ),
        (
            Some(2),
            "argument-comment-lint: no-such-dir: No such file or directory (os error 2)\n"
                .to_string(),
            Some(2),
            true,
        )
    );
}

#[test]
fn help_describes_the_lint() {
    let (status, stdout, _) = result(&lint(&["--help"]));
    assert_eq!(
        (
            status,
            stdout.contains("Usage: codex-argument-comment-lint [OPTIONS] [PATHS]..."),
            stdout.contains("--skip-test-code"),
            stdout.contains("--definitions <PATH>"),
        ),
        (Some(0), true, true, true)
    );
}
