use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::path::PathBuf;

use pretty_assertions::assert_eq;
use tempfile::TempDir;

use super::BuildFallback;
use super::resolve_cargo_bin;
use crate::runfiles_lookup::Context;

const RLOCATION: &str = "codex/codex-rs/exec-server/codex-exec-server";

/// Runs `f` with a context whose environment is exactly `vars`.
fn with_env<T>(
    vars: &[(&str, &str)],
    cwd: &Path,
    argv0: Option<&Path>,
    f: impl FnOnce(&Context<'_>) -> T,
) -> T {
    let vars: HashMap<String, OsString> = vars
        .iter()
        .map(|(name, value)| ((*name).to_owned(), OsString::from(value)))
        .collect();
    let env = move |name: &str| vars.get(name).cloned();
    f(&Context {
        env: &env,
        cwd,
        argv0,
    })
}

fn touch(path: &Path) -> PathBuf {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, b"#!/bin/sh\n").unwrap();
    path.to_path_buf()
}

fn resolve(
    vars: &[(&str, &str)],
    compile_time: Option<&str>,
    cwd: &Path,
) -> Result<PathBuf, super::CargoBinError> {
    with_env(vars, cwd, /*argv0*/ None, |ctx| {
        resolve_cargo_bin(
            "codex-exec-server",
            compile_time,
            ctx,
            BuildFallback::Disabled,
        )
    })
}

#[test]
fn absolute_value_is_used_as_is() {
    let tmp = TempDir::new().unwrap();
    let bin = touch(&tmp.path().join("target/debug/codex-exec-server"));
    let got = resolve(
        &[("CARGO_BIN_EXE_codex-exec-server", bin.to_str().unwrap())],
        /*compile_time*/ None,
        Path::new("/nonexistent-cwd"),
    )
    .unwrap();
    assert_eq!(bin, got);
}

#[test]
fn relative_value_resolves_through_runfiles_directory() {
    let tmp = TempDir::new().unwrap();
    let runfiles = tmp.path().join("test.runfiles");
    let bin = touch(&runfiles.join(RLOCATION));
    let got = resolve(
        &[
            ("CARGO_BIN_EXE_codex-exec-server", RLOCATION),
            ("RUNFILES_DIR", runfiles.to_str().unwrap()),
        ],
        /*compile_time*/ None,
        tmp.path(),
    )
    .unwrap();
    assert_eq!(bin, got);
}

#[test]
fn relative_value_resolves_through_runfiles_manifest() {
    let tmp = TempDir::new().unwrap();
    let bin = touch(
        &tmp.path()
            .join("bazel-out/k8-fastbuild/bin/real-exec-server"),
    );
    let manifest = tmp.path().join("test.runfiles_manifest");
    fs::write(
        &manifest,
        format!(
            "codex/codex-rs/other/file {}\n{RLOCATION} {}\n",
            tmp.path().join("other").display(),
            bin.display()
        ),
    )
    .unwrap();
    let got = resolve(
        &[
            ("CARGO_BIN_EXE_codex-exec-server", RLOCATION),
            ("RUNFILES_MANIFEST_FILE", manifest.to_str().unwrap()),
        ],
        /*compile_time*/ None,
        tmp.path(),
    )
    .unwrap();
    assert_eq!(bin, got);
}

#[test]
fn relative_value_resolves_through_argv0_runfiles_directory() {
    let tmp = TempDir::new().unwrap();
    let bin = touch(&tmp.path().join("all-test.runfiles").join(RLOCATION));
    let argv0 = tmp.path().join("all-test");
    let got = with_env(
        &[("CARGO_BIN_EXE_codex-exec-server", RLOCATION)],
        Path::new("/nonexistent-cwd"),
        Some(&argv0),
        |ctx| {
            resolve_cargo_bin(
                "codex-exec-server",
                /*compile_time*/ None,
                ctx,
                BuildFallback::Disabled,
            )
        },
    )
    .unwrap();
    assert_eq!(bin, got);
}

#[test]
fn relative_value_resolves_against_cwd_without_runfiles() {
    let tmp = TempDir::new().unwrap();
    let bin = touch(&tmp.path().join("buck-out/codex-exec-server"));
    let got = resolve(
        &[(
            "CARGO_BIN_EXE_codex-exec-server",
            "buck-out/codex-exec-server",
        )],
        /*compile_time*/ None,
        tmp.path(),
    )
    .unwrap();
    assert_eq!(bin, got);
}

#[test]
fn compile_time_value_is_used_when_run_time_value_is_missing() {
    let tmp = TempDir::new().unwrap();
    let bin = touch(&tmp.path().join("target/debug/codex-exec-server"));
    let got = resolve(&[], bin.to_str(), tmp.path()).unwrap();
    assert_eq!(bin, got);
}

#[test]
fn missing_variable_lists_both_variables() {
    let err = resolve(&[], /*compile_time*/ None, Path::new("/work")).unwrap_err();
    assert_eq!(
        "could not find binary `codex-exec-server`; tried:\n\
         \x20 - run-time env CARGO_BIN_EXE_codex-exec-server: not set\n\
         \x20 - compile-time env CARGO_BIN_EXE_codex-exec-server: not set\n\
         Run the test with `cargo test` or `cargo nextest run` in the package that declares \
         the binary `codex-exec-server`, or, under Bazel, pass the binary in the test's \
         `data` and set `CARGO_BIN_EXE_codex-exec-server` to its runfiles path (e.g. \
         `codex/<package>/codex-exec-server`).",
        err.to_string()
    );
}

#[test]
fn nothing_found_lists_every_place_tried() {
    let tmp = TempDir::new().unwrap();
    let runfiles = tmp.path().join("runfiles");
    fs::create_dir_all(&runfiles).unwrap();
    let cwd = tmp.path().join("cwd");
    let err = resolve(
        &[
            ("CARGO_BIN_EXE_codex-exec-server", RLOCATION),
            ("RUNFILES_DIR", runfiles.to_str().unwrap()),
        ],
        Some("/gone/target/debug/codex-exec-server"),
        &cwd,
    )
    .unwrap_err();
    let tried = err.to_string();
    let tried: Vec<&str> = tried
        .lines()
        .filter(|line| line.starts_with("  - "))
        .collect();
    assert_eq!(
        vec![
            format!(
                "  - run-time CARGO_BIN_EXE_codex-exec-server = {RLOCATION} in runfiles \
                 directory {} (from RUNFILES_DIR): {} does not exist",
                runfiles.display(),
                runfiles.join(RLOCATION).display()
            ),
            format!(
                "  - run-time CARGO_BIN_EXE_codex-exec-server = {RLOCATION} against the \
                 current directory: {} does not exist",
                cwd.join(RLOCATION).display()
            ),
            "  - compile-time CARGO_BIN_EXE_codex-exec-server = \
             /gone/target/debug/codex-exec-server: does not exist"
                .to_owned(),
        ],
        tried
    );
}

#[test]
fn relative_value_without_runfiles_lists_runfiles_sources() {
    let tmp = TempDir::new().unwrap();
    let err = resolve(
        &[("CARGO_BIN_EXE_codex-exec-server", RLOCATION)],
        Some(RLOCATION),
        tmp.path(),
    )
    .unwrap_err();
    let tried = err.to_string();
    let tried: Vec<&str> = tried
        .lines()
        .filter(|line| line.starts_with("  - "))
        .collect();
    assert_eq!(
        vec![
            "  - env RUNFILES_DIR: not set".to_owned(),
            "  - env TEST_SRCDIR: not set".to_owned(),
            "  - env RUNFILES_MANIFEST_FILE: not set".to_owned(),
            "  - argv[0]: not available".to_owned(),
            format!(
                "  - run-time CARGO_BIN_EXE_codex-exec-server = {RLOCATION}: no runfiles found"
            ),
            format!(
                "  - run-time CARGO_BIN_EXE_codex-exec-server = {RLOCATION} against the \
                 current directory: {} does not exist",
                tmp.path().join(RLOCATION).display()
            ),
        ],
        tried
    );
}

#[test]
fn missing_variable_builds_the_binary_with_cargo() {
    // Building with Cargo is the fallback for Cargo checkouts only: Bazel always sets
    // CARGO_BIN_EXE_*, and its sandbox has neither Cargo nor the source tree.
    if option_env!("BAZEL_PACKAGE").is_some() {
        eprintln!("compiled by Bazel: the Cargo build fallback does not apply");
        return;
    }
    let tmp = TempDir::new().unwrap();
    let got = with_env(&[], tmp.path(), /*argv0*/ None, |ctx| {
        resolve_cargo_bin(
            "cargo-bin-probe",
            /*compile_time*/ None,
            ctx,
            BuildFallback::Escargot {
                manifest_dir: option_env!("CARGO_MANIFEST_DIR"),
            },
        )
    })
    .unwrap();
    let output = std::process::Command::new(&got).output().unwrap();
    assert_eq!(
        "cargo-bin-probe\n",
        String::from_utf8_lossy(&output.stdout),
        "{}",
        got.display()
    );
}
