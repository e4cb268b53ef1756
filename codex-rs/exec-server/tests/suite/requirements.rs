//! The administrator's requirements (`/etc/codex/requirements.toml`) enforced by the real
//! server: it runs inside bubblewrap with its own `/etc`, where the test's requirements
//! file is bound, so the host's `/etc` is never touched.
#![cfg(target_os = "linux")]

use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::cwd;
use super::harness::start_params;

/// `bwrap` arguments that give the server an `/etc` holding only `requirements`. The
/// server dies with bubblewrap (which the test's `TestServer` kills): bubblewrap forks it
/// rather than running it in its place.
fn own_etc(requirements: &Path) -> Vec<String> {
    [
        "bwrap",
        "--die-with-parent",
        "--unshare-user",
        "--dev-bind",
        "/",
        "/",
        "--tmpfs",
        "/etc",
        "--dir",
        "/etc/codex",
        "--ro-bind",
    ]
    .iter()
    .map(ToString::to_string)
    .chain([
        requirements.display().to_string(),
        "/etc/codex/requirements.toml".to_string(),
        "--".to_string(),
    ])
    .collect()
}

fn refusal(response: &Value) -> (i64, String) {
    (
        response["error"]["code"].as_i64().unwrap_or_default(),
        response["error"]["data"]["kind"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[tokio::test]
async fn modes_the_requirements_forbid_are_refused_before_anything_runs() {
    let dir = cwd();
    let requirements = dir.path().join("requirements.toml");
    std::fs::write(
        &requirements,
        "allowed_sandbox_modes = [\"workspace-write\"]\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("file.txt"), "content").unwrap();
    let wrapper = own_etc(&requirements);
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let server = TestServer::start_under(&wrapper, &[]);
    let (mut client, _) = RawClient::initialized(&server.url).await;

    // No policy: the command would run unconfined (danger-full-access).
    let mut params = start_params("p", "touch ran", dir.path());
    let unconfined = client.request("process/start", params.clone()).await;
    params["sandboxPolicy"] = json!({"type": "readOnly", "access": {"type": "fullAccess"}});
    params["processId"] = json!("q");
    let read_only = client.request("process/start", params).await;
    let file = dir.path().join("file.txt");
    let fs_unconfined = client.request("fs/readFile", json!({"path": file})).await;
    let allowed_policy = json!({
        "type": "workspaceWrite",
        "writableRoots": [dir.path()],
        "readOnlyAccess": {"type": "fullAccess"},
        "networkAccess": false,
        "excludeTmpdirEnvVar": true,
        "excludeSlashTmp": true,
    });
    let fs_allowed = client
        .request(
            "fs/readFile",
            json!({"path": file, "sandboxPolicy": allowed_policy}),
        )
        .await;

    let denied = (-32008, "sandboxDenied".to_string());
    assert_eq!(
        (
            refusal(&unconfined),
            refusal(&read_only),
            refusal(&fs_unconfined)
        ),
        (denied.clone(), denied.clone(), denied)
    );
    let message = unconfined["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("danger-full-access"), "{message}");
    assert!(!dir.path().join("ran").exists(), "nothing ran");
    assert_eq!(fs_allowed["result"]["dataBase64"], json!("Y29udGVudA=="));
}

#[test]
fn unreadable_requirements_stop_the_server_from_starting() {
    let dir = cwd();
    let requirements = dir.path().join("requirements.toml");
    std::fs::write(&requirements, "allowed_sandbox_modes = [\"yolo\"]\n").unwrap();
    let wrapper = own_etc(&requirements);
    let binary = codex_utils_cargo_bin::cargo_bin("codex-exec-server").unwrap();
    let output = std::process::Command::new(&wrapper[0])
        .args(&wrapper[1..])
        .arg(binary)
        .args(["--listen", "ws://127.0.0.1:0"])
        .env("HOME", dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned()
        ),
        (false, String::new())
    );
    assert!(
        stderr.contains("/etc/codex/requirements.toml") && stderr.contains("yolo"),
        "{stderr}"
    );
}
