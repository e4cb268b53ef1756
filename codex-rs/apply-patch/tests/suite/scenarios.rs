//! Every directory under `tests/fixtures/scenarios/` (see its README) run through the
//! `apply_patch` binary: `input/` copied to a fresh directory, `patch.txt` as the one
//! argument, then the exit status and the whole tree compared with `expected/`.

use std::path::Path;

use pretty_assertions::assert_eq;

use super::tree::copy_tree;
use super::tree::snapshot;
use super::tree::snapshot_fixture;

#[test]
fn every_scenario_ends_as_expected() {
    let root = codex_utils_cargo_bin::find_resource!("tests/fixtures/scenarios").expect("fixtures");
    let binary = codex_utils_cargo_bin::cargo_bin!("apply_patch").expect("apply_patch");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .expect("scenarios")
        .map(|entry| entry.expect("entry"))
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(
        names.len() >= 20,
        "only {} scenarios in {}",
        names.len(),
        root.display()
    );
    for name in &names {
        run_scenario(&binary, &root.join(name), name);
    }
}

fn run_scenario(binary: &Path, dir: &Path, name: &str) {
    let work = tempfile::tempdir().expect("temp dir");
    copy_tree(&dir.join("input"), work.path());
    let patch = std::fs::read_to_string(dir.join("patch.txt")).expect("patch.txt");
    let expected_status: i32 = match std::fs::read_to_string(dir.join("exit_code")) {
        Ok(text) => text.trim().parse().expect("exit_code holds a number"),
        Err(_) => 0,
    };
    let output = std::process::Command::new(binary)
        .arg(&patch)
        .current_dir(work.path())
        .output()
        .expect("run apply_patch");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(expected_status),
        "{name}: stdout {stdout:?}, stderr {stderr:?}"
    );
    if expected_status == 0 {
        assert!(
            stdout.starts_with("Success. Updated the following files:\n"),
            "{name}: {stdout:?}"
        );
        assert_eq!(stderr, "", "{name}");
    } else {
        assert_eq!(stdout, "", "{name}");
        assert!(!stderr.trim().is_empty(), "{name}: a failure says why");
        // A rejected patch leaves the tree as it was.
        assert_eq!(
            snapshot_fixture(&dir.join("input")),
            snapshot_fixture(&dir.join("expected")),
            "{name}: a failing scenario's expected/ must equal its input/"
        );
    }
    assert_eq!(
        snapshot(work.path()),
        snapshot_fixture(&dir.join("expected")),
        "{name}"
    );
}
