//! `codex debug instructions`, locally and through an exec-server whose view of the same
//! path differs: the exec-server runs inside bubblewrap with another directory bound at the
//! project's path, so only the server's contents may appear.

use std::io::BufRead;
use std::io::BufReader;
use std::path::Path;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

fn codex() -> Command {
    Command::new(codex_utils_cargo_bin::cargo_bin!("codex").expect("codex"))
}

fn project(root: &Path, text: &str) {
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("AGENTS.md"), text).unwrap();
    std::fs::write(root.join("sub/AGENTS.md"), format!("{text} (sub)")).unwrap();
}

fn instructions(home: &Path, cwd: &Path, url: Option<&str>) -> Value {
    debug("instructions", home, cwd, url)
}

/// `codex debug WHAT --json -C cwd`, with `home` as `$CODEX_HOME`.
fn debug(what: &str, home: &Path, cwd: &Path, url: Option<&str>) -> Value {
    let mut command = codex();
    command
        .args(["debug", what, "--json", "-C"])
        .arg(cwd)
        .env("CODEX_HOME", home)
        .env_remove("CODEX_EXEC_SERVER_URL");
    if let Some(url) = url {
        command.args(["--exec-server-url", url]);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `codex exec-server` inside bubblewrap, with `remote` bound at `path`; killed on drop.
struct BoundServer(Child, String);

impl BoundServer {
    fn start(remote: &Path, path: &Path) -> Self {
        let codex = codex_utils_cargo_bin::cargo_bin!("codex").unwrap();
        let mut child = Command::new("bwrap")
            .args([
                "--die-with-parent",
                "--unshare-user",
                "--dev-bind",
                "/",
                "/",
                "--bind",
            ])
            .arg(remote)
            .arg(path)
            .arg("--")
            .arg(codex)
            .args(["exec-server", "--listen", "ws://127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("ws://"), "{line}");
        Self(child, line.trim().to_string())
    }
}

impl Drop for BoundServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn instructions_come_from_the_side_that_holds_the_project() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let home = base.join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::write(home.join("AGENTS.md"), "home").unwrap();
    let local = base.join("project");
    let remote = base.join("remote-copy");
    project(&local, "local");
    project(&remote, "remote");
    let cwd = local.join("sub");

    let server = BoundServer::start(&remote, &local);
    let local_view = instructions(&home, &cwd, /*url*/ None);
    let remote_view = instructions(&home, &cwd, Some(&server.1));

    let expected = |side: &str| {
        json!({
            "sources": [
                home.join("AGENTS.md"),
                local.join("AGENTS.md"),
                local.join("sub/AGENTS.md"),
            ],
            "text": format!("home\n\n--- project-doc ---\n\n{side}\n\n{side} (sub)"),
        })
    };
    assert_eq!(
        (local_view, remote_view),
        (expected("local"), expected("remote"))
    );

    // The trusted project's `.codex/config.toml` is read from the same side.
    std::fs::write(
        home.join("config.toml"),
        format!(
            "[projects.\"{}\"]\ntrust_level = \"trusted\"\n",
            local.display()
        ),
    )
    .unwrap();
    for (root, bytes) in [(&local, 1111), (&remote, 2222)] {
        std::fs::create_dir_all(root.join(".codex")).unwrap();
        std::fs::write(
            root.join(".codex/config.toml"),
            format!("project_doc_max_bytes = {bytes}\n"),
        )
        .unwrap();
    }
    let key = "project_doc_max_bytes";
    let value = |view: Value| view["values"][key].clone();
    let source = json!(format!(
        "project config {}",
        local.join(".codex/config.toml").display()
    ));
    assert_eq!(
        (
            value(debug("config", &home, &cwd, /*url*/ None)),
            value(debug("config", &home, &cwd, Some(&server.1)))
        ),
        (
            json!({"value": 1111, "source": source}),
            json!({"value": 2222, "source": source})
        )
    );
}

#[test]
fn a_remote_working_directory_must_be_named() {
    let output = codex()
        .args([
            "debug",
            "instructions",
            "--exec-server-url",
            "ws://127.0.0.1:9",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
}
