//! `process/start` with `sandboxPolicy`, through the real `codex-exec-server` binary, which
//! runs sandboxed commands under the real `bwrap`: the network, the policy checks and the
//! command's process, each with the server run by the caller and by `nobody` (see
//! [`super::users`]). What it may read and write is in `sandbox_fs.rs`, with the helpers
//! here.
//!
//! Linux only (the backend is bubblewrap). Needs `bwrap`, `unshare` and `perl` (the
//! network client, as in codex-linux-sandbox's own tests).
#![cfg(target_os = "linux")]

use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

use super::harness::EVENT_TIMEOUT;
use super::harness::Printed;
use super::harness::RawClient;
use super::harness::TestServer;
use super::harness::child_env;
use codex_utils_test_support::NOBODY_ID;
use codex_utils_test_support::PROCESS_PROBE;
use codex_utils_test_support::Who;
use codex_utils_test_support::process_probe_refused;
use codex_utils_test_support::workspace_write;

use super::users::server;
use codex_utils_test_support::both_users;

both_users!(async
    network_off_refuses_tcp_but_allows_unix_sockets,
    network_on_reaches_a_loopback_listener,
    a_sandboxed_command_with_network_cannot_drive_the_server,
    bad_policy_json_is_invalid_params_naming_the_problem,
    arg0_with_a_sandbox_names_the_command_and_shows_nothing_hidden,
    external_sandbox_without_network_still_gets_the_seccomp_filter,
    external_sandbox_without_network_cannot_reach_into_the_server,
    a_missing_program_fails_to_start_as_it_would_unsandboxed,
    the_sandboxed_command_gets_its_own_stdio_and_no_new_privileges,
    commands_inherit_only_their_stdio_sandboxed_or_not,
    a_sandbox_that_bubblewrap_cannot_set_up_exits_125_with_its_message,
);

/// What a finished process printed and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Run {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i64,
}

/// `process/start` params running `argv` in `cwd` under `policy`.
pub(super) fn sandboxed(process_id: &str, argv: &[&str], cwd: &Path, policy: &Value) -> Value {
    json!({
        "processId": process_id,
        "argv": argv,
        "cwd": cwd,
        "env": child_env(),
        "tty": false,
        "sandboxPolicy": policy,
    })
}

/// Starts `params` and reads the process to its end with `process/read`.
pub(super) async fn run(client: &mut RawClient, params: Value) -> Run {
    let process_id = params["processId"].as_str().expect("processId").to_string();
    client.ok("process/start", params).await;
    let printed = client.read_printed(&process_id, async |_| {}).await;
    Run {
        stdout: Printed::text(&printed.stdout),
        stderr: Printed::text(&printed.stderr),
        exit_code: printed.exit_code(),
    }
}

pub(super) async fn sh(
    client: &mut RawClient,
    id: &str,
    cwd: &Path,
    policy: &Value,
    script: &str,
) -> Run {
    run(
        client,
        sandboxed(id, &["/bin/sh", "-c", script], cwd, policy),
    )
    .await
}

/// `(code, data.kind, message)` of an error response.
pub(super) fn error_of(response: &Value) -> (i64, Option<String>, String) {
    let error = &response["error"];
    assert!(error.is_object(), "expected an error: {response}");
    (
        error["code"].as_i64().expect("code"),
        error["data"]["kind"].as_str().map(str::to_string),
        error["message"].as_str().unwrap_or_default().to_string(),
    )
}

/// Connects to `127.0.0.1:port` and to the Unix socket at `unix_path`, printing one line
/// per attempt.
const NET_CLIENT: &str = r#"
use IO::Socket::INET;
use IO::Socket::UNIX;
my ($port, $unix_path) = @ARGV;
my $tcp = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port, Proto => "tcp");
print "tcp: ", ($tcp ? "connected" : "$!"), "\n";
my $unix = IO::Socket::UNIX->new(Peer => $unix_path, Type => SOCK_STREAM);
print "unix: ", ($unix ? "connected" : "$!"), "\n";
"#;

/// Runs the perl client under `policy` against listeners the test holds open (they only
/// need to accept into the backlog). The Unix socket is the user's, as one it made would
/// be (connecting needs write permission on it).
async fn network_probe(who: Who, policy_network: bool) -> Option<Run> {
    let server = server(who, &[])?;
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let unix_path = ws.join("server.sock");
    let _unix = UnixListener::bind(&unix_path).unwrap();
    dir.own(&unix_path);
    let port = tcp.local_addr().unwrap().port().to_string();
    let policy = workspace_write(&[&ws], policy_network);
    let argv = [
        "/usr/bin/perl",
        "-e",
        NET_CLIENT,
        &port,
        unix_path.to_str().unwrap(),
    ];
    Some(run(&mut client, sandboxed("n", &argv, &ws, &policy)).await)
}

async fn network_off_refuses_tcp_but_allows_unix_sockets(who: Who) {
    let Some(result) = network_probe(who, /*policy_network*/ false).await else {
        return;
    };

    // EPERM from the seccomp filter, before the private network namespace would refuse.
    assert_eq!(
        result.stdout, "tcp: Operation not permitted\nunix: connected\n",
        "{result:?}"
    );
}

async fn network_on_reaches_a_loopback_listener(who: Who) {
    let Some(result) = network_probe(who, /*policy_network*/ true).await else {
        return;
    };

    assert_eq!(
        result.stdout, "tcp: connected\nunix: connected\n",
        "{result:?}"
    );
}

/// Speaks HTTP to the exec-server on `127.0.0.1:ARGV[0]`: for each further argument, a
/// WebSocket upgrade to that request target (the first step to `process/start` a command
/// outside the sandbox); prints the target and the status line of the answer.
const UPGRADE_CLIENT: &str = r#"
use IO::Socket::INET;
my $port = shift @ARGV;
for my $target (@ARGV) {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port, Proto => "tcp")
        or die "connect: $!";
    print $s "GET $target HTTP/1.1\r\nHost: 127.0.0.1:$port\r\nUpgrade: websocket\r\n",
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
        "Sec-WebSocket-Version: 13\r\n\r\n";
    my $line = <$s>;
    $line =~ s/\r?\n$//;
    print "$target: $line\n";
}
"#;

/// A sandboxed command that may use the network reaches the server's port, but without
/// the server's token it gets 401, so it cannot drive the server to run a command
/// outside its sandbox.
async fn a_sandboxed_command_with_network_cannot_drive_the_server(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let port = server.addr().rsplit(':').next().unwrap().to_string();
    let policy = workspace_write(&[&ws], /*network_access*/ true);
    let wrong = format!("/?token={}", "0".repeat(64));
    let argv = ["/usr/bin/perl", "-e", UPGRADE_CLIENT, &port, "/", &wrong];

    let result = run(&mut client, sandboxed("probe", &argv, &ws, &policy)).await;

    assert_eq!(
        result.stdout,
        format!("/: HTTP/1.1 401 Unauthorized\n{wrong}: HTTP/1.1 401 Unauthorized\n"),
        "{result:?}"
    );
}

async fn bad_policy_json_is_invalid_params_naming_the_problem(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");

    let cases = [
        (
            json!({"type": "sandboxEverything"}),
            "unknown variant `sandboxEverything`",
        ),
        (
            json!({"type": "workspaceWrite", "writableRoots": [], "readOnlyAccess": {"type": "fullAccess"},
                   "excludeTmpdirEnvVar": true, "excludeSlashTmp": true}),
            "missing field `networkAccess`",
        ),
        (
            json!({"type": "dangerFullAccess", "networkAccess": true}),
            "unknown field `networkAccess`",
        ),
    ];
    for (policy, expected) in cases {
        let response = client
            .request(
                "process/start",
                sandboxed("b", &["/bin/true"], &ws, &policy),
            )
            .await;
        let (code, kind, message) = error_of(&response);
        assert_eq!((code, kind), (-32602, None), "{response}");
        assert!(message.contains(expected), "{policy}: {message}");
    }
}

/// Bubblewrap cannot set `argv[0]`, so the program is bound at `/dev/.codex-arg0/ARG0` in the
/// sandbox and run from there: its file name is the requested name. A name with a `/` is
/// invalid, and a program the policy does not let the command read is not shown to it
/// under another name.
async fn arg0_with_a_sandbox_names_the_command_and_shows_nothing_hidden(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let policy = workspace_write(&[&ws], /*network_access*/ false);
    let mut params = sandboxed("a", &["cat", "/proc/self/cmdline"], &ws, &policy);
    params["arg0"] = json!("named-cat");

    let ran = run(&mut client, params).await;

    assert_eq!(
        ran,
        Run {
            stdout: "/dev/.codex-arg0/named-cat\0/proc/self/cmdline\0".to_string(),
            stderr: String::new(),
            exit_code: 0,
        }
    );

    let mut params = sandboxed("b", &["/bin/true"], &ws, &policy);
    params["arg0"] = json!("a/b");
    let response = client.request("process/start", params).await;
    let (code, kind, message) = error_of(&response);
    assert_eq!((code, kind), (-32602, None), "{response}");
    assert!(message.contains("plain file name"), "{message}");

    // Reads restricted to the workspace (and the platform defaults): a program elsewhere
    // is not bound in under another name.
    let hidden_dir = dir.mkdir("hidden");
    let hidden = hidden_dir.join("tool");
    std::fs::copy("/bin/true", &hidden).unwrap();
    dir.own(&hidden);
    let restricted = json!({
        "type": "workspaceWrite",
        "writableRoots": [ws],
        "readOnlyAccess": {"type": "restricted", "includePlatformDefaults": true, "readableRoots": []},
        "networkAccess": false,
        "excludeTmpdirEnvVar": true,
        "excludeSlashTmp": true,
    });
    let mut params = sandboxed("c", &[hidden.to_str().unwrap()], &ws, &restricted);
    params["arg0"] = json!("alias");
    let response = client.request("process/start", params).await;
    let (code, kind, message) = error_of(&response);
    assert_eq!(
        (code, kind.as_deref()),
        (-32008, Some("sandboxDenied")),
        "{response}"
    );
    assert!(message.contains("not readable"), "{message}");
}

async fn external_sandbox_without_network_still_gets_the_seccomp_filter(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port().to_string();
    let policy = json!({"type": "externalSandbox", "networkAccess": "restricted"});
    let argv = [
        "/usr/bin/perl",
        "-e",
        NET_CLIENT,
        &port,
        "/nonexistent.sock",
    ];

    let result = run(&mut client, sandboxed("e", &argv, &ws, &policy)).await;

    assert_eq!(
        result.stdout.lines().next(),
        Some("tcp: Operation not permitted"),
        "{result:?}"
    );
}

/// `externalSandbox` runs the command on the host, next to the server and as its user
/// (root here, with every capability; or nobody): it must not take the server's listening
/// socket or a client's connection (`pidfd_getfd`), nor read or write the server's
/// memory, which would all hand it the network the policy denies.
async fn external_sandbox_without_network_cannot_reach_into_the_server(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let policy = json!({"type": "externalSandbox", "networkAccess": "restricted"});
    let server_pid = server.pid().to_string();
    let argv = ["/usr/bin/perl", "-e", PROCESS_PROBE, &server_pid];

    let result = run(&mut client, sandboxed("p", &argv, &ws, &policy)).await;

    // Root reads the server's `/proc` entries. Nobody (or a non-root caller) cannot: the
    // server made itself not dumpable, so the kernel would refuse it all but `pidfd_open`
    // anyway. The filter refuses every call first, for both.
    let expected = match who {
        Who::Caller if who.uid() == 0 => process_probe_refused("found", "found"),
        Who::Caller => process_probe_refused("EACCES", "EACCES"),
        Who::Nobody => process_probe_refused("EACCES", "EACCES"),
    };
    assert_eq!(
        result,
        Run {
            stdout: expected,
            stderr: String::new(),
            exit_code: 0,
        }
    );
}

async fn a_missing_program_fails_to_start_as_it_would_unsandboxed(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let policy = workspace_write(&[&ws], /*network_access*/ false);
    let mut responses = Vec::new();

    for (id, policy) in [("plain", Value::Null), ("sandboxed", policy)] {
        let mut params = sandboxed(id, &["definitely-not-a-program"], &ws, &policy);
        if policy.is_null() {
            params.as_object_mut().unwrap().remove("sandboxPolicy");
        }
        let response = client.request("process/start", params).await;
        responses.push(error_of(&response));
    }

    assert_eq!(
        responses[1],
        (
            -32003,
            Some("spawnFailed".to_string()),
            "failed to start `definitely-not-a-program`: No such file or directory (os error 2)"
                .to_string()
        )
    );
    assert_eq!(responses[0], responses[1]);
}

async fn the_sandboxed_command_gets_its_own_stdio_and_no_new_privileges(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let policy = workspace_write(&[&ws], /*network_access*/ false);

    let result = sh(
        &mut client,
        "s",
        &ws,
        &policy,
        "echo out; echo err >&2; grep -E 'NoNewPrivs|CapEff' /proc/self/status; id -u; exit 3",
    )
    .await;

    // Inside, root's command is nobody (root is mapped to it) and nobody's stays nobody
    // (a non-root developer's keeps its own uid); either way without a capability.
    let uid_inside = match who {
        Who::Caller => who.uid_inside(),
        Who::Nobody => NOBODY_ID,
    };
    assert_eq!(
        result,
        Run {
            stdout: format!("out\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\n{uid_inside}\n"),
            stderr: "err\n".to_string(),
            exit_code: 3,
        }
    );
}

/// A command inherits its stdio and nothing else: not bubblewrap's status and seccomp
/// descriptors, and not whatever the server itself inherited (under `cargo test`, the
/// jobserver's pipe).
async fn commands_inherit_only_their_stdio_sandboxed_or_not(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let policy = workspace_write(&[&ws], /*network_access*/ false);
    // The one descriptor above stderr is the directory `ls` opens to list them.
    let script = "ls /proc/self/fd | tr '\\n' ' '";

    let plain = run(
        &mut client,
        json!({"processId": "p", "argv": ["/bin/sh", "-c", script], "cwd": ws, "env": child_env(), "tty": false}),
    )
    .await;
    let sandboxed = sh(&mut client, "s", &ws, &policy, script).await;

    let expected = Run {
        stdout: "0 1 2 3 ".to_string(),
        stderr: String::new(),
        exit_code: 0,
    };
    assert_eq!((plain, sandboxed), (expected.clone(), expected));
}

async fn a_sandbox_that_bubblewrap_cannot_set_up_exits_125_with_its_message(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    // Only the workspace is readable: `/bin/sh` exists on the host (so the start is
    // accepted) but not in the sandbox, so bubblewrap's own execvp fails.
    let policy = json!({
        "type": "readOnly",
        "access": {"type": "restricted", "includePlatformDefaults": false, "readableRoots": [ws]},
    });

    let result = sh(&mut client, "u", &ws, &policy, "echo ran").await;

    // Where root built or installed the server (tests run by root), its sandboxes are
    // built by codex-sandbox-launcher, which words its messages as bubblewrap does.
    let launcher = if Who::Nobody.available() {
        "codex-sandbox-launcher"
    } else {
        "bwrap"
    };
    assert_eq!(
        result,
        Run {
            stdout: String::new(),
            stderr: format!("{launcher}: execvp /bin/sh: No such file or directory\n"),
            exit_code: 125,
        }
    );
}

/// Where a fresh `/proc` cannot be mounted, the server finds out on the first sandboxed
/// start (one trial run of bubblewrap for the whole server), says so in its log once, and
/// runs sandboxed commands with an empty `/proc` instead. Provoked for real as in codex-linux-sandbox's
/// `proc_retry.rs`: the server runs inside an outer bubblewrap that over-mounts part of
/// its `/proc`, in a new user namespace, where the kernel refuses a new proc mount
/// (`mnt_too_revealing`), as in containers that mask `/proc` paths.
// Root only: the outer bubblewrap must run in the initial user namespace, which only root can.
#[tokio::test]
async fn where_proc_cannot_be_mounted_sandboxes_run_without_it_and_the_log_says_so() {
    let server = TestServer::start_under(
        &[
            "bwrap",
            // Writable, so the inner sandboxes can create their placeholders wherever the
            // test's temp dir is (under Bazel, the test's private `TMPDIR`).
            "--bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--tmpfs",
            "/proc/bus",
            "--unshare-pid",
            "--die-with-parent",
            "--",
            "unshare",
            "--user",
            "--map-root-user",
        ],
        &[],
    );
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = Who::Caller.dir();
    let ws = dir.mkdir("ws");
    let policy = workspace_write(&[&ws], /*network_access*/ false);

    // Two sessions (two connections): the server tries bubblewrap out once, not once per
    // session.
    let (mut other_client, _) = RawClient::initialized(&server.url).await;
    let script = "echo ran; ls -A /proc | wc -l";
    let runs = vec![
        sh(&mut client, "one", &ws, &policy, script).await,
        sh(&mut other_client, "two", &ws, &policy, script).await,
    ];

    let expected = Run {
        stdout: "ran\n0\n".to_string(),
        stderr: String::new(),
        exit_code: 0,
    };
    assert_eq!(runs, [expected.clone(), expected]);
    let warnings = || {
        server
            .stderr()
            .lines()
            .filter(|line| line.contains("may not mount /proc"))
            .count()
    };
    super::harness::wait_until("the warning", EVENT_TIMEOUT, || warnings() > 0).await;
    assert_eq!(
        warnings(),
        1,
        "one trial run, one warning: {}",
        server.stderr()
    );
}
