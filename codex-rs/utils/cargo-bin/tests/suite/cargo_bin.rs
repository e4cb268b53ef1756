//! `cargo_bin` and friends against the real environment of this test run.

use codex_utils_cargo_bin::cargo_bin;
use codex_utils_cargo_bin::cargo_bin_cmd;
use pretty_assertions::assert_eq;

#[test]
fn cargo_bin_finds_this_packages_binary() {
    let path = cargo_bin("cargo-bin-probe").unwrap();
    assert_eq!(
        (true, true),
        (path.is_absolute(), path.is_file()),
        "{}",
        path.display()
    );
}

#[test]
fn cargo_bin_macro_finds_this_packages_binary() {
    let path = codex_utils_cargo_bin::cargo_bin!("cargo-bin-probe").unwrap();
    let output = std::process::Command::new(&path).output().unwrap();
    assert_eq!(
        (true, "cargo-bin-probe\n".to_owned()),
        (
            path.is_absolute(),
            String::from_utf8_lossy(&output.stdout).into_owned()
        ),
        "{}",
        path.display()
    );
}

#[test]
fn cargo_bin_cmd_runs_the_binary() {
    let output = cargo_bin_cmd("cargo-bin-probe").unwrap().output().unwrap();
    assert_eq!(
        (true, "cargo-bin-probe\n".to_owned()),
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned()
        )
    );
}
