//! Every load error, and unknown-key warnings, with their locations.

use codex_config::ConfigError;
use codex_config::ConfigWarning;
use codex_config::Location;
use pretty_assertions::assert_eq;

use super::World;

#[tokio::test]
async fn malformed_toml_names_file_line_and_column() {
    let world = World::new();
    let file = world.user("sandbox_mode = \"read-only\"\nproject_doc_max_bytes = = 3\n");
    let err = world.load(&world.repo, &[]).await.unwrap_err();
    let ConfigError::Invalid { location, .. } = &err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(
        location,
        &Location::File {
            path: file.clone(),
            line: 2,
            column: 25,
        }
    );
    assert!(
        err.to_string()
            .starts_with(&format!("{}:2:25: ", file.display())),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_type_names_file_line_column_and_expected_type() {
    let world = World::new();
    let file = world.system("\n[sandbox_workspace_write]\nnetwork_access = \"yes\"\n");
    let err = world.load(&world.repo, &[]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:3:18: invalid type: string \"yes\", expected a boolean",
            file.display()
        )
    );
}

#[tokio::test]
async fn bad_sandbox_mode_in_project_file() {
    let world = World::new();
    world.user(&world.trust_repo());
    let file = world.project(&world.repo, "sandbox_mode = \"sandboxed\"\n");
    let err = world.load(&world.repo, &[]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:1:16: unknown variant `sandboxed`, expected one of `read-only`, \
             `workspace-write`, `danger-full-access`",
            file.display()
        )
    );
}

#[tokio::test]
async fn negative_doc_size_is_an_error() {
    let world = World::new();
    let file = world.user("project_doc_max_bytes = -1\n");
    let err = world.load(&world.repo, &[]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:1:25: invalid value: integer `-1`, expected usize",
            file.display()
        )
    );
}

#[tokio::test]
async fn unknown_keys_are_warnings_with_their_location() {
    let world = World::new();
    let file = world.user(
        "colour = \"blue\"\n[sandbox_workspace_write]\nnetwork = true\n[projects.\"/p\"]\ntrust = 1\n",
    );
    let config = world.load(&world.repo, &[]).await.unwrap();
    let at = |line| Location::File {
        path: file.clone(),
        line,
        column: 1,
    };
    assert_eq!(
        config.warnings,
        vec![
            ConfigWarning::UnknownKey {
                location: at(1),
                key: "colour".to_string(),
            },
            ConfigWarning::UnknownKey {
                location: at(5),
                key: "projects.\"/p\".trust".to_string(),
            },
            ConfigWarning::UnknownKey {
                location: at(3),
                key: "sandbox_workspace_write.network".to_string(),
            },
        ]
    );
    assert_eq!(
        config.warnings[0].to_string(),
        format!("{}:1:1: unknown key `colour` (ignored)", file.display())
    );
}

#[tokio::test]
async fn nonexistent_cwd_is_an_error_naming_it() {
    let world = World::new();
    let cwd = world.root.join("missing");
    let err = world.load(&cwd, &[]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "working directory {} does not exist or is not a directory",
            cwd.display()
        )
    );
}

#[tokio::test]
async fn relative_cwd_is_an_error() {
    let world = World::new();
    let err = world
        .load(std::path::Path::new("rel/dir"), &[])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "working directory rel/dir is not an absolute path"
    );
}
