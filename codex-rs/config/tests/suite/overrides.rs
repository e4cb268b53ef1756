//! `-c key=value` overrides.

use codex_config::ConfigError;
use codex_config::ConfigWarning;
use codex_config::LayerSource;
use codex_config::Location;
use codex_config::SandboxMode;
use pretty_assertions::assert_eq;

use super::World;

#[tokio::test]
async fn dotted_key_sets_a_nested_value_and_wins_over_files() {
    let world = World::new();
    world.user(
        "sandbox_mode = \"workspace-write\"\n[sandbox_workspace_write]\nnetwork_access = false\n",
    );
    let config = world
        .load(
            &world.repo,
            &["sandbox_workspace_write.network_access=true"],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            config.sandbox_policy.has_full_network_access(),
            config
                .source_of("sandbox_workspace_write.network_access")
                .cloned()
        ),
        (
            true,
            Some(LayerSource::Override {
                key: "sandbox_workspace_write.network_access".to_string(),
                value: "true".to_string(),
            })
        )
    );
}

#[tokio::test]
async fn later_override_wins_and_bare_strings_are_accepted() {
    let world = World::new();
    let config = world
        .load(
            &world.repo,
            &[
                "sandbox_mode=\"danger-full-access\"",
                "sandbox_mode=workspace-write",
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            config.sandbox_mode,
            config.source_of("sandbox_mode").cloned()
        ),
        (
            SandboxMode::WorkspaceWrite,
            Some(LayerSource::Override {
                key: "sandbox_mode".to_string(),
                value: "workspace-write".to_string(),
            })
        )
    );
}

#[tokio::test]
async fn wrong_type_in_override_names_the_override() {
    let world = World::new();
    let err = world
        .load(&world.repo, &["project_doc_max_bytes=lots"])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "-c project_doc_max_bytes=lots: invalid type: string \"lots\", expected usize"
    );
    let ConfigError::Invalid { location, .. } = err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(
        location,
        Location::Override {
            raw: "project_doc_max_bytes=lots".to_string()
        }
    );
}

#[tokio::test]
async fn bad_sandbox_mode_in_override_lists_the_valid_values() {
    let world = World::new();
    let err = world
        .load(&world.repo, &["sandbox_mode=bogus"])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "-c sandbox_mode=bogus: unknown variant `bogus`, expected one of `read-only`, \
         `workspace-write`, `danger-full-access`"
    );
}

#[tokio::test]
async fn override_without_equals_is_an_error() {
    let world = World::new();
    let err = world
        .load(&world.repo, &["sandbox_mode"])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid override `-c sandbox_mode`: expected key=value"
    );
}

#[tokio::test]
async fn unknown_override_key_is_a_warning() {
    let world = World::new();
    let config = world
        .load(&world.repo, &["sandbox_workspace_write.colour=1"])
        .await
        .unwrap();
    assert_eq!(
        config.warnings,
        vec![ConfigWarning::UnknownKey {
            location: Location::Override {
                raw: "sandbox_workspace_write.colour=1".to_string()
            },
            key: "sandbox_workspace_write.colour".to_string(),
        }]
    );
}
