//! Escapes found by reviews of the first fixes (holes 1b and 4b of `escape.rs`'s table,
//! setuid files, later host mounts), and the bad input (no user namespaces): the
//! same way, through the real server and bubblewrap, as the caller and as `nobody` where
//! both apply, each seen failing before its fix.
#![cfg(target_os = "linux")]

use pretty_assertions::assert_eq;
use serde_json::json;

use codex_utils_test_support::Who;
use codex_utils_test_support::below_a_shared_mount;
use codex_utils_test_support::both_users;
use codex_utils_test_support::workspace_write;

use super::escape::connect;
use super::escape::error_of;
use super::escape::read_to_close;
use super::escape::run;
use super::escape::sh_params;
use super::harness::RawClient;
use super::harness::child_env;
use super::harness::unb64;
use super::users::server;
use super::users::server_under;

both_users!(async
    no_writes_to_the_kernels_settings,
    the_servers_token_file_is_hidden_from_sandboxes,
    no_setuid_files,
    host_mounts_made_later_do_not_reach_a_running_sandbox,
);

/// Hole 1, second form (found by review after the fix above): a fresh `/proc` still shows
/// the host's `/proc/sys`, and a root server's command (no capabilities, but uid 0 on the
/// host, which is all most sysctl files ask for) wrote `kernel.core_pattern` and had the
/// kernel run its program as real root on the next crash. `/proc` is now read-only. The
/// probe writes back the value it read, so even a failure changes nothing.
async fn no_writes_to_the_kernels_settings(who: Who) {
    let (_server, mut client) = connect(who).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let script = "read -r v < /proc/sys/kernel/core_pattern; \
                  { printf '%s\\n' \"$v\" > /proc/sys/kernel/core_pattern; } 2>/dev/null \
                    && echo wrote-core-pattern; \
                  test -w /proc/sysrq-trigger && echo sysrq-writable; \
                  test -w /proc/sys/vm/drop_caches && echo vm-writable; \
                  echo end";
    let policy = workspace_write(&[&ws], /*network_access*/ false);

    let result = run(&mut client, sh_params("sysctl", &ws, &policy, script)).await;

    assert_eq!(result.output, "end\n");
}

/// Hole 4, second form (found by review): the operator's `--auth-token-file` was readable
/// from a full-read sandbox, and with it the server could be driven. Every sandbox now
/// finds `/dev/null` mounted there, on a `nodev` mount: opening it fails.
async fn the_servers_token_file_is_hidden_from_sandboxes(who: Who) {
    let dir = who.dir();
    let token = "operator-token-0123456789abcdef0123456789abcdef";
    let token_file = dir.write("token", token);
    std::fs::set_permissions(
        &token_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
    let token_arg = token_file.display().to_string();
    let server = server(who, &["--auth-token-file", &token_arg]).expect("server");
    let (mut client, _) = RawClient::initialized(&format!("{}/?token={token}", server.url)).await;
    let ws = dir.mkdir("ws");
    let policy = workspace_write(&[&ws], /*network_access*/ true);

    let result = run(
        &mut client,
        sh_params(
            "steal",
            &ws,
            &policy,
            &format!("cat {token_arg} 2>&1 | sed 's/.*: //'"),
        ),
    )
    .await;

    // A writable root that holds the token would let the command move it (or a directory
    // above it) out from under its cover: refused.
    let holding = client
        .request(
            "process/start",
            sh_params(
                "hold",
                &ws,
                &workspace_write(&[dir.root()], /*network_access*/ false),
                "true",
            ),
        )
        .await;

    assert_eq!(result.output, "Permission denied\n");
    let (kind, message) = error_of(&holding);
    assert_eq!(kind, "sandboxDenied", "{holding}");
    assert!(message.contains("holds a secret of this host"), "{message}");
}

/// Where no user namespace can be created (here: the server runs inside an outer
/// bubblewrap that disables them), every sandboxed start is refused with
/// `sandboxUnavailable` and bubblewrap's reason, nothing runs, and unsandboxed starts keep
/// working. There is no weaker fallback (running without the user namespace would give a
/// root server's command every capability).
#[tokio::test]
async fn no_user_namespaces_means_no_sandboxed_start() {
    use super::harness::TestServer;

    let dir = Who::Caller.dir();
    let ws = dir.mkdir("ws");
    let server = TestServer::start_under(&without_user_namespaces(&[]), &[]);
    refuses_every_sandboxed_start(
        &server,
        &ws,
        "bubblewrap cannot create the sandbox on this host",
    )
    .await;
}

/// Through `server`: a sandboxed start in `ws` is refused with `sandboxUnavailable` and a
/// message holding `reason`, and runs nothing; an unsandboxed start still works.
async fn refuses_every_sandboxed_start(
    server: &super::harness::TestServer,
    ws: &std::path::Path,
    reason: &str,
) {
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let marker = ws.join("ran");
    let policy = workspace_write(&[ws], /*network_access*/ false);

    let refused = client
        .request(
            "process/start",
            sh_params("s", ws, &policy, &format!("touch {}", marker.display())),
        )
        .await;
    let plain = run(
        &mut client,
        json!({
            "processId": "plain",
            "argv": ["/bin/echo", "unsandboxed"],
            "cwd": ws,
            "env": child_env(),
            "tty": false,
        }),
    )
    .await;

    let (kind, message) = error_of(&refused);
    assert_eq!(kind, "sandboxUnavailable", "{refused}");
    assert!(message.contains(reason), "{message}");
    assert!(!marker.exists());
    assert_eq!(plain.output, "unsandboxed\n");
}

/// A server that is not root, on a host whose mounts propagate, hides later host mounts
/// through the trampoline, which needs a user namespace of its own. Where it cannot make
/// one, every sandboxed start is refused with `sandboxUnavailable` and the trampoline's
/// reason, nothing runs, and unsandboxed starts keep working. Here the server runs below
/// a shared mount, as an unused uid (not `nobody`: in the outer user namespace root's
/// files show as `nobody`'s, and a `bwrap` owned by the server's own uid is refused),
/// inside an outer bubblewrap that disables user namespaces. Needs root.
#[tokio::test]
async fn no_private_mounts_means_no_sandboxed_start() {
    use super::harness::TestServer;

    const UID: &str = "23456";
    if !Who::Nobody.available() {
        eprintln!("not run: making a shared mount and switching users need root");
        return;
    }
    let temp = |name: &str| {
        let dir = tempfile::Builder::new()
            .prefix(name)
            .tempdir_in("/tmp")
            .expect("tempdir");
        let status = std::process::Command::new("chown")
            .arg(format!("{UID}:{UID}"))
            .arg(dir.path())
            .status()
            .expect("chown");
        assert!(status.success());
        dir
    };
    let (ws, home, shared) = (temp("ws"), temp("home"), temp("shared"));
    let copy = super::harness::installed_server();
    let shared_text = shared.path().display().to_string();
    let (reuid, regid) = (format!("--reuid={UID}"), format!("--regid={UID}"));
    let as_uid = [
        ["setpriv", &reuid, &regid, "--clear-groups"].as_slice(),
        &without_user_namespaces(&["--uid", UID, "--gid", UID]),
    ]
    .concat();
    let server = TestServer::start_under_with(
        &below_a_shared_mount(&shared_text, &as_uid),
        Some(&copy.path),
        &[],
        &[
            ("TMPDIR", "/tmp"),
            ("HOME", home.path().to_str().expect("UTF-8 temp path")),
        ],
    );
    refuses_every_sandboxed_start(
        &server,
        ws.path(),
        "codex-bwrap-trampoline: cannot make a user and mount namespace",
    )
    .await;
}

/// Found by review: a root server's command is uid 0 on the host, so a file it marked
/// setuid in a writable root (`cp /bin/bash x; chmod 4755 x`) made any local user who ran it
/// root. The filter refuses setuid and setgid modes.
async fn no_setuid_files(who: Who) {
    let (_server, mut client) = connect(who).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let script = "cp /bin/true t && { chmod 4755 t || chmod u+s t || chmod 2755 t; } 2>/dev/null \
                    && echo marked; \
                  /usr/bin/python3 -c 'import os; os.open(\"u\", os.O_CREAT | os.O_WRONLY, 0o4755)' \
                    2>/dev/null && echo created; \
                  echo end";
    let policy = workspace_write(&[&ws], /*network_access*/ false);

    let result = run(&mut client, sh_params("setuid", &ws, &policy, script)).await;

    use std::os::unix::fs::PermissionsExt;
    let special = |name: &str| {
        std::fs::metadata(ws.join(name)).map(|meta| meta.permissions().mode() & 0o6000)
    };
    assert_eq!(
        (result.output, special("t").ok(), special("u").unwrap_or(0)),
        ("end\n".to_string(), Some(0), 0)
    );
}

/// Found by review: bubblewrap makes the sandbox's mounts slaves of the namespace it starts
/// in, so a mount the host makes later (an automounted `/boot/efi`, a container's root, a
/// USB stick) appeared inside a running sandbox with its own, writable options, outside
/// every writable root; a root server's command is uid 0 there. Wherever host mounts
/// propagate, a root server now starts bubblewrap in a mount namespace of its own with
/// private mounts, and a server that is not root through the trampoline (its own
/// executable under another name), which makes a user namespace for that first. Needs
/// root to mount on the host (so `nobody`'s run too).
async fn host_mounts_made_later_do_not_reach_a_running_sandbox(who: Who) {
    host_mounts_made_later(who, /*capabilities*/ &[]).await;
}

/// The same for a root server that may not make a mount namespace (`CAP_SYS_ADMIN` taken
/// from its bounding set, as in many containers): before the review of the trampoline it
/// ran bubblewrap where it started, with mounts propagating into the sandbox; now it goes
/// through the trampoline too.
#[tokio::test]
async fn host_mounts_made_later_do_not_reach_a_root_servers_sandbox_without_cap_sys_admin() {
    host_mounts_made_later(
        Who::Caller,
        /*capabilities*/ &["setpriv", "--bounding-set", "-sys_admin", "--"],
    )
    .await;
}

/// Found by review of the trampoline: a server started through the dynamic loader
/// (`ld.so codex-exec-server`, as where its directory is mounted `noexec`) has the loader
/// as `/proc/self/exe`, which would have taken the trampoline's arguments for a program and
/// run bubblewrap without private mounts. Such a server cannot act as the trampoline: where
/// it would need it (here: root without `CAP_SYS_ADMIN`, below a shared mount), its
/// sandboxed starts are refused, and nothing runs.
#[tokio::test]
async fn a_server_started_through_the_loader_refuses_rather_than_runs_unprotected() {
    const LOADER: &str = "/lib64/ld-linux-x86-64.so.2";
    if !Who::Nobody.available() || !std::path::Path::new(LOADER).exists() {
        eprintln!("not run: needs root and {LOADER}");
        return;
    }
    let dir = Who::Caller.dir();
    let ws = dir.mkdir("ws");
    let shared = dir.mkdir("shared");
    let shared_text = shared.display().to_string();
    let server = super::harness::TestServer::start_under(
        &below_a_shared_mount(
            &shared_text,
            &["setpriv", "--bounding-set", "-sys_admin", "--", LOADER],
        ),
        &[],
    );
    refuses_every_sandboxed_start(&server, &ws, "mounts propagate on this host").await;
}

/// A sandbox of a server run by `who` (under the `capabilities` wrapper, if any) sees no
/// mount the host makes after it started.
async fn host_mounts_made_later(who: Who, capabilities: &[&str]) {
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let shared = dir.mkdir("shared");
    let sub = dir.mkdir("shared/sub");
    let shared_text = shared.display().to_string();
    let sub_text = sub.display().to_string();
    // The server runs in a mount namespace of its own, below a shared mount (as systemd
    // makes `/`), so that no other test's server sees mounts propagate meanwhile.
    let wrapper = below_a_shared_mount(&shared_text, capabilities);
    let Some(server) = server_under(who, &wrapper) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let go = ws.join("go");
    let script = format!(
        "echo ready; while [ ! -e {go} ]; do sleep 0.05; done; \
         {{ echo x > {sub_text}/planted; }} 2>/dev/null && echo wrote || echo refused",
        go = go.display()
    );
    let policy = workspace_write(&[&ws], /*network_access*/ false);
    client
        .ok("process/start", sh_params("late", &ws, &policy, &script))
        .await;
    let ready = client
        .ok(
            "process/read",
            json!({"processId": "late", "afterSeq": 0, "waitMs": 10000}),
        )
        .await;
    assert_eq!(
        unb64(&ready["chunks"][0]["chunk"]),
        b"ready\n".to_vec(),
        "{ready}"
    );

    // The host (the server's namespace) mounts a writable file system below the shared
    // mount while the sandbox runs.
    let status = std::process::Command::new("nsenter")
        .arg(format!("--target={}", server.pid()))
        .args(["--mount", "--", "mount", "-t", "tmpfs", "-o", "mode=0777"])
        .args(["late-mount", &sub_text])
        .status()
        .expect("nsenter");
    assert!(status.success(), "nsenter mount: {status}");
    std::fs::write(&go, "").expect("go");
    let (output, _) = read_to_close(&mut client, "late").await;

    assert_eq!(output, "ready\nrefused\n");
}

/// A wrapper that runs the server in an outer bubblewrap (with `ids`, e.g. `--uid`)
/// whose user namespace allows no nested one: where no sandbox can make its own.
fn without_user_namespaces<'a>(ids: &[&'a str]) -> Vec<&'a str> {
    [
        ["bwrap", "--unshare-user"].as_slice(),
        ids,
        &[
            "--disable-userns",
            "--bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--unshare-pid",
            "--die-with-parent",
            "--",
        ],
    ]
    .concat()
}
