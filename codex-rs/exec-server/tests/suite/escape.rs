//! Escapes tried as the command inside the sandbox would: one test per hole found when the
//! sandbox was attacked (the numbers are those of the hardening issue and of
//! `codex-rs/linux-sandbox/THREAT_MODEL.md`). Each runs through the real server and the
//! real bubblewrap, once with the server as the calling user (root on CI) and once as
//! `nobody`, and each failed before its fix.
//!
//! | # | hole | test |
//! |---|---|---|
//! | 1 | a root server's sandbox kept every capability | [`no_capabilities_and_no_way_to_remount`] |
//! | 1b | a root server's sandbox wrote `/proc/sys` (`core_pattern`: code run as real root) | `escape_review::no_writes_to_the_kernels_settings` |
//! | 2 | a protected path replaced by renaming its parent | [`protected_paths_cannot_be_replaced_through_a_parent`] |
//! | 3 | a root swapped for a symlink grants its target later | [`a_root_swapped_for_a_symlink_is_refused_afterwards`] |
//! | 3b | the same, where the later policy does not make the link's directory writable | [`a_root_that_moved_since_the_session_used_it_is_refused`] |
//! | 4b | the operator's token file read from a full-read sandbox | `escape_review::the_servers_token_file_is_hidden_from_sandboxes` |
//! | 4 | a network sandbox drives the server | [`a_network_sandbox_cannot_drive_the_server_or_find_its_token`] |
//! | 5 | the request's env in bubblewrap's own environment | [`the_request_environment_never_reaches_bubblewrap`] |
//! | 6 | a `bwrap` planted in `PATH` or in a writable root | [`a_planted_bwrap_is_never_run`] |
//! | 7 | cwd and `env.TMPDIR` widen the policy | [`request_fields_never_widen_the_policy`] |
//! | 8 | `fs/readFile` of the server's `/proc/self/environ` | [`fs_never_reads_the_servers_own_proc`] |
//! | 9 | `externalSandbox` takes the server's sockets (`pidfd_getfd`) | [`external_sandbox_cannot_take_the_servers_descriptors`] |
//! | 10 | two servers, one workspace: a placeholder removed under the other | [`two_servers_keep_a_missing_git_protected`] |
//! | 11 | terminal descriptors leak to concurrent starts | `descriptor_leaks::concurrent_starts_never_inherit_each_others_descriptors` |
//! | 12 | `Sec-WebSocket-Origin`, token length, `fs/copy` size, no limits | `hostile::http_front_door`, `auth`, `fs_copy_limit`, `limits` |
//!
//! Found by review, in `escape_review.rs`: setuid files written by a root server's
//! command (`no_setuid_files`) and host mounts made while a sandbox runs
//! (`host_mounts_made_later_do_not_reach_a_running_sandbox`).
//!
//! And the bad input of the issue: a host that cannot give a sandbox its user namespace
//! refuses every sandboxed start, with the reason, and runs nothing
//! (`escape_review::no_user_namespaces_means_no_sandboxed_start`).
#![cfg(target_os = "linux")]

use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

use super::harness::Printed;
use super::harness::RawClient;
use super::harness::child_env;
use super::harness::unb64;
use codex_utils_test_support::Who;
use codex_utils_test_support::workspace_write;

use super::sandbox::sandboxed;
use super::users::server;
use super::users::server_with;
use codex_utils_test_support::both_users;

both_users!(async
    no_capabilities_and_no_way_to_remount,
    protected_paths_cannot_be_replaced_through_a_parent,
    a_root_swapped_for_a_symlink_is_refused_afterwards,
    a_root_that_moved_since_the_session_used_it_is_refused,
    a_network_sandbox_cannot_drive_the_server_or_find_its_token,
    the_request_environment_never_reaches_bubblewrap,
    a_planted_bwrap_is_never_run,
    request_fields_never_widen_the_policy,
    fs_never_reads_the_servers_own_proc,
    external_sandbox_cannot_take_the_servers_descriptors,
    two_servers_keep_a_missing_git_protected,
);

/// `process/start` params for `/bin/sh -c script` in `cwd` under `policy`.
pub(super) fn sh_params(id: &str, cwd: &Path, policy: &Value, script: &str) -> Value {
    sandboxed(id, &["/bin/sh", "-c", script], cwd, policy)
}

/// What a finished process printed (stdout and stderr together).
#[derive(Debug)]
pub(super) struct Run {
    pub(super) output: String,
}

/// Starts `params` and reads the process until it closed.
pub(super) async fn run(client: &mut RawClient, params: Value) -> Run {
    let id = params["processId"].as_str().expect("processId").to_string();
    client.ok("process/start", params).await;
    let (stdout, stderr) = read_to_close(client, &id).await;
    Run {
        output: stdout + &stderr,
    }
}

/// What process `id` printed on stdout and on stderr, read until it closed.
pub(super) async fn read_to_close(client: &mut RawClient, id: &str) -> (String, String) {
    let printed = client.read_printed(id, async |_| {}).await;
    (
        Printed::text(&printed.stdout),
        Printed::text(&printed.stderr),
    )
}

/// `data.kind` and message of an error response.
pub(super) fn error_of(response: &Value) -> (String, String) {
    let error = &response["error"];
    assert!(error.is_object(), "expected an error: {response}");
    (
        error["data"]["kind"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        error["message"].as_str().unwrap_or_default().to_string(),
    )
}

/// A server run by `who` and a client of it.
pub(super) async fn connect(who: Who) -> (super::users::UserServer, RawClient) {
    let server = server(who, &[]).expect("server");
    let (client, _) = RawClient::initialized(&server.url).await;
    (server, client)
}

/// Hole 1: Bubblewrap run by root keeps every capability unless told otherwise: with them, the
/// command remounted `/` read-write, unmounted the read-only `.git`, and read files by
/// handle. Now it runs as `nobody` in a user namespace of its own, without any
/// capability, and cannot make another user namespace to gain some there.
async fn no_capabilities_and_no_way_to_remount(who: Who) {
    let (_server, mut client) = connect(who).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    dir.mkdir("ws/.git");
    let script = "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb):' /proc/self/status | tr -d '\\t'; \
                  id -u; id -g; \
                  mount -o remount,rw / 2>/dev/null && echo remounted-root; \
                  umount -l /proc 2>/dev/null && echo unmounted-proc; \
                  umount -l .git 2>/dev/null && echo unmounted-git; \
                  touch .git/planted 2>/dev/null && echo wrote-git; \
                  unshare --user --map-root-user true 2>/dev/null && echo nested-userns; \
                  echo end";
    let policy = workspace_write(&[&ws], /*network_access*/ false);

    let result = run(&mut client, sh_params("caps", &ws, &policy, script)).await;

    assert_eq!(
        result.output,
        "CapInh:0000000000000000\nCapPrm:0000000000000000\nCapEff:0000000000000000\n\
         CapBnd:0000000000000000\nCapAmb:0000000000000000\n65534\n65534\nend\n"
    );
    assert!(!ws.join(".git/planted").exists());
}

/// Hole 2: `.git` was protected by a read-only bind of the leaf only; with nested roots
/// (`[BASE, BASE/proj]`) the command renamed `proj` away and built a new `proj/.git`
/// with a hook. Every directory between a writable root and a protected path (nested
/// roots included, and the directories above a worktree's git directory) is now a
/// mount point, which cannot be renamed.
async fn protected_paths_cannot_be_replaced_through_a_parent(who: Who) {
    let (_server, mut client) = connect(who).await;
    let dir = who.dir();
    let base = dir.mkdir("base");
    let proj = dir.mkdir("base/proj");
    dir.mkdir("base/proj/.git");
    let wt = dir.mkdir("base/wt");
    dir.mkdir("base/store/gd");
    dir.write(
        "base/wt/.git",
        &format!("gitdir: {}\n", base.join("store/gd").display()),
    );
    let policy = workspace_write(&[&base, &proj, &wt], /*network_access*/ false);
    let script = format!(
        "cd {base}; \
         mv proj proj-away 2>/dev/null && echo moved-proj; \
         mv store store-away 2>/dev/null && echo moved-store; \
         mkdir -p proj/.git/hooks 2>/dev/null; \
         {{ echo evil > proj/.git/hooks/pre-commit; }} 2>/dev/null && echo planted-hook; \
         mkdir -p store/gd/hooks 2>/dev/null; \
         {{ echo evil > store/gd/hooks/post-checkout; }} 2>/dev/null && echo planted-gitdir-hook; \
         echo end",
        base = base.display()
    );

    let result = run(&mut client, sh_params("rename", &proj, &policy, &script)).await;

    assert_eq!(result.output, "end\n");
    assert_eq!(
        [
            proj.join(".git").is_dir(),
            proj.join(".git/hooks").exists(),
            base.join("store/gd/hooks").exists(),
            base.join("proj-away").exists(),
        ],
        [true, false, false, false]
    );
}

/// Hole 3: Roots were re-resolved on every request: a command that may write a root's parent
/// swapped the root for a symlink, and later sandboxes and `fs/*` calls granted the
/// link's target. A root that leads through a symlink in a writable directory (to a place
/// not writable anyway) is now refused.
async fn a_root_swapped_for_a_symlink_is_refused_afterwards(who: Who) {
    let (_server, mut client) = connect(who).await;
    let dir = who.dir();
    let base = dir.mkdir("base");
    let proj = dir.mkdir("base/proj");
    let outside = dir.mkdir("outside");
    let swap = format!(
        "rm -rf {proj} && ln -s {outside} {proj} && echo swapped",
        proj = proj.display(),
        outside = outside.display()
    );
    let swapped = run(
        &mut client,
        sh_params(
            "swap",
            &base,
            &workspace_write(&[&base], /*network_access*/ false),
            &swap,
        ),
    )
    .await;
    let nested = workspace_write(&[&base, &proj], /*network_access*/ false);

    let start = client
        .request(
            "process/start",
            sh_params("after", &base, &nested, "echo x > proj/escaped"),
        )
        .await;
    let write = client
        .request(
            "fs/writeFile",
            json!({"path": proj.join("escaped-fs"), "dataBase64": "eA==", "sandboxPolicy": nested}),
        )
        .await;

    assert_eq!(swapped.output, "swapped\n");
    for response in [&start, &write] {
        let (kind, message) = error_of(response);
        assert_eq!(kind, "sandboxDenied", "{response}");
        assert!(message.contains("redirected by the symlink"), "{message}");
    }
    assert_eq!(std::fs::read_dir(&outside).expect("outside").count(), 0);
}

/// Hole 3, second form: the later policy names only `proj` (or a root never used before),
/// so the symlink a command of an earlier, wider policy of the same session planted in
/// its parent does not lie in a directory *that* policy makes writable. The session
/// remembers every directory its policies made writable, and where each root led the
/// first time (for processes and `fs/*` alike): a root through a link in any of them is
/// refused.
async fn a_root_that_moved_since_the_session_used_it_is_refused(who: Who) {
    let (server, mut client) = connect(who).await;
    let dir = who.dir();
    let base = dir.mkdir("base");
    let proj = dir.mkdir("base/proj");
    let outside = dir.mkdir("outside");
    let narrow = workspace_write(&[&proj], /*network_access*/ false);
    let wide = workspace_write(&[&base], /*network_access*/ false);
    let first = run(&mut client, sh_params("first", &proj, &narrow, "echo ok")).await;
    let fresh = base.join("fresh");
    let swap = format!(
        "rm -rf {proj} && ln -s {outside} {proj} && ln -s {outside} {fresh} \
         && ln -s {outside} {fresh}-later && echo swapped",
        proj = proj.display(),
        outside = outside.display(),
        fresh = fresh.display()
    );
    let swapped = run(&mut client, sh_params("swap", &base, &wide, &swap)).await;
    // A root never used before, behind a link planted under the earlier, wider policy:
    // that policy's writable roots count for the whole session.
    let first_use = client
        .request(
            "process/start",
            sh_params(
                "fresh",
                &base,
                &workspace_write(&[&fresh], /*network_access*/ false),
                "echo x > fresh/escaped",
            ),
        )
        .await;

    let start = client
        .request(
            "process/start",
            sh_params("again", &base, &narrow, "echo x > proj/escaped"),
        )
        .await;
    let write = client
        .request(
            "fs/writeFile",
            json!({"path": proj.join("escaped-fs"), "dataBase64": "eA==", "sandboxPolicy": narrow}),
        )
        .await;

    assert_eq!(
        (first.output, swapped.output),
        ("ok\n".to_string(), "swapped\n".to_string())
    );
    for response in [&start, &write] {
        let (kind, message) = error_of(response);
        assert_eq!(kind, "sandboxDenied", "{response}");
        assert!(message.contains("redirected by the symlink"), "{message}");
    }
    // And in another session of the same server (a reconnecting agent, another client).
    let (mut later, _) = RawClient::initialized(&server.url).await;
    let later_fresh = base.join("fresh-later");
    let other_session = later
        .request(
            "process/start",
            sh_params(
                "later",
                &base,
                &workspace_write(&[&later_fresh], /*network_access*/ false),
                "echo x > fresh-later/escaped",
            ),
        )
        .await;
    let (kind, message) = error_of(&other_session);
    assert_eq!(kind, "sandboxDenied", "{other_session}");
    assert!(message.contains("redirected by the symlink"), "{message}");
    let (kind, message) = error_of(&first_use);
    assert_eq!(kind, "sandboxDenied", "{first_use}");
    assert!(message.contains("redirected by the symlink"), "{message}");
    assert_eq!(std::fs::read_dir(&outside).expect("outside").count(), 0);
}

/// A Python client that sends a WebSocket upgrade to `127.0.0.1:PORT` with each request
/// target in `argv[2..]` and prints the status line it got.
const UPGRADE_PROBE: &str = r#"
import socket, sys
for target in sys.argv[2:]:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % target).encode())
    print(s.recv(200).decode().split("\r\n")[0])
"#;

/// A Python scan for the token given in two halves (so no command line holds it whole):
/// prints how many `/proc` entries (environments, command lines) and readable regular files
/// under `/tmp`, `/dev/shm` and `/run` contain it.
const TOKEN_SCAN: &str = r#"
import os, stat, sys
token = (sys.argv[1] + sys.argv[2]).encode()
found = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    for name in ("environ", "cmdline"):
        try:
            found += token in open("/proc/%s/%s" % (pid, name), "rb").read()
        except OSError:
            pass
for top in ("/tmp", "/dev/shm", "/run"):
    for root, dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(root, name)
            try:
                # Regular files only: opening a FIFO another process made would block.
                if stat.S_ISREG(os.lstat(path).st_mode):
                    found += token in open(path, "rb").read(1 << 20)
            except OSError:
                pass
print(found)
"#;

/// Hole 4: A sandbox with `networkAccess: true` connected to the server on loopback (no token
/// needed) and started an unsandboxed process. The server now requires its generated
/// token on loopback too, and nothing in the sandbox can read it: not its environment,
/// no file, no `/proc` entry of the server.
async fn a_network_sandbox_cannot_drive_the_server_or_find_its_token(who: Who) {
    let (server, mut client) = connect(who).await;
    let token = server.token.clone().expect("a generated token");
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let port = server.addr().rsplit(':').next().expect("port").to_string();
    let policy = workspace_write(&[&ws], /*network_access*/ true);
    let wrong = format!("/?token={}", "0".repeat(token.len()));
    let (first_half, second_half) = token.split_at(token.len() / 2);
    let script = format!(
        "/usr/bin/python3 -c '{UPGRADE_PROBE}' {port} / {wrong}; \
         timeout 60 /usr/bin/python3 -c '{TOKEN_SCAN}' {first_half} {second_half}; echo end"
    );

    let result = run(&mut client, sh_params("callback", &ws, &policy, &script)).await;

    assert_eq!(
        result.output,
        "HTTP/1.1 401 Unauthorized\nHTTP/1.1 401 Unauthorized\n0\nend\n"
    );
}

/// Hole 5: The request's environment was bubblewrap's own, so the request's `LD_PRELOAD` ran
/// code outside the sandbox as the server's user. Bubblewrap now runs with an empty
/// environment and sets the command's inside (from a memory file, so it does not show
/// in bubblewrap's world-readable command line either). `LD_DEBUG_OUTPUT` shows which
/// processes the dynamic loader ran for with the request's environment: writing there
/// from inside the sandbox is refused (a read-only directory), from bubblewrap it is not.
async fn the_request_environment_never_reaches_bubblewrap(who: Who) {
    let (_server, mut client) = connect(who).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let traces = dir.mkdir("traces");
    let secret = "s3cret-value-of-the-request";
    let mut params = sh_params(
        "env",
        &ws,
        &workspace_write(&[&ws], /*network_access*/ false),
        "echo $SECRET_FOR_THE_COMMAND; sleep 1",
    );
    params["env"]["LD_DEBUG"] = json!("libs");
    params["env"]["LD_DEBUG_OUTPUT"] = json!(traces.join("ld"));
    params["env"]["SECRET_FOR_THE_COMMAND"] = json!(secret);
    client.ok("process/start", params).await;
    // While it runs: no bubblewrap shows the secret on its command line.
    let mut shown = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
    while std::time::Instant::now() < deadline {
        for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
            if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline"))
                && String::from_utf8_lossy(&cmdline).contains(secret)
            {
                shown.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The loader of the command inside prints its trace with the output instead (it may
    // not write where it was told); its lines start with the pid.
    let (stdout, stderr) = read_to_close(&mut client, "env").await;
    let output: Vec<&str> = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|line| !line.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    let written: Vec<String> = std::fs::read_dir(&traces)
        .expect("traces")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();

    assert_eq!(
        (output, written, shown),
        (vec![secret], Vec::<String>::new(), Vec::<String>::new())
    );
}

/// Hole 6: `bwrap` was looked up in the server's `PATH` on every start, so a sandbox that could
/// write a `PATH` directory planted its own, which the next start ran outside any
/// sandbox. It is now resolved once, refused unless only root can change it, and refused
/// when it lies in one of the policy's writable roots.
async fn a_planted_bwrap_is_never_run(who: Who) {
    use std::os::unix::fs::PermissionsExt;

    // In `/tmp`, writable by everyone, as a sandboxed command could plant it.
    let planted = tempfile::tempdir_in("/tmp").expect("tempdir");
    std::fs::set_permissions(planted.path(), std::fs::Permissions::from_mode(0o777))
        .expect("chmod");
    let marker = planted.path().join("ran");
    let fake = planted.path().join("bwrap");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\ntouch {}\nexec /usr/bin/bwrap \"$@\"\n",
            marker.display()
        ),
    )
    .expect("write");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = format!("{}:/usr/bin:/bin", planted.path().display());
    let server = server_with(who, &[], &[("PATH", path.as_str())]).expect("server");
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");

    let response = client
        .request(
            "process/start",
            sh_params(
                "p",
                &ws,
                &workspace_write(&[&ws], /*network_access*/ false),
                "echo ran",
            ),
        )
        .await;

    let (kind, message) = error_of(&response);
    assert_eq!(kind, "sandboxUnavailable", "{response}");
    assert!(message.contains("refusing to run bubblewrap"), "{message}");
    assert!(!marker.exists(), "the planted bwrap ran");

    // A real bubblewrap that only root can change, but in a root the policy makes
    // writable (the command could replace it for the next start): refused too. Needs a
    // root-owned directory nobody else may write, so it is made by root.
    if !Who::Nobody.available() {
        return;
    }
    let trusted_dir = tempfile::tempdir_in("/run").expect("tempdir in /run");
    std::fs::set_permissions(trusted_dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    std::fs::copy("/usr/bin/bwrap", trusted_dir.path().join("bwrap")).expect("copy bwrap");
    let path = format!("{}:/usr/bin:/bin", trusted_dir.path().display());
    let server = server_with(who, &[], &[("PATH", path.as_str())]).expect("server");
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let inside_a_root = workspace_write(&[&ws, trusted_dir.path()], /*network_access*/ false);
    let ok = workspace_write(&[&ws], /*network_access*/ false);

    let refused = client
        .request("process/start", sh_params("w", &ws, &inside_a_root, "true"))
        .await;
    let allowed = run(&mut client, sh_params("ok", &ws, &ok, "echo ran")).await;

    let (kind, message) = error_of(&refused);
    assert_eq!(kind, "sandboxUnavailable", "{refused}");
    assert!(
        message.contains("which this policy makes writable"),
        "{message}"
    );
    assert_eq!(allowed.output, "ran\n");
}

/// Hole 7: The command's `cwd` became a writable root, and the request's `env.TMPDIR` another.
/// What a policy grants is now what it names, plus `/tmp` and the server's own
/// `$TMPDIR` (the one `fs/*` uses too); and a root inside a protected path is refused.
async fn request_fields_never_widen_the_policy(who: Who) {
    let dir = who.dir();
    let server_tmp = dir.mkdir("server-tmp");
    let server_tmp_text = server_tmp.display().to_string();
    let server = server_with(who, &[], &[("TMPDIR", server_tmp_text.as_str())]).expect("server");
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let ws = dir.mkdir("ws");
    dir.mkdir("ws/.git/hooks");
    let cwd = dir.mkdir("cwd");
    let asked_tmp = dir.mkdir("asked-tmp");
    let policy = json!({
        "type": "workspaceWrite",
        "writableRoots": [ws],
        "readOnlyAccess": {"type": "fullAccess"},
        "networkAccess": false,
        "excludeTmpdirEnvVar": false,
        "excludeSlashTmp": true,
    });
    let mut params = sh_params(
        "fields",
        &cwd,
        &policy,
        &format!(
            "touch in-cwd 2>/dev/null || echo cwd-refused; \
             touch $TMPDIR/in-asked-tmp 2>/dev/null || echo asked-tmp-refused; \
             touch {server_tmp_text}/in-server-tmp && echo server-tmp-written"
        ),
    );
    params["env"]["TMPDIR"] = json!(asked_tmp);
    let hooks_root = json!({
        "type": "workspaceWrite",
        "writableRoots": [ws, ws.join(".git/hooks")],
        "readOnlyAccess": {"type": "fullAccess"},
        "networkAccess": false,
        "excludeTmpdirEnvVar": true,
        "excludeSlashTmp": true,
    });

    let result = run(&mut client, params).await;
    let hooks = client
        .request(
            "process/start",
            sh_params("hooks", &ws, &hooks_root, "echo x > .git/hooks/pre-commit"),
        )
        .await;
    let hooks_fs = client
        .request(
            "fs/writeFile",
            json!({"path": ws.join(".git/hooks/pre-commit"), "dataBase64": "eA==", "sandboxPolicy": hooks_root}),
        )
        .await;

    assert_eq!(
        result.output,
        "cwd-refused\nasked-tmp-refused\nserver-tmp-written\n"
    );
    for response in [&hooks, &hooks_fs] {
        let (kind, message) = error_of(response);
        assert_eq!(kind, "sandboxDenied", "{response}");
        assert!(message.contains("lies inside"), "{message}");
    }
    assert!(!ws.join(".git/hooks/pre-commit").exists());
}

/// Hole 8: `fs/readFile` of `/proc/self/environ` under a full-read policy returned the
/// server's environment, token included. The server's own `/proc` entries are refused
/// under every policy and without one.
async fn fs_never_reads_the_servers_own_proc(who: Who) {
    let (server, mut client) = connect(who).await;
    let paths = [
        "/proc/self/environ".to_string(),
        format!("/proc/{}/environ", server.pid()),
    ];

    for path in paths {
        for policy in [json!({"type": "dangerFullAccess"}), Value::Null] {
            let mut params = json!({ "path": path });
            if !policy.is_null() {
                params["sandboxPolicy"] = policy;
            }
            let response = client.request("fs/readFile", params).await;
            assert_eq!(error_of(&response).0, "sandboxDenied", "{path}: {response}");
        }
    }
}

/// Hole 9: `externalSandbox` with network restricted runs the command on the host, where it
/// took the server's listening socket with `pidfd_getfd`. Its seccomp filter now refuses
/// the calls that reach into other processes.
async fn external_sandbox_cannot_take_the_servers_descriptors(who: Who) {
    let (server, mut client) = connect(who).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let probe = format!(
        "import ctypes, os\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         pidfd = libc.syscall(434, {pid}, 0)\n\
         print('pidfd_open', 'EPERM' if pidfd < 0 and ctypes.get_errno() == 1 else pidfd)\n\
         got = libc.syscall(438, max(pidfd, 0), 3, 0)\n\
         print('pidfd_getfd', 'EPERM' if got < 0 and ctypes.get_errno() == 1 else got)\n",
        pid = server.pid()
    );
    let params = json!({
        "processId": "external",
        "argv": ["/usr/bin/python3", "-c", probe],
        "cwd": ws,
        "env": child_env(),
        "tty": false,
        "sandboxPolicy": {"type": "externalSandbox", "networkAccess": "restricted"},
    });

    let result = run(&mut client, params).await;

    assert_eq!(result.output, "pidfd_open EPERM\npidfd_getfd EPERM\n");
}

/// Hole 10: A missing `.git` is protected by a read-only mount on a placeholder directory that
/// the first sandbox creates on the host. With two servers on one workspace, the first
/// sandbox to exit removed it, which detached the other server's mount, and that
/// sandbox could create `.git`. Placeholders are now held with a lock that every process
/// respects, and removed by the last.
async fn two_servers_keep_a_missing_git_protected(who: Who) {
    let (_first, mut first) = connect(who).await;
    let (_second, mut second) = connect(who).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let policy = workspace_write(&[&ws], /*network_access*/ false);
    let go = ws.join("go");
    let waiting = format!(
        "echo ready; while [ ! -e {go} ]; do sleep 0.05; done; \
         mkdir -p .git/hooks 2>/dev/null && echo created-git || echo refused",
        go = go.display()
    );
    first
        .ok("process/start", sh_params("long", &ws, &policy, &waiting))
        .await;
    // Wait until the first sandbox runs (its placeholder is mounted).
    let ready = first
        .ok(
            "process/read",
            json!({"processId": "long", "afterSeq": 0, "waitMs": 10000}),
        )
        .await;
    assert_eq!(
        unb64(&ready["chunks"][0]["chunk"]),
        b"ready\n".to_vec(),
        "{ready}"
    );

    let short = run(&mut second, sh_params("short", &ws, &policy, "echo done")).await;
    let placeholder_kept = ws.join(".git").is_dir();
    std::fs::write(&go, "").expect("go");
    let (output, _) = read_to_close(&mut first, "long").await;

    assert_eq!(
        (
            short.output,
            placeholder_kept,
            output,
            ws.join(".git").exists(),
        ),
        (
            "done\n".to_string(),
            true,
            "ready\nrefused\n".to_string(),
            false
        )
    );
}
