//! `apply_patch` through the server: `process/start` with the server's own executable and
//! `arg0: "apply_patch"` applies a patch on the server's machine, unsandboxed and inside a
//! bubblewrap sandbox (whose mounts then decide what it may write), with the server run by
//! the caller and by `nobody`.
#![cfg(target_os = "linux")]

use std::path::PathBuf;

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

use super::harness::RawClient;
use super::harness::child_env;
use super::sandbox::Run;
use super::sandbox::run;
use super::users::UserServer;
use super::users::server;
use codex_utils_test_support::UserDir;
use codex_utils_test_support::Who;
use codex_utils_test_support::both_users;
use codex_utils_test_support::workspace_write;

both_users!(async
    apply_patch_by_arg0_edits_files_on_the_server,
    a_sandboxed_apply_patch_cannot_write_outside_its_roots_and_writes_nothing,
);

fn start(
    id: &str,
    binary: &str,
    patch: &str,
    cwd: &std::path::Path,
    policy: Option<Value>,
) -> Value {
    let mut params = json!({
        "processId": id,
        "argv": [binary, patch],
        "arg0": "apply_patch",
        "cwd": cwd,
        "env": child_env(),
        "tty": false,
    });
    if let Some(policy) = policy {
        params["sandboxPolicy"] = policy;
    }
    params
}

/// A server run by `who`, a client of it, and a workspace `dir/ws` that `who` owns.
struct Setup {
    _server: UserServer,
    /// The server's executable (what `argv[0]` names to run it as `apply_patch`).
    binary: String,
    client: RawClient,
    dir: UserDir,
    ws: PathBuf,
}

async fn setup(who: Who) -> Option<Setup> {
    let server = server(who, &[])?;
    let binary = server.binary().to_str().expect("UTF-8 path").to_string();
    let (client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    Some(Setup {
        _server: server,
        binary,
        client,
        dir,
        ws,
    })
}

async fn apply_patch_by_arg0_edits_files_on_the_server(who: Who) {
    let Some(Setup {
        _server,
        binary,
        mut client,
        dir,
        ws,
    }) = setup(who).await
    else {
        return;
    };
    let binary = binary.as_str();
    dir.write("ws/a.txt", "one\ntwo\nthree\n");
    let patch = "*** Begin Patch\n*** Update File: a.txt\n@@\n one\n-two\n+2\n three\n\
                 *** Add File: sub/new.txt\n+hello\n*** End Patch\n";

    let plain = run(
        &mut client,
        start("plain", binary, patch, &ws, /*policy*/ None),
    )
    .await;
    let policy = workspace_write(&[&ws], /*network_access*/ false);
    let undo = "*** Begin Patch\n*** Update File: a.txt\n@@\n one\n-2\n+two\n three\n\
                *** Delete File: sub/new.txt\n*** End Patch\n";
    let sandboxed = run(
        &mut client,
        start("sandboxed", binary, undo, &ws, Some(policy)),
    )
    .await;

    assert_eq!(
        (plain, sandboxed),
        (
            Run {
                stdout: "Success. Updated the following files:\nM a.txt\nA sub/new.txt\n"
                    .to_string(),
                stderr: String::new(),
                exit_code: 0,
            },
            Run {
                stdout: "Success. Updated the following files:\nM a.txt\nD sub/new.txt\n"
                    .to_string(),
                stderr: String::new(),
                exit_code: 0,
            }
        )
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("a.txt")).unwrap(),
        "one\ntwo\nthree\n"
    );
    assert!(!ws.join("sub/new.txt").exists());
}

/// Verification inside the sandbox sees its read-only mounts: a patch that would also
/// write outside the writable root, or into `.git`, is refused before its first write.
async fn a_sandboxed_apply_patch_cannot_write_outside_its_roots_and_writes_nothing(who: Who) {
    let Some(Setup {
        _server,
        binary,
        mut client,
        dir,
        ws,
    }) = setup(who).await
    else {
        return;
    };
    let binary = binary.as_str();
    dir.mkdir("ws/.git");
    dir.write("ws/a.txt", "a\n");
    dir.write("outside.txt", "outside\n");
    let policy = workspace_write(&[&ws], /*network_access*/ false);
    let cases = [
        (
            "out",
            "*** Update File: ../outside.txt\n@@\n-outside\n+pwned\n",
            "../outside.txt",
        ),
        (
            "git",
            "*** Add File: .git/hooks/post-checkout\n+#!/bin/sh\n",
            ".git/hooks/post-checkout",
        ),
    ];
    for (id, operation, path) in cases {
        let patch = format!(
            "*** Begin Patch\n*** Update File: a.txt\n@@\n-a\n+b\n{operation}*** End Patch\n"
        );
        let ran = run(
            &mut client,
            start(id, binary, &patch, &ws, Some(policy.clone())),
        )
        .await;
        assert_eq!(
            (ran.stdout.as_str(), ran.exit_code),
            ("", 1),
            "{id}: {ran:?}"
        );
        assert!(
            ran.stderr.contains("cannot ") && ran.stderr.contains(path),
            "{id}: {}",
            ran.stderr
        );
        assert!(
            ran.stderr.contains("Read-only file system"),
            "{id}: {}",
            ran.stderr
        );
    }
    assert_eq!(std::fs::read_to_string(ws.join("a.txt")).unwrap(), "a\n");
    assert_eq!(
        std::fs::read_to_string(dir.path("outside.txt")).unwrap(),
        "outside\n"
    );
    assert!(!ws.join(".git/hooks").exists());
}
