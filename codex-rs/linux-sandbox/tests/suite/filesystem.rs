//! What the sandboxed command may read and write.

use std::os::unix::fs::MetadataExt;

use pretty_assertions::assert_eq;
use serde_json::json;

use super::harness::stderr;
use super::harness::stdout;
use super::harness::user_dir;
use codex_utils_test_support::NOBODY_ID;
use codex_utils_test_support::Who;
use codex_utils_test_support::both_users;
use codex_utils_test_support::workspace_write;

both_users!(
    writes_inside_writable_roots_succeed_and_outside_fail,
    grandchildren_are_confined_too,
    read_only_policy_writes_nowhere,
    existing_dot_git_in_a_writable_root_stays_read_only,
    missing_protected_paths_cannot_be_created_and_leave_nothing_behind,
    restricted_reads_hide_everything_but_the_readable_roots,
    restricted_reads_without_platform_defaults_still_run_with_the_system_roots_listed,
);

fn writes_inside_writable_roots_succeed_and_outside_fail(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let extra = dir.mkdir("extra");
    let outside = dir.mkdir("outside");
    let policy = workspace_write(&[&extra], /*network_access*/ false);
    let script = format!(
        "id -u; echo cwd > in-cwd.txt && echo extra > {extra}/in-extra.txt && echo wrote-inside; \
         if echo x > {outside}/file; then echo wrote-outside; else echo outside-denied; fi",
        extra = extra.display(),
        outside = outside.display(),
    );

    let output = dir.run_sh(&policy, &ws, &script);

    // Inside, root is nobody (mapped to it) and nobody stays nobody; a non-root
    // developer keeps its own uid.
    let uid_inside = match who {
        Who::Caller if who.uid() == 0 => NOBODY_ID,
        Who::Caller => who.uid(),
        Who::Nobody => NOBODY_ID,
    };
    assert_eq!(
        stdout(&output),
        format!("{uid_inside}\nwrote-inside\noutside-denied\n"),
        "{}",
        stderr(&output)
    );
    // On the host, what it wrote is the caller's (root's) or nobody's.
    let expected_owner = match who {
        Who::Caller => who.uid(),
        Who::Nobody => NOBODY_ID,
    };
    assert_eq!(
        std::fs::metadata(ws.join("in-cwd.txt")).unwrap().uid(),
        expected_owner
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("in-cwd.txt")).unwrap(),
        "cwd\n"
    );
    assert_eq!(
        std::fs::read_to_string(extra.join("in-extra.txt")).unwrap(),
        "extra\n"
    );
    assert!(!outside.join("file").exists());
    assert!(
        stderr(&output).contains("Read-only file system"),
        "{}",
        stderr(&output)
    );
}

fn grandchildren_are_confined_too(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let outside = dir.mkdir("outside");
    let policy = workspace_write(&[], /*network_access*/ false);
    let script = format!(
        "sh -c 'sh -c \"echo x > {}/file\"' && echo escaped || echo confined",
        outside.display()
    );

    let output = dir.run_sh(&policy, &ws, &script);

    assert_eq!(stdout(&output), "confined\n", "{}", stderr(&output));
    assert!(!outside.join("file").exists());
}

fn read_only_policy_writes_nowhere(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let policy = json!({"type": "readOnly", "access": {"type": "fullAccess"}});

    let output = dir.run_sh(&policy, &ws, "echo x > file && echo wrote || echo denied");

    assert_eq!(stdout(&output), "denied\n", "{}", stderr(&output));
    assert!(!ws.join("file").exists());
}

fn existing_dot_git_in_a_writable_root_stays_read_only(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    dir.mkdir("ws/.git/hooks");
    dir.write("ws/.git/HEAD", "ref: refs/heads/main\n");
    let policy = workspace_write(&[], /*network_access*/ false);
    let script = "for attempt in 'echo evil > .git/HEAD' 'echo evil > .git/hooks/pre-commit' \
                  'rm -rf .git' 'mv .git moved'; do \
                    if sh -c \"$attempt\" 2>/dev/null; then echo \"allowed: $attempt\"; fi; \
                  done; echo ok > normal.txt && echo done";

    let output = dir.run_sh(&policy, &ws, script);

    assert_eq!(stdout(&output), "done\n", "{}", stderr(&output));
    assert_eq!(
        std::fs::read_to_string(ws.join(".git/HEAD")).unwrap(),
        "ref: refs/heads/main\n"
    );
    assert!(!ws.join(".git/hooks/pre-commit").exists());
    assert!(ws.join("normal.txt").exists());
}

fn missing_protected_paths_cannot_be_created_and_leave_nothing_behind(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let policy = workspace_write(&[], /*network_access*/ false);
    let script = "for attempt in 'mkdir .git' 'mkdir -p .git/hooks' 'echo x > .git/config' \
                  'echo gitdir: /x > .git' 'rmdir .git' 'mv .git moved' 'mkdir .codex/x' \
                  'echo x > .agents/y' 'ln -s /tmp .codex'; do \
                    if sh -c \"$attempt\" 2>/dev/null; then echo \"allowed: $attempt\"; fi; \
                  done; echo done";

    let output = dir.run_sh(&policy, &ws, script);

    assert_eq!(stdout(&output), "done\n", "{}", stderr(&output));
    let left: Vec<String> = std::fs::read_dir(&ws)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, Vec::<String>::new());
}

fn restricted_reads_hide_everything_but_the_readable_roots(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let docs = dir.mkdir("docs");
    let secret = dir.mkdir("secret");
    dir.write("docs/a.txt", "public\n");
    dir.write("secret/b.txt", "private\n");
    let policy = json!({
        "type": "readOnly",
        "access": {
            "type": "restricted",
            "includePlatformDefaults": true,
            "readableRoots": [docs],
        },
    });
    let script = format!(
        "cat {docs}/a.txt; cat {secret}/b.txt || echo secret-hidden; \
         touch {docs}/new 2>/dev/null || echo docs-read-only",
        docs = docs.display(),
        secret = secret.display(),
    );

    let output = dir.run_sh(&policy, &ws, &script);

    assert_eq!(
        stdout(&output),
        "public\nsecret-hidden\ndocs-read-only\n",
        "{}",
        stderr(&output)
    );
}

fn restricted_reads_without_platform_defaults_still_run_with_the_system_roots_listed(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let mut roots = vec![ws.clone()];
    for system in ["/usr", "/lib", "/lib64", "/bin"] {
        if std::path::Path::new(system).exists() {
            roots.push(system.into());
        }
    }
    let policy = json!({
        "type": "readOnly",
        "access": {"type": "restricted", "includePlatformDefaults": false, "readableRoots": roots},
    });

    let output = dir.run_sh(
        &policy,
        &ws,
        "cat /etc/hostname 2>/dev/null || echo etc-hidden",
    );

    assert_eq!(stdout(&output), "etc-hidden\n", "{}", stderr(&output));
}
