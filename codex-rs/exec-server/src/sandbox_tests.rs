use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use codex_protocol::SandboxPolicy;
use pretty_assertions::assert_eq;
use serde_json::json;

use super::Launch;
use super::LinuxSandboxExe;
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

#[test]
fn without_a_policy_or_with_full_access_the_command_runs_as_is() {
    let dir = tempfile::tempdir().unwrap();
    let mut plain = params(dir.path(), None);
    plain.arg0 = Some("echo-alias".to_string());
    let expected = Launch {
        program: OsString::from("/bin/echo"),
        args: os(&["hi"]),
        arg0: Some(OsString::from("echo-alias")),
    };
    assert_eq!(
        prepare_launch(&plain, &LinuxSandboxExe::Unconfigured).unwrap(),
        expected
    );

    let mut full = params(dir.path(), Some(json!({"type": "dangerFullAccess"})));
    full.arg0 = Some("echo-alias".to_string());
    assert_eq!(
        prepare_launch(&full, &LinuxSandboxExe::Unconfigured).unwrap(),
        expected
    );
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
#[test]
fn linux_policies_go_through_codex_linux_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let policy = workspace_write(&[dir.path()]);
    let start = params(dir.path(), Some(policy));
    let helper = std::env::current_exe().unwrap();

    let launch = prepare_launch(&start, &LinuxSandboxExe::Path(helper.clone())).unwrap();

    let policy_json = serde_json::to_string(start.sandbox_policy.as_ref().unwrap()).unwrap();
    let cwd = dir.path().to_str().unwrap();
    assert_eq!(
        launch,
        Launch {
            program: helper.into_os_string(),
            args: os(&[
                "--sandbox-policy-json",
                &policy_json,
                "--cwd",
                cwd,
                "--",
                "/bin/echo",
                "hi",
            ]),
            arg0: None,
        }
    );
    let by_arg0 = prepare_launch(&start, &LinuxSandboxExe::CurrentExe).unwrap();
    assert_eq!(by_arg0.arg0, Some(OsString::from("codex-linux-sandbox")));

    // externalSandbox without network gets codex-linux-sandbox's seccomp filter.
    let external = params(
        dir.path(),
        Some(json!({"type": "externalSandbox", "networkAccess": "restricted"})),
    );
    let launch = prepare_launch(&external, &LinuxSandboxExe::CurrentExe).unwrap();
    assert_eq!(launch.args[0], OsString::from("--sandbox-policy-json"));
    let open = params(
        dir.path(),
        Some(json!({"type": "externalSandbox", "networkAccess": "enabled"})),
    );
    let launch = prepare_launch(&open, &LinuxSandboxExe::CurrentExe).unwrap();
    assert_eq!(launch.program, OsString::from("/bin/echo"));
}

#[cfg(target_os = "linux")]
#[test]
fn linux_refusals_happen_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let exe = LinuxSandboxExe::CurrentExe;

    let bad_root = params(dir.path(), Some(workspace_write(&[&missing])));
    let err = prepare_launch(&bad_root, &exe).unwrap_err();
    assert_eq!(err.kind().as_deref(), Some("sandboxDenied"));
    assert!(err.to_string().contains("does not exist"), "{err}");

    let good = params(dir.path(), Some(workspace_write(&[dir.path()])));
    assert_eq!(
        kind(prepare_launch(&good, &LinuxSandboxExe::Unconfigured)),
        "sandboxUnavailable"
    );
    assert_eq!(
        kind(prepare_launch(
            &good,
            &LinuxSandboxExe::Path(dir.path().join("no-such-sandbox"))
        )),
        "sandboxUnavailable"
    );
    let mut with_arg0 = good;
    with_arg0.arg0 = Some("alias".to_string());
    assert_eq!(kind(prepare_launch(&with_arg0, &exe)), "sandboxUnavailable");
}
