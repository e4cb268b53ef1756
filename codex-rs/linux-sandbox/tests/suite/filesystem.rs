//! What the sandboxed command may read and write.

use pretty_assertions::assert_eq;
use serde_json::json;

use super::harness::TestDir;
use super::harness::run_sh;
use super::harness::stderr;
use super::harness::stdout;
use super::harness::workspace_write;

#[test]
fn writes_inside_writable_roots_succeed_and_outside_fail() {
    let dir = TestDir::new();
    let ws = dir.mkdir("ws");
    let extra = dir.mkdir("extra");
    let outside = dir.mkdir("outside");
    let policy = workspace_write(&[&extra], /*network_access*/ false);
    let script = format!(
        "echo cwd > in-cwd.txt && echo extra > {extra}/in-extra.txt && echo wrote-inside; \
         if echo x > {outside}/file; then echo wrote-outside; else echo outside-denied; fi",
        extra = extra.display(),
        outside = outside.display(),
    );

    let output = run_sh(&policy, &ws, &script);

    assert_eq!(
        stdout(&output),
        "wrote-inside\noutside-denied\n",
        "{}",
        stderr(&output)
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

#[test]
fn grandchildren_are_confined_too() {
    let dir = TestDir::new();
    let ws = dir.mkdir("ws");
    let outside = dir.mkdir("outside");
    let policy = workspace_write(&[], /*network_access*/ false);
    let script = format!(
        "sh -c 'sh -c \"echo x > {}/file\"' && echo escaped || echo confined",
        outside.display()
    );

    let output = run_sh(&policy, &ws, &script);

    assert_eq!(stdout(&output), "confined\n", "{}", stderr(&output));
    assert!(!outside.join("file").exists());
}

#[test]
fn read_only_policy_writes_nowhere() {
    let dir = TestDir::new();
    let ws = dir.mkdir("ws");
    let policy = json!({"type": "readOnly", "access": {"type": "fullAccess"}});

    let output = run_sh(&policy, &ws, "echo x > file && echo wrote || echo denied");

    assert_eq!(stdout(&output), "denied\n", "{}", stderr(&output));
    assert!(!ws.join("file").exists());
}

#[test]
fn existing_dot_git_in_a_writable_root_stays_read_only() {
    let dir = TestDir::new();
    let ws = dir.mkdir("ws");
    dir.mkdir("ws/.git/hooks");
    std::fs::write(ws.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    let policy = workspace_write(&[], /*network_access*/ false);
    let script = "for attempt in 'echo evil > .git/HEAD' 'echo evil > .git/hooks/pre-commit' \
                  'rm -rf .git' 'mv .git moved'; do \
                    if sh -c \"$attempt\" 2>/dev/null; then echo \"allowed: $attempt\"; fi; \
                  done; echo ok > normal.txt && echo done";

    let output = run_sh(&policy, &ws, script);

    assert_eq!(stdout(&output), "done\n", "{}", stderr(&output));
    assert_eq!(
        std::fs::read_to_string(ws.join(".git/HEAD")).unwrap(),
        "ref: refs/heads/main\n"
    );
    assert!(!ws.join(".git/hooks/pre-commit").exists());
    assert!(ws.join("normal.txt").exists());
}

#[test]
fn missing_protected_paths_cannot_be_created_and_leave_nothing_behind() {
    let dir = TestDir::new();
    let ws = dir.mkdir("ws");
    let policy = workspace_write(&[], /*network_access*/ false);
    let script = "for attempt in 'mkdir .git' 'mkdir -p .git/hooks' 'echo x > .git/config' \
                  'echo gitdir: /x > .git' 'rmdir .git' 'mv .git moved' 'mkdir .codex/x' \
                  'echo x > .agents/y' 'ln -s /tmp .codex'; do \
                    if sh -c \"$attempt\" 2>/dev/null; then echo \"allowed: $attempt\"; fi; \
                  done; echo done";

    let output = run_sh(&policy, &ws, script);

    assert_eq!(stdout(&output), "done\n", "{}", stderr(&output));
    let left: Vec<String> = std::fs::read_dir(&ws)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, Vec::<String>::new());
}

#[test]
fn restricted_reads_hide_everything_but_the_readable_roots() {
    let dir = TestDir::new();
    let ws = dir.mkdir("ws");
    let docs = dir.mkdir("docs");
    let secret = dir.mkdir("secret");
    std::fs::write(docs.join("a.txt"), "public\n").unwrap();
    std::fs::write(secret.join("b.txt"), "private\n").unwrap();
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

    let output = run_sh(&policy, &ws, &script);

    assert_eq!(
        stdout(&output),
        "public\nsecret-hidden\ndocs-read-only\n",
        "{}",
        stderr(&output)
    );
}

#[test]
fn restricted_reads_without_platform_defaults_still_run_with_the_system_roots_listed() {
    let dir = TestDir::new();
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

    let output = run_sh(
        &policy,
        &ws,
        "cat /etc/hostname 2>/dev/null || echo etc-hidden",
    );

    assert_eq!(stdout(&output), "etc-hidden\n", "{}", stderr(&output));
}
