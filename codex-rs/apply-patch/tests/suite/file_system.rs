//! `apply_patch` over an `ExecutorFileSystem`, every case against the local filesystem and
//! against a real exec-server: what a patch writes, and that a patch which fails
//! verification leaves the tree byte for byte as it was.

use std::path::Path;

use codex_apply_patch::AppliedPatch;
use codex_apply_patch::ApplyPatchError;
use codex_apply_patch::ChangeKind;
use codex_apply_patch::FileChange;
use codex_protocol::ReadOnlyAccess;
use codex_protocol::SandboxPolicy;
use pretty_assertions::assert_eq;

use super::backends::abs;
use super::backends::apply;
use super::backends::backends;
use super::tree::Node;
use super::tree::snapshot;

fn write(root: &Path, path: &str, contents: &[u8]) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, contents).expect("write");
}

fn change(kind: ChangeKind, root: &Path, display: &str) -> FileChange {
    FileChange {
        kind,
        display: display.to_string(),
        path: abs(root.join(display)),
    }
}

fn text(value: &str) -> Node {
    Node::Text(value.to_string())
}

#[tokio::test]
async fn a_patch_adds_updates_moves_and_deletes_the_same_on_both_backends() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        write(root, "src/lib.rs", b"fn a() {}\nfn b() {}\n");
        write(root, "old/name.txt", b"keep\nchange\n");
        write(root, "target.txt", b"will be replaced\n");
        write(root, "gone.txt", b"bye\n");
        write(root, "crlf.txt", b"one\r\ntwo\r\n");
        write(root, "no_newline.txt", b"x\ny");
        let patch = "*** Begin Patch\n\
                     *** Add File: docs/new.md\n+# New\n\
                     *** Update File: src/lib.rs\n@@ fn a() {}\n-fn b() {}\n+fn b() { a() }\n\
                     *** Update File: old/name.txt\n*** Move to: target.txt\n@@\n keep\n-change\n+changed\n\
                     *** Delete File: gone.txt\n\
                     *** Update File: crlf.txt\n@@\n one\n-two\n+2\n\
                     *** Update File: no_newline.txt\n@@\n-x\n+z\n\
                     *** End Patch";

        let applied = apply(fs.as_ref(), root, /*policy*/ None, patch).await;

        assert_eq!(
            applied,
            Ok(AppliedPatch {
                changes: vec![
                    change(ChangeKind::Added, root, "docs/new.md"),
                    change(ChangeKind::Modified, root, "src/lib.rs"),
                    change(ChangeKind::Modified, root, "target.txt"),
                    change(ChangeKind::Deleted, root, "gone.txt"),
                    change(ChangeKind::Modified, root, "crlf.txt"),
                    change(ChangeKind::Modified, root, "no_newline.txt"),
                ]
            }),
            "{name}"
        );
        assert_eq!(
            applied.expect("applied").summary(),
            "Success. Updated the following files:\nA docs/new.md\nM src/lib.rs\nM target.txt\n\
             D gone.txt\nM crlf.txt\nM no_newline.txt\n",
            "{name}"
        );
        assert_eq!(
            snapshot(root),
            [
                ("crlf.txt", text("one\r\n2\r\n")),
                ("docs", Node::Dir),
                ("docs/new.md", text("# New\n")),
                ("no_newline.txt", text("z\ny")),
                ("old", Node::Dir),
                ("src", Node::Dir),
                ("src/lib.rs", text("fn a() {}\nfn b() { a() }\n")),
                ("target.txt", text("keep\nchanged\n")),
            ]
            .into_iter()
            .map(|(path, node)| (path.to_string(), node))
            .collect(),
            "{name}"
        );
    }
}

/// Each patch has a first operation that would succeed and a later one that cannot: the
/// error names the problem and nothing at all is written.
#[tokio::test]
async fn a_patch_that_fails_verification_changes_nothing() {
    let (_server, backends) = backends().await;
    let first = "*** Update File: a.txt\n@@\n-a\n+CHANGED\n*** Add File: added.txt\n+new\n";
    let cases: Vec<(&str, String, String)> = vec![
        (
            "missing context",
            "*** Update File: b.txt\n@@\n-not there\n+x\n".to_string(),
            "failed to find the expected lines in b.txt:\nnot there".to_string(),
        ),
        (
            "missing file",
            "*** Update File: nope.txt\n@@\n-x\n+y\n".to_string(),
            "cannot update `nope.txt`: no such file".to_string(),
        ),
        (
            "delete of a missing file",
            "*** Delete File: nope.txt\n".to_string(),
            "cannot delete `nope.txt`: no such file".to_string(),
        ),
        (
            "a directory where a file is expected",
            "*** Update File: dir\n@@\n-x\n+y\n".to_string(),
            "cannot update `dir`: it is a directory".to_string(),
        ),
        (
            "a directory in the way of an add",
            "*** Add File: dir\n+x\n".to_string(),
            "cannot add `dir`: it is a directory".to_string(),
        ),
        (
            "a symlink to update",
            "*** Update File: link.txt\n@@\n-b\n+c\n".to_string(),
            "cannot update `link.txt`: it is a symbolic link; apply_patch does not write \
             through links"
                .to_string(),
        ),
        (
            "a symlinked directory on the way",
            "*** Add File: linked_dir/new.txt\n+x\n".to_string(),
            "PLACEHOLDER_LINKED_DIR".to_string(),
        ),
        (
            "a file on the way",
            "*** Add File: b.txt/new.txt\n+x\n".to_string(),
            "PLACEHOLDER_FILE_ON_WAY".to_string(),
        ),
        (
            "the same file added twice",
            "*** Add File: twice.txt\n+1\n*** Add File: twice.txt\n+2\n".to_string(),
            "`twice.txt` is changed by more than one operation of this patch \
             (`*** Add File: twice.txt` and `*** Add File: twice.txt`); merge them into one"
                .to_string(),
        ),
        (
            "a file deleted and updated",
            "*** Delete File: b.txt\n*** Update File: b.txt\n@@\n-b\n+c\n".to_string(),
            "`b.txt` is changed by more than one operation of this patch \
             (`*** Delete File: b.txt` and `*** Update File: b.txt`); merge them into one"
                .to_string(),
        ),
        (
            "moved onto a file the patch also changes",
            "*** Update File: b.txt\n*** Move to: a.txt\n@@\n-b\n+c\n".to_string(),
            "`a.txt` is changed by more than one operation of this patch \
             (`*** Update File: a.txt` and `*** Move to: a.txt`); merge them into one"
                .to_string(),
        ),
        (
            "a file that is not UTF-8",
            "*** Update File: binary.bin\n@@\n-x\n+y\n".to_string(),
            "cannot update `binary.bin`: it is not UTF-8 text; apply_patch edits text files \
             only"
                .to_string(),
        ),
    ];
    for (name, fs) in &backends {
        for (case, operation, expected) in &cases {
            let dir = tempfile::tempdir().expect("temp dir");
            let root = dir.path();
            write(root, "a.txt", b"a\n");
            write(root, "b.txt", b"b\n");
            write(root, "dir/inside.txt", b"inside\n");
            write(root, "binary.bin", b"x\n\xff\xfe\n");
            let outside = tempfile::tempdir().expect("outside");
            std::os::unix::fs::symlink(root.join("b.txt"), root.join("link.txt")).expect("link");
            std::os::unix::fs::symlink(outside.path(), root.join("linked_dir")).expect("link");
            let before = snapshot(root);
            let patch = format!("*** Begin Patch\n{first}{operation}*** End Patch\n");

            let err = apply(fs.as_ref(), root, /*policy*/ None, &patch)
                .await
                .expect_err(case)
                .to_string();

            let expected = match expected.as_str() {
                "PLACEHOLDER_LINKED_DIR" => format!(
                    "cannot add `linked_dir/new.txt`: `{}` on its way is a symbolic link; \
                     apply_patch does not write through links",
                    root.join("linked_dir").display()
                ),
                "PLACEHOLDER_FILE_ON_WAY" => format!(
                    "cannot add `b.txt/new.txt`: `{}` on its way is not a directory",
                    root.join("b.txt").display()
                ),
                other => other.to_string(),
            };
            assert_eq!(err, expected, "{name}: {case}");
            assert_eq!(snapshot(root), before, "{name}: {case}: the tree changed");
            assert_eq!(
                snapshot(outside.path()),
                Default::default(),
                "{name}: {case}"
            );
        }
    }
}

/// Under a `workspaceWrite` policy, `..` out of the cwd and the protected `.git` are refused
/// before the first write; without a policy, `..` and absolute paths are fine.
#[tokio::test]
async fn the_policy_decides_where_a_patch_may_write() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let base = tempfile::tempdir().expect("temp dir");
        let base = base.path().canonicalize().expect("canonical");
        let ws = base.join("ws");
        write(&ws, "a.txt", b"a\n");
        write(&ws, ".git/config", b"[core]\n");
        write(&base, "outside.txt", b"outside\n");
        let policy = SandboxPolicy::WorkspaceWrite {
            writable_roots: vec![abs(&ws)],
            read_only_access: ReadOnlyAccess::FullAccess,
            network_access: false,
            exclude_tmpdir_env_var: true,
            exclude_slash_tmp: true,
        };
        let update_a = "*** Update File: a.txt\n@@\n-a\n+b\n";
        for (case, operation, path) in [
            (
                "dotdot",
                "*** Update File: ../outside.txt\n@@\n-outside\n+x\n",
                "../outside.txt",
            ),
            (
                "git",
                "*** Update File: .git/config\n@@\n-[core]\n+[x]\n",
                ".git/config",
            ),
            (
                "git hook",
                "*** Add File: .git/hooks/pre-commit\n+#!/bin/sh\n",
                ".git/hooks/pre-commit",
            ),
        ] {
            let before = snapshot(&base);
            let patch = format!("*** Begin Patch\n{update_a}{operation}*** End Patch\n");
            let err = apply(fs.as_ref(), &ws, Some(&policy), &patch)
                .await
                .expect_err(case);
            assert!(
                matches!(&err, ApplyPatchError::Denied { path: denied, source }
                    if denied == path && source.kind() == Some("sandboxDenied")),
                "{name}: {case}: {err}"
            );
            assert_eq!(snapshot(&base), before, "{name}: {case}");
        }

        let absolute = base.join("outside.txt");
        let patch = format!(
            "*** Begin Patch\n{update_a}*** Update File: {}\n@@\n-outside\n+changed\n\
             *** Add File: ../sibling/new.txt\n+new\n*** End Patch\n",
            absolute.display()
        );
        let applied = apply(fs.as_ref(), &ws, /*policy*/ None, &patch)
            .await
            .expect(name);
        assert_eq!(applied.changes.len(), 3, "{name}");
        assert_eq!(
            std::fs::read_to_string(&absolute).expect("outside"),
            "changed\n",
            "{name}"
        );
        assert_eq!(
            std::fs::read_to_string(base.join("sibling/new.txt")).expect("sibling"),
            "new\n",
            "{name}"
        );
    }
}

/// Bad input: a clear error, nothing written, no panic.
#[tokio::test]
async fn hostile_patches_are_refused_cleanly() {
    let (_server, backends) = backends().await;
    let huge = format!(
        "*** Begin Patch\n*** Add File: big.txt\n{}*** End Patch\n",
        "+0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n".repeat(1_700_000)
    );
    assert!(huge.len() > 100 * 1024 * 1024);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "binary data",
            "*** Begin Patch\n*** Add File: x.bin\n+\0\u{1}\n*** End Patch\n".to_string(),
            "invalid patch: line 3:",
        ),
        (
            "a NUL in a path",
            "*** Begin Patch\n*** Add File: a\0b\n+x\n*** End Patch\n".to_string(),
            "invalid patch: line 2:",
        ),
        ("a 100 MiB patch", huge, "invalid patch: line 1:"),
        (
            "an empty patch",
            "*** Begin Patch\n*** End Patch\n".to_string(),
            "invalid patch:",
        ),
        (
            "not a patch",
            "rm -rf /\n".to_string(),
            "invalid patch: line 1:",
        ),
    ];
    for (name, fs) in &backends {
        for (case, patch, prefix) in &cases {
            let dir = tempfile::tempdir().expect("temp dir");
            let err = apply(fs.as_ref(), dir.path(), /*policy*/ None, patch)
                .await
                .expect_err(case)
                .to_string();
            assert!(err.starts_with(prefix), "{name}: {case}: {err}");
            assert_eq!(snapshot(dir.path()), Default::default(), "{name}: {case}");
        }
    }
}
