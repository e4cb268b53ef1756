//! The exec-server's tests run a pinned bash and zsh, never the host's.
//!
//! `bash` and `zsh` beside this file are DotSlash files pinning Debian's `bash-static`
//! and `zsh-static` binaries by size and sha256. These tests resolve them the way every
//! shell-running test should (`find_resource!`, then `dotslash_fetch`) and check that the
//! shells are exactly the pinned versions. They need `dotslash` on `PATH` and its cache
//! seeded by `tools/dotslash/seed-test-shells.sh`.

use std::path::Path;
use std::process::Command;

use codex_utils_cargo_bin::find_resource;
use codex_utils_dotslash::dotslash_fetch;
use pretty_assertions::assert_eq;

/// Runs the shell pinned by the DotSlash file `fixture` with `-c script` in an empty
/// environment and returns its stdout.
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
    let fixture = find_resource!("tests/suite/bash").unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        "5.2.15(1)-release\n",
        run_pinned(&fixture, "echo $BASH_VERSION")
    );
}

#[test]
fn pinned_zsh_is_debian_zsh_static_5_9() {
    let fixture = find_resource!("tests/suite/zsh").unwrap_or_else(|err| panic!("{err}"));
    assert_eq!("5.9\n", run_pinned(&fixture, "echo $ZSH_VERSION"));
}
