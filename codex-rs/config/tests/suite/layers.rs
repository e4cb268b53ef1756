//! Layer order, deep merging, sources, trust and the project root.

use std::collections::BTreeMap;

use codex_config::Config;
use codex_config::ConfigWarning;
use codex_config::LayerSource;
use codex_config::Location;
use codex_config::Requirements;
use codex_config::SandboxMode;
use codex_protocol::ReadOnlyAccess;
use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;
use pretty_assertions::assert_eq;

use super::World;

fn abs(path: &std::path::Path) -> AbsolutePathBuf {
    AbsolutePathBuf::try_from_absolute(path).unwrap()
}

#[tokio::test]
async fn every_layer_merges_deeply_and_records_its_source() {
    let world = World::new();
    let system = world.system(
        "sandbox_mode = \"read-only\"\nproject_doc_max_bytes = 100\n\
         [sandbox_workspace_write]\nnetwork_access = true\n",
    );
    let user = world.user(&format!(
        "sandbox_mode = \"workspace-write\"\n[sandbox_workspace_write]\n\
         writable_roots = [\"extra\", \"/abs/out\"]\n{}",
        world.trust_repo()
    ));
    let sub = world.repo.join("sub");
    let project_root_file = world.project(
        &world.repo,
        "project_doc_fallback_filenames = [\"X.md\"]\n[sandbox_workspace_write]\nexclude_slash_tmp = true\n",
    );
    let project_sub_file = world.project(
        &sub,
        "[sandbox_workspace_write]\nexclude_slash_tmp = false\nexclude_tmpdir_env_var = true\n",
    );

    let config = world
        .load(
            &sub,
            &[
                "sandbox_workspace_write.network_access=false",
                "project_doc_max_bytes=0",
            ],
        )
        .await
        .unwrap();

    let system = LayerSource::System { file: system };
    let user = LayerSource::User { file: user };
    let project_root = LayerSource::Project {
        file: project_root_file,
    };
    let project_sub = LayerSource::Project {
        file: project_sub_file,
    };
    let net = LayerSource::Override {
        key: "sandbox_workspace_write.network_access".to_string(),
        value: "false".to_string(),
    };
    let bytes = LayerSource::Override {
        key: "project_doc_max_bytes".to_string(),
        value: "0".to_string(),
    };
    let trust_key = format!("projects.\"{}\".trust_level", world.repo.display());
    let expected = Config {
        cwd: abs(&sub),
        project_root: abs(&world.repo),
        project_trusted: true,
        sandbox_mode: SandboxMode::WorkspaceWrite,
        sandbox_policy: SandboxPolicy::WorkspaceWrite {
            writable_roots: vec![
                abs(&sub),
                abs(&sub.join("extra")),
                abs(std::path::Path::new("/abs/out")),
            ],
            read_only_access: ReadOnlyAccess::FullAccess,
            network_access: false,
            exclude_tmpdir_env_var: true,
            exclude_slash_tmp: false,
        },
        project_root_markers: vec![".git".to_string()],
        project_doc_max_bytes: 0,
        project_doc_fallback_filenames: vec!["X.md".to_string()],
        layers: vec![
            system,
            user.clone(),
            project_root.clone(),
            project_sub.clone(),
            net.clone(),
            bytes.clone(),
        ],
        sources: BTreeMap::from([
            ("sandbox_mode".to_string(), user.clone()),
            ("project_doc_max_bytes".to_string(), bytes),
            ("project_doc_fallback_filenames".to_string(), project_root),
            ("sandbox_workspace_write.network_access".to_string(), net),
            (
                "sandbox_workspace_write.writable_roots".to_string(),
                user.clone(),
            ),
            (
                "sandbox_workspace_write.exclude_slash_tmp".to_string(),
                project_sub.clone(),
            ),
            (
                "sandbox_workspace_write.exclude_tmpdir_env_var".to_string(),
                project_sub,
            ),
            (trust_key, user),
        ]),
        requirements: Requirements::unrestricted(),
        warnings: Vec::new(),
    };
    assert_eq!(config, expected);
}

#[tokio::test]
async fn defaults_when_no_layer_exists() {
    let world = World::new();
    let config = world.load(&world.repo, &[]).await.unwrap();
    let expected = Config {
        cwd: abs(&world.repo),
        project_root: abs(&world.repo),
        project_trusted: false,
        sandbox_mode: SandboxMode::ReadOnly,
        sandbox_policy: SandboxPolicy::ReadOnly {
            access: ReadOnlyAccess::FullAccess,
        },
        project_root_markers: vec![".git".to_string()],
        project_doc_max_bytes: 32 * 1024,
        project_doc_fallback_filenames: Vec::new(),
        layers: Vec::new(),
        sources: BTreeMap::new(),
        requirements: Requirements::unrestricted(),
        warnings: Vec::new(),
    };
    assert_eq!(config, expected);
}

#[tokio::test]
async fn untrusted_project_layer_is_ignored() {
    let world = World::new();
    world.project(&world.repo, "sandbox_mode = \"danger-full-access\"\n");
    let config = world.load(&world.repo, &[]).await.unwrap();
    assert_eq!(
        (config.project_trusted, config.sandbox_mode, config.layers),
        (false, SandboxMode::ReadOnly, Vec::new())
    );

    // An explicit `untrusted` is the same.
    world.user(&format!(
        "[projects.\"{}\"]\ntrust_level = \"untrusted\"\n",
        world.repo.display()
    ));
    let config = world.load(&world.repo, &[]).await.unwrap();
    assert_eq!(
        (config.project_trusted, config.sandbox_mode),
        (false, SandboxMode::ReadOnly)
    );
}

#[tokio::test]
async fn trust_of_another_directory_does_not_count() {
    let world = World::new();
    world.user(&format!(
        "[projects.\"{}\"]\ntrust_level = \"trusted\"\n",
        world.root.display()
    ));
    world.project(&world.repo, "sandbox_mode = \"workspace-write\"\n");
    let config = world.load(&world.repo, &[]).await.unwrap();
    assert_eq!(
        (config.project_trusted, config.sandbox_mode),
        (false, SandboxMode::ReadOnly)
    );
}

#[tokio::test]
async fn project_layer_cannot_set_trust_or_root_markers() {
    let world = World::new();
    world.user(&world.trust_repo());
    let file = world.project(
        &world.repo,
        "project_root_markers = [\"nope\"]\n[projects.\"/elsewhere\"]\ntrust_level = \"trusted\"\n",
    );
    let config = world.load(&world.repo, &[]).await.unwrap();
    let location = |line, column| Location::File {
        path: file.clone(),
        line,
        column,
    };
    assert_eq!(
        (config.project_root_markers, config.warnings),
        (
            vec![".git".to_string()],
            vec![
                ConfigWarning::IgnoredInProject {
                    location: location(2, 2),
                    key: "projects".to_string(),
                },
                ConfigWarning::IgnoredInProject {
                    location: location(1, 1),
                    key: "project_root_markers".to_string(),
                },
            ]
        )
    );
}

#[tokio::test]
async fn empty_markers_make_the_cwd_the_root() {
    let world = World::new();
    let sub = world.repo.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    world.user(&format!(
        "project_root_markers = []\n[projects.\"{}\"]\ntrust_level = \"trusted\"\n",
        sub.display()
    ));
    // The repo-level layer is above the root (= cwd), so it is not read.
    world.project(&world.repo, "sandbox_mode = \"danger-full-access\"\n");
    let config = world.load(&sub, &[]).await.unwrap();
    assert_eq!(
        (
            config.project_root,
            config.project_trusted,
            config.sandbox_mode
        ),
        (abs(&sub), true, SandboxMode::ReadOnly)
    );
}

#[tokio::test]
async fn markers_come_from_overrides_and_no_marker_means_the_cwd() {
    let world = World::new();
    let deep = world.repo.join("a/b");
    std::fs::create_dir_all(&deep).unwrap();
    world.write(&world.repo.join("a/ROOT"), "");
    let config = world
        .load(&deep, &["project_root_markers=[\"ROOT\"]"])
        .await
        .unwrap();
    assert_eq!(config.project_root, abs(&world.repo.join("a")));

    let config = world
        .load(&deep, &["project_root_markers=[\"MISSING\"]"])
        .await
        .unwrap();
    assert_eq!(config.project_root, abs(&deep));
}

/// A remote-looking project filesystem: nothing of the project exists on local disk.
struct FakeFs {
    dirs: Vec<std::path::PathBuf>,
    files: BTreeMap<std::path::PathBuf, String>,
}

impl codex_config::ProjectFs for FakeFs {
    async fn read_to_string(&self, path: &std::path::Path) -> std::io::Result<Option<String>> {
        Ok(self.files.get(path).cloned())
    }

    async fn exists(&self, path: &std::path::Path) -> std::io::Result<bool> {
        Ok(self.files.contains_key(path) || self.dirs.iter().any(|d| d == path))
    }

    async fn is_dir(&self, path: &std::path::Path) -> std::io::Result<bool> {
        Ok(self.dirs.iter().any(|d| d == path))
    }
}

#[tokio::test]
async fn project_side_goes_through_the_project_fs_seam() {
    let world = World::new();
    let remote_repo = std::path::PathBuf::from("/remote/repo");
    let remote_cwd = remote_repo.join("src");
    let project_file = remote_repo.join(".codex/config.toml");
    world.user(&format!(
        "[projects.\"{}\"]\ntrust_level = \"trusted\"\n",
        remote_repo.display()
    ));
    let fs = FakeFs {
        dirs: vec![
            remote_repo.clone(),
            remote_cwd.clone(),
            remote_repo.join(".git"),
        ],
        files: BTreeMap::from([(
            project_file.clone(),
            "sandbox_mode = \"workspace-write\"\n".to_string(),
        )]),
    };
    let config = codex_config::load_config(&world.options(&remote_cwd, &[]), &fs)
        .await
        .unwrap();
    assert_eq!(
        (
            config.project_root.clone(),
            config.sandbox_mode,
            config.source_of("sandbox_mode").cloned()
        ),
        (
            abs(&remote_repo),
            SandboxMode::WorkspaceWrite,
            Some(LayerSource::Project { file: project_file })
        )
    );
}

#[tokio::test]
async fn layer_dirs_list_every_layer_directory_and_skip_codex_home_as_a_project() {
    use codex_config::LayerDir;
    use codex_config::LayerKind;

    let world = World::new();
    // `$CODEX_HOME` is `<root>/home/.codex`: a project rooted at `<root>/home` must not
    // list it again as a project layer.
    let home = world.root.join("home");
    let sub = home.join("sub");
    std::fs::create_dir_all(home.join(".git")).unwrap();
    std::fs::create_dir_all(&sub).unwrap();
    world.user(&format!(
        "[projects.\"{}\"]\ntrust_level = \"trusted\"\n",
        home.display()
    ));
    let options = world.options(&sub, &[]);
    let config = codex_config::load_config(&options, &codex_config::LocalFs)
        .await
        .unwrap();
    let dir = |kind, dir: std::path::PathBuf| LayerDir { kind, dir };
    assert_eq!(
        codex_config::layer_dirs(&options, &config),
        vec![
            dir(LayerKind::System, world.system_dir.clone()),
            dir(LayerKind::User, world.codex_home.clone()),
            dir(LayerKind::Project, sub.join(".codex")),
        ]
    );

    // Untrusted: only the system and user directories, whether or not they exist.
    let options = world.options(&world.repo, &[]);
    let config = world.load(&world.repo, &[]).await.unwrap();
    assert_eq!(
        codex_config::layer_dirs(&options, &config),
        vec![
            dir(LayerKind::System, world.system_dir.clone()),
            dir(LayerKind::User, world.codex_home.clone()),
        ]
    );
}
