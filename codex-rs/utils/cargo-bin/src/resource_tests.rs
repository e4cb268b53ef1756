use std::collections::HashMap;
use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::path::PathBuf;

use pretty_assertions::assert_eq;
use tempfile::TempDir;

use super::ResourceError;
use super::resolve_resource;
use super::root_from_marker;
use crate::runfiles_lookup::Context;

const PACKAGE: &str = "codex-rs/exec-server";

fn resolve(
    vars: &[(&str, &str)],
    path: &str,
    bazel_package: Option<&str>,
    manifest_dir: Option<&str>,
) -> Result<PathBuf, ResourceError> {
    let vars: HashMap<String, OsString> = vars
        .iter()
        .map(|(name, value)| ((*name).to_owned(), OsString::from(value)))
        .collect();
    let env = move |name: &str| vars.get(name).cloned();
    let ctx = Context {
        env: &env,
        cwd: Path::new("/cwd"),
        argv0: None,
    };
    resolve_resource(Path::new(path), bazel_package, manifest_dir, &ctx)
}

#[test]
fn cargo_mode_joins_manifest_dir() {
    let got = resolve(
        &[],
        "tests/suite/bash",
        /*bazel_package*/ None,
        Some("/src/codex-rs/exec-server"),
    )
    .unwrap();
    assert_eq!(
        PathBuf::from("/src/codex-rs/exec-server/tests/suite/bash"),
        got
    );
}

#[test]
fn bazel_package_without_runfiles_falls_back_to_manifest_dir() {
    let got = resolve(
        &[],
        "tests/suite/bash",
        Some(PACKAGE),
        Some("/src/codex-rs/exec-server"),
    )
    .unwrap();
    assert_eq!(
        PathBuf::from("/src/codex-rs/exec-server/tests/suite/bash"),
        got
    );
}

#[test]
fn runfiles_without_bazel_package_use_manifest_dir() {
    let tmp = TempDir::new().unwrap();
    let got = resolve(
        &[("RUNFILES_DIR", tmp.path().to_str().unwrap())],
        "tests/suite/bash",
        /*bazel_package*/ None,
        Some("/src/codex-rs/exec-server"),
    )
    .unwrap();
    assert_eq!(
        PathBuf::from("/src/codex-rs/exec-server/tests/suite/bash"),
        got
    );
}

#[test]
fn bazel_mode_uses_runfiles_workspace_and_package() {
    let tmp = TempDir::new().unwrap();
    let got = resolve(
        &[("RUNFILES_DIR", tmp.path().to_str().unwrap())],
        "tests/suite/bash",
        Some(PACKAGE),
        Some("/sandbox/ignored"),
    )
    .unwrap();
    assert_eq!(
        tmp.path()
            .join("codex/codex-rs/exec-server/tests/suite/bash"),
        got
    );
}

#[test]
fn bazel_mode_honours_test_workspace() {
    let tmp = TempDir::new().unwrap();
    let got = resolve(
        &[
            ("TEST_SRCDIR", tmp.path().to_str().unwrap()),
            ("TEST_WORKSPACE", "_main"),
        ],
        "tests/suite/bash",
        Some(PACKAGE),
        /*manifest_dir*/ None,
    )
    .unwrap();
    assert_eq!(
        tmp.path()
            .join("_main/codex-rs/exec-server/tests/suite/bash"),
        got
    );
}

#[test]
fn bazel_mode_looks_up_runfiles_manifest_with_normalised_key() {
    let tmp = TempDir::new().unwrap();
    let manifest = tmp.path().join("MANIFEST");
    fs::write(
        &manifest,
        "codex/codex-rs/exec-server/tests/suite/bash /src/codex-rs/exec-server/tests/suite/bash\n",
    )
    .unwrap();
    let got = resolve(
        &[("RUNFILES_MANIFEST_FILE", manifest.to_str().unwrap())],
        "tests/common/../suite/./bash",
        Some(PACKAGE),
        /*manifest_dir*/ None,
    )
    .unwrap();
    assert_eq!(
        PathBuf::from("/src/codex-rs/exec-server/tests/suite/bash"),
        got
    );
}

#[test]
fn bazel_mode_missing_manifest_entry_says_to_add_data() {
    let tmp = TempDir::new().unwrap();
    let manifest = tmp.path().join("MANIFEST");
    fs::write(&manifest, "codex/other/file /src/other/file\n").unwrap();
    let err = resolve(
        &[("RUNFILES_MANIFEST_FILE", manifest.to_str().unwrap())],
        "tests/suite/zsh",
        Some(PACKAGE),
        /*manifest_dir*/ None,
    )
    .unwrap_err();
    assert_eq!(
        format!(
            "resource `tests/suite/zsh` (runfiles key \
             `codex/codex-rs/exec-server/tests/suite/zsh`) is not listed in the runfiles \
             manifest {}; add it to the test's `data` in BUILD.bazel",
            manifest.display()
        ),
        err.to_string()
    );
}

#[test]
fn dot_dot_that_does_not_exist_is_normalised_not_canonicalised() {
    // `/nonexistent/...` does not exist, so canonicalising would fail; normalising must
    // still remove the `..` components.
    let got = resolve(
        &[],
        "tests/common/../../../exec-server/tests/suite/bash",
        /*bazel_package*/ None,
        Some("/nonexistent/codex-rs/utils/dotslash"),
    )
    .unwrap();
    assert_eq!(
        PathBuf::from("/nonexistent/codex-rs/utils/exec-server/tests/suite/bash"),
        got
    );
}

#[test]
fn bazel_mode_dot_dot_is_normalised_inside_runfiles() {
    let tmp = TempDir::new().unwrap();
    let got = resolve(
        &[("RUNFILES_DIR", tmp.path().to_str().unwrap())],
        "../../exec-server/tests/suite/bash",
        Some("codex-rs/utils/dotslash"),
        /*manifest_dir*/ None,
    )
    .unwrap();
    assert_eq!(
        tmp.path()
            .join("codex/codex-rs/exec-server/tests/suite/bash"),
        got
    );
}

#[test]
fn no_base_directory_is_an_error() {
    let err = resolve(
        &[],
        "data.txt",
        /*bazel_package*/ None,
        /*manifest_dir*/ None,
    )
    .unwrap_err();
    assert_eq!(
        "cannot locate resource `data.txt`: the calling crate was compiled without \
         CARGO_MANIFEST_DIR or BAZEL_PACKAGE; build it with Cargo, or with Bazel (which sets \
         BAZEL_PACKAGE) and run it with its runfiles",
        err.to_string()
    );
}

#[test]
fn repo_root_is_four_levels_above_the_marker() {
    let tmp = TempDir::new().unwrap();
    let marker = tmp.path().join("codex-rs/utils/cargo-bin/repo_root.marker");
    fs::create_dir_all(marker.parent().unwrap()).unwrap();
    fs::write(&marker, "").unwrap();
    assert_eq!(tmp.path().to_path_buf(), root_from_marker(&marker).unwrap());
}

#[test]
fn repo_root_without_marker_is_an_error() {
    let tmp = TempDir::new().unwrap();
    let marker = tmp.path().join("codex-rs/utils/cargo-bin/repo_root.marker");
    let err = root_from_marker(&marker).unwrap_err();
    assert_eq!(
        format!(
            "repository root marker {} does not exist; under Bazel, add \
             `codex-rs/utils/cargo-bin/repo_root.marker` to the test's `data`",
            marker.display()
        ),
        err.to_string()
    );
}
