//! Local requirements, their checks, and how they constrain the config.

use codex_config::ConfigError;
use codex_config::LayerSource;
use codex_config::Location;
use codex_config::Requirements;
use codex_config::RequirementsError;
use codex_config::SandboxMode;
use codex_protocol::NetworkAccess;
use codex_protocol::ReadOnlyAccess;
use codex_protocol::SandboxPolicy;
use pretty_assertions::assert_eq;

use super::World;

#[tokio::test]
async fn configured_mode_outside_the_allowed_list_fails_at_load() {
    let world = World::new();
    world.requirements("allowed_sandbox_modes = [\"read-only\", \"workspace-write\"]\n");
    let user = world.user("sandbox_mode = \"danger-full-access\"\n");
    let err = world.load(&world.repo, &[]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "user config {}: sandbox mode `danger-full-access` is not allowed by requirements \
             (allowed: read-only, workspace-write)",
            user.display()
        )
    );
    let ConfigError::SandboxModeForbidden { set_by, .. } = err else {
        panic!("expected SandboxModeForbidden, got {err:?}");
    };
    assert_eq!(set_by, LayerSource::User { file: user });
}

#[tokio::test]
async fn allowed_mode_loads_and_default_is_the_most_restrictive_allowed() {
    let world = World::new();
    world.requirements("allowed_sandbox_modes = [\"danger-full-access\", \"workspace-write\"]\n");
    let config = world.load(&world.repo, &[]).await.unwrap();
    assert_eq!(
        (
            config.sandbox_mode,
            config.requirements.allowed_sandbox_modes()
        ),
        (
            SandboxMode::WorkspaceWrite,
            vec![SandboxMode::WorkspaceWrite, SandboxMode::DangerFullAccess]
        )
    );
}

#[tokio::test]
async fn empty_allowed_list_forbids_every_mode() {
    let world = World::new();
    world.requirements("allowed_sandbox_modes = []\n");
    let err = world.load(&world.repo, &[]).await.unwrap_err();
    assert_eq!(err.to_string(), "requirements forbid every sandbox mode");
}

#[tokio::test]
async fn bad_value_in_requirements_names_file_line_column() {
    let world = World::new();
    let file = world.requirements("allowed_sandbox_modes = [\"read-only\", \"yolo\"]\n");
    let err = world.load(&world.repo, &[]).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:1:39: unknown variant `yolo`, expected one of `read-only`, \
             `workspace-write`, `danger-full-access`",
            file.display()
        )
    );
}

#[tokio::test]
async fn plain_http_cloud_url_is_refused_without_allow_http() {
    let world = World::new();
    let file =
        world.requirements("[cloud_requirements]\nurl = \"http://example.invalid/r.toml\"\n");
    let mut options = world.options(&world.repo, &[]);
    options.cloud.allow_http = false;
    let err = codex_config::load_config(&options, &codex_config::LocalFs)
        .await
        .unwrap_err();
    let ConfigError::Requirements(RequirementsError::Invalid { location, message }) = err else {
        panic!("expected Invalid, got {err:?}");
    };
    assert_eq!(
        (location, message),
        (
            Location::File {
                path: file,
                line: 2,
                column: 7
            },
            "cloud requirements url `http://example.invalid/r.toml` must use https://".to_string()
        )
    );
}

#[test]
fn check_policy_maps_policies_to_modes() {
    let requirements = Requirements::from_lists(
        Some(&[SandboxMode::ReadOnly, SandboxMode::WorkspaceWrite]),
        /*cloud*/ None,
    )
    .unwrap();
    let read_only = SandboxPolicy::ReadOnly {
        access: ReadOnlyAccess::FullAccess,
    };
    let external = SandboxPolicy::ExternalSandbox {
        network_access: NetworkAccess::Restricted,
    };
    let results: Vec<Result<(), String>> = [read_only, SandboxPolicy::DangerFullAccess, external]
        .iter()
        .map(|policy| requirements.check_policy(policy).map_err(|e| e.to_string()))
        .collect();
    let refused = "sandbox mode `danger-full-access` is not allowed by requirements \
                   (allowed: read-only, workspace-write)"
        .to_string();
    assert_eq!(results, vec![Ok(()), Err(refused.clone()), Err(refused)]);
}

#[test]
fn lists_intersect_and_an_empty_intersection_is_an_error() {
    let both = Requirements::from_lists(
        Some(&[SandboxMode::ReadOnly, SandboxMode::WorkspaceWrite]),
        Some(&[SandboxMode::WorkspaceWrite, SandboxMode::DangerFullAccess]),
    )
    .unwrap();
    assert_eq!(
        both.allowed_sandbox_modes(),
        vec![SandboxMode::WorkspaceWrite]
    );
    let none = Requirements::from_lists(
        Some(&[SandboxMode::ReadOnly]),
        Some(&[SandboxMode::DangerFullAccess]),
    );
    assert_eq!(
        none.map_err(|e| e.to_string()),
        Err("requirements forbid every sandbox mode".to_string())
    );
    assert_eq!(
        Requirements::unrestricted()
            .check_mode(SandboxMode::DangerFullAccess)
            .map_err(|e| e.to_string()),
        Ok(())
    );
}
