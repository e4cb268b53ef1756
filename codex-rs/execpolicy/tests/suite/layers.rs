//! Rules from the config layer directories: system, user and trusted project.

use std::path::Path;
use std::path::PathBuf;

use codex_config::ConfigOptions;
use codex_config::LayerDir;
use codex_config::LayerKind;
use codex_config::LocalFs;
use codex_execpolicy::Decision;
use codex_execpolicy::MatchOptions;
use pretty_assertions::assert_eq;

use super::argv;

struct Layers {
    _root: tempfile::TempDir,
    system: PathBuf,
    home: PathBuf,
    project: PathBuf,
    cwd: PathBuf,
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A system dir, a `$CODEX_HOME` and a project (`.git` at its root) with a `sub/` cwd,
/// each layer with a rule for `tool <layer>`.
fn layers() -> Layers {
    let root = tempfile::tempdir().unwrap();
    let base = root.path().canonicalize().unwrap();
    let (system, home, project) = (base.join("etc"), base.join("home"), base.join("proj"));
    let cwd = project.join("sub");
    std::fs::create_dir_all(project.join(".git")).unwrap();
    std::fs::create_dir_all(&cwd).unwrap();
    write(
        &system.join("rules/default.rules"),
        "prefix_rule(pattern = [\"tool\", \"system\"], decision = \"forbidden\")\n",
    );
    write(
        &home.join("rules/b.rules"),
        "prefix_rule(pattern = [\"tool\", \"user-b\"])\n",
    );
    write(
        &home.join("rules/a.rules"),
        "prefix_rule(pattern = [\"tool\", \"user-a\"])\n",
    );
    // Not a rules file: ignored.
    write(&home.join("rules/notes.txt"), "not starlark");
    write(
        &project.join(".codex/rules/p.rules"),
        "prefix_rule(pattern = [\"tool\", \"project\"], decision = \"prompt\")\n",
    );
    write(
        &cwd.join(".codex/rules/s.rules"),
        "prefix_rule(pattern = [\"tool\", \"sub\"], decision = \"prompt\")\n",
    );
    Layers {
        _root: root,
        system,
        home,
        project,
        cwd,
    }
}

fn trust(layers: &Layers) {
    write(
        &layers.home.join("config.toml"),
        &format!(
            "[projects.{:?}]\ntrust_level = \"trusted\"\n",
            layers.project.display().to_string()
        ),
    );
}

async fn dirs(layers: &Layers) -> Vec<LayerDir> {
    let options = ConfigOptions::with_paths(&layers.cwd, &layers.home, &layers.system);
    let config = codex_config::load_config(&options, &LocalFs).await.unwrap();
    codex_config::layer_dirs(&options, &config)
}

/// The second word of every rule, in load order.
fn layer_names(dirs: &[LayerDir]) -> Vec<String> {
    let policy = codex_execpolicy::load_layered_policy(dirs.iter().map(|d| &d.dir)).unwrap();
    policy
        .rules()
        .iter()
        .map(|rule| rule.pattern[1].alternatives()[0].clone())
        .collect()
}

#[tokio::test]
async fn a_trusted_projects_rules_come_after_the_system_and_user_rules() {
    let layers = layers();
    trust(&layers);
    let dirs = dirs(&layers).await;
    assert_eq!(
        dirs,
        vec![
            LayerDir {
                kind: LayerKind::System,
                dir: layers.system.clone()
            },
            LayerDir {
                kind: LayerKind::User,
                dir: layers.home.clone()
            },
            LayerDir {
                kind: LayerKind::Project,
                dir: layers.project.join(".codex")
            },
            LayerDir {
                kind: LayerKind::Project,
                dir: layers.cwd.join(".codex")
            },
        ]
    );
    assert_eq!(
        codex_execpolicy::rules_files_in_layers(dirs.iter().map(|d| &d.dir)).unwrap(),
        vec![
            layers.system.join("rules/default.rules"),
            layers.home.join("rules/a.rules"),
            layers.home.join("rules/b.rules"),
            layers.project.join(".codex/rules/p.rules"),
            layers.cwd.join(".codex/rules/s.rules"),
        ]
    );
    assert_eq!(
        layer_names(&dirs),
        vec!["system", "user-a", "user-b", "project", "sub"]
    );
    let policy = codex_execpolicy::load_layered_policy(dirs.iter().map(|d| &d.dir)).unwrap();
    let decision = |word: &str| {
        policy
            .evaluate(&argv(&["tool", word]), &MatchOptions::default())
            .decision
    };
    assert_eq!(
        [
            decision("system"),
            decision("user-a"),
            decision("sub"),
            decision("other")
        ],
        [
            Some(Decision::Forbidden),
            Some(Decision::Allow),
            Some(Decision::Prompt),
            None
        ]
    );
}

#[tokio::test]
async fn an_untrusted_projects_rules_are_not_read() {
    let layers = layers();
    let dirs = dirs(&layers).await;
    assert_eq!(
        dirs.iter().map(|d| d.kind).collect::<Vec<_>>(),
        vec![LayerKind::System, LayerKind::User]
    );
    assert_eq!(layer_names(&dirs), vec!["system", "user-a", "user-b"]);
}

#[test]
fn missing_layer_dirs_have_no_rules_and_a_bad_file_names_itself() {
    let layers = layers();
    let missing = layers.home.join("nowhere");
    assert_eq!(
        codex_execpolicy::rules_files_in_layers([&missing]).unwrap(),
        Vec::<PathBuf>::new()
    );
    let bad = layers.home.join("rules/c.rules");
    write(
        &bad,
        "prefix_rule(pattern = [\"x\"], decision = \"sometimes\")\n",
    );
    let err = codex_execpolicy::load_layered_policy([&layers.system, &layers.home]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:1:1: invalid decision \"sometimes\": expected \"allow\", \"prompt\" or \
             \"forbidden\"",
            bad.display()
        )
    );
}
