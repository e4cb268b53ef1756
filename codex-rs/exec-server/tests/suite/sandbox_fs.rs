//! What a sandboxed command may read and write, through the real `codex-exec-server`
//! binary and the real `bwrap`, with the server run by the caller and by `nobody` (see
//! [`super::users`]). Every file the command is meant to find is owned by the server's
//! user, so a refusal is the sandbox's, not the file mode's.
#![cfg(target_os = "linux")]

use std::os::unix::fs::MetadataExt;

use pretty_assertions::assert_eq;
use serde_json::json;

use super::harness::EVENT_TIMEOUT;
use super::harness::RawClient;
use super::sandbox::error_of;
use super::sandbox::run;
use super::sandbox::sandboxed;
use super::sandbox::sh;

use codex_utils_test_support::NOBODY_ID;
use codex_utils_test_support::Who;
use codex_utils_test_support::workspace_write;

use super::users::server;
use codex_utils_test_support::both_users;

both_users!(async
    writes_only_land_inside_writable_roots,
    git_dir_inside_a_writable_root_stays_read_only,
    restricted_reads_hide_files_outside_the_readable_roots,
    children_and_background_grandchildren_are_confined_too,
    a_missing_writable_root_is_refused_before_anything_runs,
    a_missing_git_stays_protected_until_the_last_sandbox_using_it_exits,
);

async fn writes_only_land_inside_writable_roots(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let outside = dir.mkdir("outside");
    let policy = workspace_write(&[&ws], /*network_access*/ false);

    let result = sh(
        &mut client,
        "w",
        &ws,
        &policy,
        &format!(
            "echo in > in.txt && echo wrote-in; echo out > {}/out.txt && echo wrote-out; exit 0",
            outside.display()
        ),
    )
    .await;

    assert_eq!(result.stdout, "wrote-in\n", "{result:?}");
    assert!(
        result.stderr.contains("Read-only file system"),
        "{result:?}"
    );
    assert_eq!(std::fs::read_to_string(ws.join("in.txt")).unwrap(), "in\n");
    assert!(!outside.join("out.txt").exists());
    // On the host, what the command wrote belongs to the server's user: the caller's
    // (root's: mapped to nobody inside, back to root outside) or nobody's.
    let expected_owner = match who {
        Who::Caller => who.uid(),
        Who::Nobody => NOBODY_ID,
    };
    assert_eq!(
        std::fs::metadata(ws.join("in.txt")).unwrap().uid(),
        expected_owner
    );
}

async fn git_dir_inside_a_writable_root_stays_read_only(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    dir.mkdir("ws/.git");
    dir.write("ws/.git/HEAD", "ref: refs/heads/main\n");
    let policy = workspace_write(&[&ws], /*network_access*/ false);

    let result = sh(
        &mut client,
        "g",
        &ws,
        &policy,
        "echo evil > .git/HEAD || echo refused-head; \
         mkdir .git/hooks 2>/dev/null || echo refused-hooks; \
         echo fine > file && echo wrote-file",
    )
    .await;

    assert_eq!(
        result.stdout, "refused-head\nrefused-hooks\nwrote-file\n",
        "{result:?}"
    );
    assert_eq!(
        std::fs::read_to_string(ws.join(".git/HEAD")).unwrap(),
        "ref: refs/heads/main\n"
    );
    assert!(!ws.join(".git/hooks").exists());
}

async fn restricted_reads_hide_files_outside_the_readable_roots(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let secret_dir = dir.mkdir("secret");
    dir.write("ws/visible.txt", "visible\n");
    dir.write("secret/key.txt", "secret\n");
    let policy = json!({
        "type": "readOnly",
        "access": {"type": "restricted", "includePlatformDefaults": true, "readableRoots": [ws]},
    });

    let result = sh(
        &mut client,
        "r",
        &ws,
        &policy,
        &format!(
            "cat visible.txt; cat {}/key.txt || echo unreadable",
            secret_dir.display()
        ),
    )
    .await;

    assert_eq!(result.stdout, "visible\nunreadable\n", "{result:?}");
}

async fn children_and_background_grandchildren_are_confined_too(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let outside = dir.mkdir("outside");
    let policy = workspace_write(&[&ws], /*network_access*/ false);
    let target = outside.join("escaped.txt");

    let result = sh(
        &mut client,
        "c",
        &ws,
        &policy,
        &format!(
            "/bin/sh -c 'echo x > {0} || echo child-refused'; \
             (/bin/sh -c 'echo x > {0} || echo grandchild-refused') & wait",
            target.display()
        ),
    )
    .await;

    assert_eq!(
        result.stdout, "child-refused\ngrandchild-refused\n",
        "{result:?}"
    );
    assert!(!target.exists());
}

async fn a_missing_writable_root_is_refused_before_anything_runs(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let missing = dir.path("missing");
    let marker = ws.join("ran.txt");
    let policy = workspace_write(&[&ws, &missing], /*network_access*/ false);
    let script = format!("echo ran > {}", marker.display());

    let response = client
        .request(
            "process/start",
            sandboxed("m", &["/bin/sh", "-c", &script], &ws, &policy),
        )
        .await;

    let (code, kind, message) = error_of(&response);
    assert_eq!(
        (code, kind.as_deref()),
        (-32008, Some("sandboxDenied")),
        "{response}"
    );
    assert!(
        message.contains(&format!("writable root `{}`", missing.display())),
        "{message}"
    );
    assert!(!marker.exists());
    assert!(!missing.exists());
    // The id was released: the corrected request can use it.
    let policy = workspace_write(&[&ws], /*network_access*/ false);
    let result = run(
        &mut client,
        sandboxed("m", &["/bin/sh", "-c", &script], &ws, &policy),
    )
    .await;
    assert_eq!(result.exit_code, 0, "{result:?}");
    assert!(marker.exists());
}

/// Bubblewrap creates a missing `.git` in a writable root as the mount point of its
/// read-only placeholder, on the host too. Removing it when one sandbox exits would
/// unmount it in every other sandbox still running there (the kernel detaches mounts on
/// a removed directory), which could then create `.git`. The last one removes it.
async fn a_missing_git_stays_protected_until_the_last_sandbox_using_it_exits(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let policy = workspace_write(&[&ws], /*network_access*/ false);
    let script = "read go; mkdir .git 2>/dev/null && echo created || echo refused; \
                  touch .git/hook 2>/dev/null && echo wrote || echo refused";
    for id in ["first", "second"] {
        let mut params = sandboxed(id, &["/bin/sh", "-c", script], &ws, &policy);
        params["pipeStdin"] = json!(true);
        client.ok("process/start", params).await;
        // The second start must find `.git` existing (the first one's placeholder).
        super::harness::wait_until(".git placeholder", EVENT_TIMEOUT, || {
            ws.join(".git").is_dir()
        })
        .await;
    }
    // The placeholder on the host is the server's user's, like anything it creates.
    assert_eq!(std::fs::metadata(ws.join(".git")).unwrap().uid(), who.uid());
    let go = json!(super::harness::b64(b"go\n"));

    client
        .ok("process/write", json!({"processId": "first", "chunk": go}))
        .await;
    let (first, _) = client.read_all("first").await;
    assert!(
        ws.join(".git").is_dir(),
        "the second sandbox still mounts it"
    );
    client
        .ok("process/write", json!({"processId": "second", "chunk": go}))
        .await;
    let (second, _) = client.read_all("second").await;

    assert_eq!(
        (
            String::from_utf8_lossy(&first),
            String::from_utf8_lossy(&second)
        ),
        ("refused\nrefused\n".into(), "refused\nrefused\n".into())
    );
    assert!(!ws.join(".git").exists(), "removed after the last sandbox");
}
