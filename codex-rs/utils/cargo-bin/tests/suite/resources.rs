//! `find_resource!` and `repo_root` against the real files of this checkout (or of the
//! Bazel runfiles tree).

use std::path::Path;

use codex_utils_cargo_bin::find_resource;
use codex_utils_cargo_bin::repo_root;
use pretty_assertions::assert_eq;

#[test]
fn find_resource_finds_the_marker() {
    let marker = find_resource!("repo_root.marker").unwrap();
    assert_eq!(
        (true, true),
        (
            marker.is_file(),
            marker.ends_with("codex-rs/utils/cargo-bin/repo_root.marker")
        ),
        "{}",
        marker.display()
    );
}

#[test]
fn find_resource_normalises_dot_dot() {
    let marker = find_resource!("tests/../repo_root.marker").unwrap();
    assert_eq!(find_resource!("repo_root.marker").unwrap(), marker);
}

#[test]
fn repo_root_holds_the_workspace_manifest() {
    let root = repo_root().unwrap();
    let expected = Path::new("codex-rs/utils/cargo-bin/repo_root.marker");
    assert_eq!(
        (true, true),
        (
            root.join("Cargo.toml").is_file(),
            root.join(expected).is_file()
        ),
        "{}",
        root.display()
    );
}
