//! `process/start` with `limits`, and the defaults of sandboxed starts, through the real
//! `codex-exec-server` binary and the real `bwrap`, as root and as `nobody`.
//!
//! Linux only. Needs `bwrap`, `perl` and `python3` in `/usr/bin:/bin`.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

use super::harness::Printed;
use super::harness::RawClient;
use super::harness::child_env;
use codex_utils_test_support::Who;

use super::users::server;
use codex_utils_test_support::both_users;

/// Full reads, no writes, no network: enough for every command here.
fn read_only() -> Value {
    json!({"type": "readOnly", "access": {"type": "fullAccess"}})
}

/// `process/start` params running `script` with `sh -c` in `cwd`, under `policy` (none
/// if `null`) with `limits` (none if `null`).
fn start(id: &str, script: &str, cwd: &Path, policy: Value, limits: Value) -> Value {
    let mut params = json!({
        "processId": id,
        "argv": ["/bin/sh", "-c", script],
        "cwd": cwd,
        "env": child_env(),
        "tty": false,
    });
    if !policy.is_null() {
        params["sandboxPolicy"] = policy;
    }
    if !limits.is_null() {
        params["limits"] = limits;
    }
    params
}

/// What a finished process printed (stdout and stderr together) and its exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Run {
    output: String,
    exit_code: i64,
}

/// Reads process `id` with `process/read` until it closed, calling `on_output` with all
/// output so far after each reply.
async fn read_to_end(
    client: &mut RawClient,
    id: &str,
    mut on_output: impl AsyncFnMut(&str),
) -> Run {
    let printed = client
        .read_printed(id, async |printed| {
            on_output(&Printed::text(&printed.all)).await;
        })
        .await;
    Run {
        output: Printed::text(&printed.all),
        exit_code: printed.exit_code(),
    }
}

async fn run(client: &mut RawClient, params: Value) -> Run {
    let id = params["processId"].as_str().expect("processId").to_string();
    client.ok("process/start", params).await;
    read_to_end(client, &id, async |_| {}).await
}

/// The soft limit `/proc/self/limits` shows in the row starting with `row`.
fn limit_row(limits: &str, row: &str) -> String {
    let line = limits
        .lines()
        .find(|line| line.starts_with(row))
        .unwrap_or_else(|| panic!("no `{row}` in {limits}"));
    line[row.len()..]
        .split_whitespace()
        .next()
        .expect("value")
        .to_string()
}

/// Half of this machine's physical memory: the default data limit of a sandbox.
fn half_of_ram() -> u64 {
    // SAFETY: sysconf only reads system configuration.
    let (pages, page_size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    pages as u64 * page_size as u64 / 2
}

/// The fork bomb: forks `sleep` children until `fork` fails (at most 3000), says how
/// many it got, holds them for `hold` seconds, then kills them all.
fn fork_bomb(hold: u32) -> String {
    format!(
        "exec perl -e 'my $n = 0; my @k; \
         while ($n < 3000) {{ my $p = fork; \
           if (!defined $p) {{ print \"refused after $n: $!\\n\"; last }} \
           if ($p == 0) {{ sleep 30; exit 0 }} push @k, $p; $n++ }} \
         $| = 1; print \"got $n\\n\"; sleep {hold}; kill \"KILL\", @k; waitpid($_, 0) for @k'"
    )
}

async fn memory_limit_fails_large_allocations_only(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let limits = json!({"maxMemoryBytes": 64 << 20});
    let allocate = |mib: u32| {
        format!("python3 -c 'b = bytearray({mib} << 20); print(\"allocated\", len(b) >> 20)' 2>&1")
    };

    let large = run(
        &mut client,
        start(
            "large",
            &allocate(/*mib*/ 256),
            dir.root(),
            read_only(),
            limits.clone(),
        ),
    )
    .await;
    let small = run(
        &mut client,
        start(
            "small",
            &allocate(/*mib*/ 16),
            dir.root(),
            read_only(),
            limits.clone(),
        ),
    )
    .await;
    // The same without a sandbox: the limit applies too, only where asked for.
    let plain = run(
        &mut client,
        start(
            "plain",
            &allocate(/*mib*/ 256),
            dir.root(),
            Value::Null,
            limits,
        ),
    )
    .await;

    assert!(large.output.contains("MemoryError"), "{large:?}");
    assert_eq!(large.exit_code, 1, "{large:?}");
    assert_eq!(
        small,
        Run {
            output: "allocated 16\n".to_string(),
            exit_code: 0,
        }
    );
    assert!(plain.output.contains("MemoryError"), "{plain:?}");
}

async fn sandboxed_starts_get_the_default_limits(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let show = "cat /proc/self/limits";
    let external = json!({"type": "externalSandbox", "networkAccess": "restricted"});
    let own_limits = std::fs::read_to_string("/proc/self/limits").expect("own limits");

    let sandboxed = run(
        &mut client,
        start("bwrap", show, dir.root(), read_only(), Value::Null),
    )
    .await;
    let seccomp_only = run(
        &mut client,
        start("external", show, dir.root(), external, Value::Null),
    )
    .await;
    let plain = run(
        &mut client,
        start("plain", show, dir.root(), Value::Null, Value::Null),
    )
    .await;
    let lowered = run(
        &mut client,
        start(
            "lowered",
            show,
            dir.root(),
            read_only(),
            json!({"maxMemoryBytes": 1 << 30, "maxOpenFiles": 100, "maxFileSizeBytes": 4096}),
        ),
    )
    .await;

    let half = half_of_ram().to_string();
    for run in [&sandboxed, &seccomp_only] {
        assert_eq!(limit_row(&run.output, "Max data size"), half, "{run:?}");
        // No default process limit: it would count every process of the server's user.
        assert_eq!(
            limit_row(&run.output, "Max processes"),
            limit_row(&own_limits, "Max processes"),
            "{run:?}"
        );
    }
    // No limits for a start without a sandbox that asks for none.
    assert_eq!(
        limit_row(&plain.output, "Max data size"),
        limit_row(&own_limits, "Max data size")
    );
    assert_eq!(
        [
            limit_row(&lowered.output, "Max data size"),
            limit_row(&lowered.output, "Max open files"),
            limit_row(&lowered.output, "Max file size"),
        ],
        [
            (1u64 << 30).to_string(),
            "100".to_string(),
            "4096".to_string()
        ]
    );
}

/// As a user the kernel holds to `RLIMIT_NPROC` (not root), a fork bomb in a sandbox with
/// `maxProcesses: 50` is refused before 50 processes, and the server keeps answering
/// meanwhile. As root, the limit is refused (`sandboxUnavailable`) rather than ignored.
async fn process_limit_stops_a_fork_bomb(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let (mut other, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let limits = json!({"maxProcesses": 50});
    let params = start(
        "bomb",
        &fork_bomb(/*hold*/ 3),
        dir.root(),
        read_only(),
        limits,
    );

    // SAFETY: geteuid has no preconditions.
    let server_is_root = who == Who::Caller && unsafe { libc::geteuid() } == 0;
    if server_is_root {
        let response = client.request("process/start", params).await;
        assert_eq!(response["error"]["code"], json!(-32007), "{response}");
        assert_eq!(
            response["error"]["data"]["kind"],
            json!("sandboxUnavailable")
        );
        let message = response["error"]["message"].as_str().expect("message");
        assert!(
            message.contains("`maxProcesses` cannot be enforced") && message.contains("uid 0"),
            "{message}"
        );
        return;
    }

    client.ok("process/start", params).await;
    let mut answered_meanwhile = None;
    let bomb = read_to_end(&mut client, "bomb", async |output: &str| {
        if answered_meanwhile.is_none() && output.contains("got ") {
            // The bomb holds its processes now: the server still answers, and runs an
            // unsandboxed command for another connection.
            let alive = tokio::time::timeout(
                Duration::from_secs(10),
                run(
                    &mut other,
                    start("alive", "echo alive", dir.root(), Value::Null, Value::Null),
                ),
            )
            .await
            .expect("answered while the bomb holds its processes");
            answered_meanwhile = Some(alive);
        }
    })
    .await;

    let refused_after: u32 = bomb
        .output
        .lines()
        .find_map(|line| line.strip_prefix("refused after "))
        .and_then(|rest| rest.split(':').next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("the bomb was never refused: {bomb:?}"));
    // Bubblewrap's two processes, the server's threads and anything else of `nobody`
    // count too: the limit is per user.
    assert!((10..50).contains(&refused_after), "{bomb:?}");
    assert!(
        bomb.output.contains("Resource temporarily unavailable"),
        "{bomb:?}"
    );
    assert_eq!(
        answered_meanwhile,
        Some(Run {
            output: "alive\n".to_string(),
            exit_code: 0,
        })
    );
}

both_users!(async
    memory_limit_fails_large_allocations_only,
    sandboxed_starts_get_the_default_limits,
    process_limit_stops_a_fork_bomb,
);

#[tokio::test]
async fn bad_limits_are_invalid_params_and_the_server_keeps_serving() {
    let Some(server) = server(Who::Caller, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = Who::Caller.dir();
    let cases = [
        (json!({"maxThreads": 5}), "unknown field `maxThreads`"),
        (json!({"maxProcesses": -1}), "`limits.maxProcesses` must be"),
        (json!({"maxProcesses": 0}), "`limits.maxProcesses` must be"),
        (
            json!({"maxMemoryBytes": "64M"}),
            "`limits.maxMemoryBytes` must be",
        ),
        (json!({"maxOpenFiles": 3}), "`limits.maxOpenFiles` must be"),
        (json!(64), "ProcessLimits"),
    ];
    for (index, (limits, expected)) in cases.into_iter().enumerate() {
        let response = client
            .request(
                "process/start",
                start(
                    &format!("bad-{index}"),
                    "true",
                    dir.root(),
                    read_only(),
                    limits.clone(),
                ),
            )
            .await;
        assert_eq!(
            response["error"]["code"],
            json!(-32602),
            "{limits}: {response}"
        );
        let message = response["error"]["message"].as_str().expect("message");
        assert!(message.contains(expected), "{limits}: {message}");
    }
    let fine = run(
        &mut client,
        start(
            "fine",
            "echo fine",
            dir.root(),
            read_only(),
            json!({"maxOpenFiles": 64}),
        ),
    )
    .await;
    assert_eq!(
        fine,
        Run {
            output: "fine\n".to_string(),
            exit_code: 0,
        }
    );
}
