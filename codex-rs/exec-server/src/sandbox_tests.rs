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
        cwd: cwd.try_into().unwrap(),
        env: BTreeMap::new(),
        tty: false,
        pty_size: None,
        pipe_stdin: false,
        arg0: None,
        sandbox_policy: policy.map(|value| serde_json::from_value(value).unwrap()),
        limits: None,
        output_mode: crate::protocol::OutputMode::Pace,
        escalation: None,
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
    prepare_launch(
        params,
        &std::sync::Arc::default(),
        &[],
        /*escalation*/ None,
    )
    .await
}

#[tokio::test]
async fn without_a_policy_or_with_full_access_the_command_runs_as_is() {
    let dir = tempfile::tempdir().unwrap();
    let mut plain = params(dir.path(), /*policy*/ None);
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
    // Descriptors: the status pipe, the two seccomp programs, the pinned sources of the
    // binds (here the workspace), the options.
    assert_eq!(fds.len(), 5, "{fds:?}");
    let options: Vec<String> = std::fs::read(format!("/proc/self/fd/{}", fds[4]))
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
            os(&["--args", &fds[4], "--", "/bin/echo", "hi"])
        )
    );
    assert_eq!(
        options[..2],
        ["--json-status-fd".to_string(), fds[0].clone()]
    );
    assert_eq!(
        options[options.len() - 6..],
        [
            "--add-seccomp-fd",
            &fds[1],
            "--add-seccomp-fd",
            &fds[2],
            "--chdir",
            "{}"
        ]
        .map(String::from)
    );
    let bind = options
        .iter()
        .position(|option| option == "--bind-fd")
        .expect("a pinned bind");
    assert_eq!(
        options[bind + 1..bind + 3],
        [fds[3].clone(), "{}".to_string()]
    );
    for expected in ["--unshare-net", "--unshare-user", "--cap-drop"] {
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
    // bubblewrap runs the program from a file named after `arg0`: a path is no name.
    let mut with_arg0 = good.clone();
    with_arg0.arg0 = Some("not/a/name".to_string());
    let err = prepare(&with_arg0).await.unwrap_err();
    assert!(matches!(err, ExecError::InvalidParams(_)), "{err:?}");

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

#[cfg(target_os = "linux")]
mod limits {
    use codex_linux_sandbox::ResourceLimits;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    use super::params;
    use super::prepare;
    use crate::error::ExecError;
    use crate::protocol::ProcessLimits;

    fn memory(bytes: u64) -> ProcessLimits {
        ProcessLimits {
            max_memory_bytes: Some(bytes),
            ..ProcessLimits::default()
        }
    }

    #[tokio::test]
    async fn a_plain_start_gets_only_the_limits_it_asks_for() {
        let cwd = tempfile::tempdir().unwrap();
        let plain = prepare(&params(cwd.path(), /*policy*/ None)).await.unwrap();
        assert_eq!(plain.limits, ResourceLimits::default());
        // No hook: the spawn stays `posix_spawn`.
        assert!(plain.child_setup().is_none());

        let mut asking = params(cwd.path(), Some(json!({"type": "dangerFullAccess"})));
        asking.limits = Some(memory(64 << 20));
        let limited = prepare(&asking).await.unwrap();
        assert_eq!(
            limited.limits,
            ResourceLimits {
                max_memory_bytes: Some(64 << 20),
                ..ResourceLimits::default()
            }
        );
        assert!(limited.child_setup().is_some());
    }

    #[tokio::test]
    async fn sandboxed_starts_get_defaults_a_request_can_override() {
        let cwd = tempfile::tempdir().unwrap();
        let external = json!({"type": "externalSandbox", "networkAccess": "restricted"});
        let defaulted = prepare(&params(cwd.path(), Some(external.clone())))
            .await
            .unwrap();
        assert_eq!(defaulted.limits, ResourceLimits::sandbox_defaults());
        assert_eq!(
            defaulted.limits.max_memory_bytes,
            Some(codex_linux_sandbox::default_memory_bytes())
        );

        for bytes in [16 << 20, 1 << 45] {
            let mut asking = params(cwd.path(), Some(external.clone()));
            asking.limits = Some(ProcessLimits {
                max_open_files: Some(256),
                ..memory(bytes)
            });
            let launch = prepare(&asking).await.unwrap();
            assert_eq!(
                launch.limits,
                ResourceLimits {
                    max_memory_bytes: Some(bytes),
                    max_open_files: Some(256),
                    ..ResourceLimits::default()
                }
            );
        }
    }

    #[tokio::test]
    async fn limits_out_of_bounds_and_root_process_limits_are_refused() {
        let cwd = tempfile::tempdir().unwrap();
        let mut tiny = params(cwd.path(), /*policy*/ None);
        tiny.limits = Some(memory(/*bytes*/ 4096));
        match prepare(&tiny).await {
            Err(ExecError::InvalidParams(message)) => assert_eq!(
                message,
                "`limits.maxMemoryBytes` must be an integer from 1048576 to 140737488355328, \
                 got 4096"
            ),
            other => panic!("expected invalid params, got {other:?}"),
        }

        let mut processes = params(cwd.path(), /*policy*/ None);
        processes.limits = Some(ProcessLimits {
            max_processes: Some(50),
            ..ProcessLimits::default()
        });
        let result = prepare(&processes).await;
        // SAFETY: getuid cannot fail.
        if unsafe { libc::getuid() } == 0 {
            assert!(
                matches!(&result, Err(ExecError::SandboxUnavailable(message))
                    if message.contains("`maxProcesses` cannot be enforced")),
                "{result:?}"
            );
        } else {
            assert_eq!(result.unwrap().limits.max_processes, Some(50));
        }
    }
}
