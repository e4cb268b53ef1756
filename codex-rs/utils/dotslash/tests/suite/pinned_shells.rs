//! The real `dotslash` against the exec-server's pinned shells.
//!
//! Needs `dotslash` on `PATH` and its cache seeded by `tools/dotslash/seed-test-shells.sh`.
//! The fixtures belong to the exec-server; reaching them through `../..` also checks that
//! `find_resource!` normalises paths (under Bazel, `codex-rs/utils/dotslash/..` is not a
//! directory in the runfiles).

use std::path::Path;
use std::process::Command;

use codex_utils_cargo_bin::find_resource;
use codex_utils_dotslash::dotslash_fetch;
use pretty_assertions::assert_eq;

/// Runs the shell pinned by `fixture` with `-c script` in an empty environment.
fn run_pinned(fixture: &Path, script: &str) -> String {
    let shell = dotslash_fetch(fixture).unwrap_or_else(|err| panic!("{err}"));
    let output = Command::new(&shell)
        .arg("-c")
        .arg(script)
        .env_clear()
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", shell.display()));
    assert!(
        output.status.success(),
        "{} -c {script}: {output:?}",
        shell.display()
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn pinned_bash_is_debian_bash_static_5_2_15() {
    let fixture =
        find_resource!("../../exec-server/tests/suite/bash").unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        "5.2.15(1)-release\n",
        run_pinned(&fixture, "echo $BASH_VERSION")
    );
}

#[test]
fn pinned_zsh_is_debian_zsh_static_5_9() {
    let fixture =
        find_resource!("../../exec-server/tests/suite/zsh").unwrap_or_else(|err| panic!("{err}"));
    assert_eq!("5.9\n", run_pinned(&fixture, "echo $ZSH_VERSION"));
}

#[test]
fn fixture_path_is_normalised() {
    let fixture =
        find_resource!("../../exec-server/tests/suite/bash").unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        (true, false),
        (
            fixture.ends_with("codex-rs/exec-server/tests/suite/bash"),
            fixture.components().any(|c| c.as_os_str() == "..")
        ),
        "{}",
        fixture.display()
    );
}
