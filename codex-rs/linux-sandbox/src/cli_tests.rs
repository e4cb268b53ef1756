use std::ffi::OsStr;
use std::ffi::OsString;

use clap::Parser;
use pretty_assertions::assert_eq;

use super::Cli;
use super::is_sandbox_arg0;

#[test]
fn arg0_matches_on_the_file_name_only() {
    let cases = [
        ("codex-linux-sandbox", true),
        ("/tmp/arg0/codex-linux-sandbox", true),
        ("./codex-linux-sandbox", true),
        ("codex-exec-server", false),
        ("/usr/bin/codex-linux-sandbox-old", false),
        ("/codex-linux-sandbox/codex", false),
        ("", false),
    ];
    for (argv0, expected) in cases {
        assert_eq!(is_sandbox_arg0(OsStr::new(argv0)), expected, "{argv0}");
    }
}

#[test]
fn outer_stage_needs_policy_cwd_and_command() {
    let ok = Cli::try_parse_from([
        "codex-linux-sandbox",
        "--sandbox-policy-json",
        "{}",
        "--cwd",
        "/w",
        "--",
        "ls",
        "-l",
    ])
    .expect("parses");
    assert_eq!(ok.command, vec![OsString::from("ls"), OsString::from("-l")]);
    assert_eq!(ok.apply_seccomp_then_exec, false);

    let missing = [
        vec!["codex-linux-sandbox", "--cwd", "/w", "--", "ls"],
        vec![
            "codex-linux-sandbox",
            "--sandbox-policy-json",
            "{}",
            "--",
            "ls",
        ],
        vec![
            "codex-linux-sandbox",
            "--sandbox-policy-json",
            "{}",
            "--cwd",
            "/w",
        ],
        // The command must come after `--`, so it cannot be mistaken for options.
        vec![
            "codex-linux-sandbox",
            "--sandbox-policy-json",
            "{}",
            "--cwd",
            "/w",
            "ls",
        ],
    ];
    for argv in missing {
        assert!(Cli::try_parse_from(&argv).is_err(), "{argv:?}");
    }
}

#[test]
fn seccomp_stage_takes_only_its_own_flags() {
    let inner = Cli::try_parse_from([
        "codex-linux-sandbox",
        "--apply-seccomp-then-exec",
        "--deny-network",
        "--",
        "sh",
        "--deny-network",
    ])
    .expect("parses");
    assert_eq!(
        (
            inner.apply_seccomp_then_exec,
            inner.deny_network,
            inner.command
        ),
        (
            true,
            true,
            vec![OsString::from("sh"), OsString::from("--deny-network")]
        )
    );

    let mixed = Cli::try_parse_from([
        "codex-linux-sandbox",
        "--apply-seccomp-then-exec",
        "--cwd",
        "/w",
        "--",
        "sh",
    ]);
    assert!(mixed.is_err());
    let deny_without_stage = Cli::try_parse_from([
        "codex-linux-sandbox",
        "--sandbox-policy-json",
        "{}",
        "--cwd",
        "/w",
        "--deny-network",
        "--",
        "sh",
    ]);
    assert!(deny_without_stage.is_err());
}

#[test]
fn limit_flags_parse_and_are_passed_to_the_seccomp_stage() {
    let cli = Cli::try_parse_from([
        "codex-linux-sandbox",
        "--sandbox-policy-json",
        "{}",
        "--cwd",
        "/w",
        "--max-processes",
        "50",
        "--max-memory",
        "67108864",
        "--",
        "ls",
    ])
    .expect("parses");
    assert_eq!(
        (
            cli.max_processes,
            cli.max_memory,
            cli.max_file_size,
            cli.max_open_files
        ),
        (Some(50), Some(64 << 20), None, None)
    );
    let limits = crate::ResourceLimits {
        max_processes: cli.max_processes,
        max_memory_bytes: cli.max_memory,
        max_file_size_bytes: None,
        max_open_files: Some(64),
    };
    assert_eq!(
        super::limit_flags(&limits),
        vec![
            OsString::from("--max-processes"),
            OsString::from("50"),
            OsString::from("--max-memory"),
            OsString::from("67108864"),
            OsString::from("--max-open-files"),
            OsString::from("64"),
        ]
    );
    assert!(
        Cli::try_parse_from([
            "codex-linux-sandbox",
            "--apply-seccomp-then-exec",
            "--max-memory",
            "67108864",
            "--",
            "ls",
        ])
        .is_ok()
    );
    assert!(
        Cli::try_parse_from(["codex-linux-sandbox", "--max-processes", "-1", "--", "ls"]).is_err()
    );
}
