use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use codex_protocol::SandboxPolicy;
use pretty_assertions::assert_eq;
use serde_json::json;

use super::Confinement;
use super::Launch;
use super::prepare_launch;
use super::seatbelt_launch;
use crate::error::ExecError;
use crate::protocol::StartParams;

fn params(cwd: &Path, policy: Option<serde_json::Value>) -> StartParams {
    StartParams {
        process_id: "p".to_string(),
        argv: vec!["/bin/echo".to_string(), "hi".to_string()],
        cwd: cwd.to_path_buf(),
        env: BTreeMap::new(),
        tty: false,
        pipe_stdin: false,
        arg0: None,
        sandbox_policy: policy.map(|value| serde_json::from_value(value).unwrap()),
    }
}

fn os(items: &[&str]) -> Vec<OsString> {
    items.iter().map(OsString::from).collect()
}

fn kind(result: Result<Launch, ExecError>) -> String {
    result.unwrap_err().kind().unwrap_or_default()
}

/// `workspaceWrite` over `roots` with full reads and no temp dirs.
#[cfg(target_os = "linux")]
fn workspace_write(roots: &[&Path]) -> serde_json::Value {
    json!({
        "type": "workspaceWrite",
        "writableRoots": roots,
        "readOnlyAccess": {"type": "fullAccess"},
        "networkAccess": false,
        "excludeTmpdirEnvVar": true,
        "excludeSlashTmp": true,
    })
}

/// A launch's command line: program, arguments, `argv[0]`.
fn command_line(launch: &Launch) -> (OsString, Vec<OsString>, Option<OsString>) {
    (
        launch.program.clone(),
        launch.args.clone(),
        launch.arg0.clone(),
    )
}

async fn prepare(params: &StartParams) -> Result<Launch, ExecError> {
    prepare_launch(params).await
}

#[tokio::test]
async fn without_a_policy_or_with_full_access_the_command_runs_as_is() {
    let dir = tempfile::tempdir().unwrap();
    let mut plain = params(dir.path(), None);
    plain.arg0 = Some("echo-alias".to_string());
    let expected = (
        OsString::from("/bin/echo"),
        os(&["hi"]),
        Some(OsString::from("echo-alias")),
    );
    let launch = prepare(&plain).await.unwrap();
    assert_eq!(command_line(&launch), expected);
    assert!(matches!(launch.confinement, Confinement::None));

    let mut full = params(dir.path(), Some(json!({"type": "dangerFullAccess"})));
    full.arg0 = Some("echo-alias".to_string());
    let launch = prepare(&full).await.unwrap();
    assert_eq!(command_line(&launch), expected);
    assert!(matches!(launch.confinement, Confinement::None));
}

#[test]
fn seatbelt_wraps_the_command_in_sandbox_exec_and_refuses_arg0() {
    let dir = tempfile::tempdir().unwrap();
    let start = params(
        dir.path(),
        Some(json!({"type": "readOnly", "access": {"type": "fullAccess"}})),
    );
    let policy: SandboxPolicy = start.sandbox_policy.clone().unwrap();

    let launch = seatbelt_launch(&start, &policy).unwrap();

    assert_eq!(launch.program, OsString::from("/usr/bin/sandbox-exec"));
    assert_eq!(launch.args[0], OsString::from("-p"));
    assert_eq!(
        launch.args[launch.args.len() - 3..],
        os(&["--", "/bin/echo", "hi"])
    );
    assert_eq!(launch.arg0, None);

    let mut with_arg0 = start;
    with_arg0.arg0 = Some("alias".to_string());
    assert_eq!(
        kind(seatbelt_launch(&with_arg0, &policy)),
        "sandboxUnavailable"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn linux_policies_spawn_bubblewrap_itself() {
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().canonicalize().unwrap();
    let start = params(&dir_path, Some(workspace_write(&[&dir_path])));

    let launch = prepare(&start).await.unwrap();

    let Confinement::Bwrap(bwrap) = &launch.confinement else {
        panic!("not bubblewrap: {launch:?}");
    };
    let fds: Vec<String> = bwrap.child_fds().iter().map(ToString::to_string).collect();
    let cwd = dir_path.to_str().unwrap();
    // The options are in the memory file `--args` names, so the command's environment
    // stays out of bubblewrap's world-readable command line.
    let options: Vec<String> = std::fs::read(format!("/proc/self/fd/{}", fds[2]))
        .unwrap()
        .split(|byte| *byte == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).replace(cwd, "{}"))
        .collect();
    assert_eq!(
        std::path::Path::new(&launch.program).file_name(),
        Some(std::ffi::OsStr::new("bwrap"))
    );
    assert_eq!(
        (launch.arg0.clone(), launch.request_env, launch.args.clone()),
        (
            None,
            false,
            os(&["--args", &fds[2], "--", "/bin/echo", "hi"])
        )
    );
    assert_eq!(
        options[..2],
        ["--json-status-fd".to_string(), fds[0].clone()]
    );
    assert_eq!(
        options[options.len() - 4..],
        ["--seccomp", &fds[1], "--chdir", "{}"].map(String::from)
    );
    for expected in [
        "--unshare-net",
        "--unshare-user",
        "--disable-userns",
        "--cap-drop",
    ] {
        assert!(options.contains(&expected.to_string()), "{options:?}");
    }
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn external_sandbox_keeps_the_command_and_adds_the_filter_without_network() {
    let dir = tempfile::tempdir().unwrap();
    let mut external = params(
        dir.path(),
        Some(json!({"type": "externalSandbox", "networkAccess": "restricted"})),
    );
    external.arg0 = Some("echo-alias".to_string());

    let launch = prepare(&external).await.unwrap();

    assert_eq!(
        command_line(&launch),
        (
            OsString::from("/bin/echo"),
            os(&["hi"]),
            Some(OsString::from("echo-alias"))
        )
    );
    assert!(matches!(launch.confinement, Confinement::SeccompFilter(_)));
    let open = params(
        dir.path(),
        Some(json!({"type": "externalSandbox", "networkAccess": "enabled"})),
    );
    let launch = prepare(&open).await.unwrap();
    assert!(matches!(launch.confinement, Confinement::None));
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn linux_refusals_happen_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");

    let bad_root = params(dir.path(), Some(workspace_write(&[&missing])));
    let err = prepare(&bad_root).await.unwrap_err();
    assert_eq!(err.kind().as_deref(), Some("sandboxDenied"));
    assert!(err.to_string().contains("does not exist"), "{err}");

    let good = params(dir.path(), Some(workspace_write(&[dir.path()])));
    let mut with_arg0 = good.clone();
    with_arg0.arg0 = Some("alias".to_string());
    assert_eq!(kind(prepare(&with_arg0).await), "sandboxUnavailable");

    // A missing program fails as it would unsandboxed (`spawnFailed`), not as exit 1 from
    // bubblewrap's own execvp.
    let mut missing_program = good;
    missing_program.argv[0] = "definitely-not-a-program".to_string();
    let err = prepare(&missing_program).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to start `definitely-not-a-program`: No such file or directory (os error 2)"
    );
}
