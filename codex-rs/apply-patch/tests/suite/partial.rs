//! A write that fails after verification (the disk filled up, the tree changed meanwhile):
//! the error says what failed and lists what was already done. Simulated with a filesystem
//! that fails one chosen call and passes everything else to a real one (local and remote).

use std::sync::Arc;

use codex_apply_patch::ApplyPatchError;
use codex_file_system::CopyOptions;
use codex_file_system::CreateDirectoryOptions;
use codex_file_system::DirectoryEntry;
use codex_file_system::ExecutorFileSystem;
use codex_file_system::FileMetadata;
use codex_file_system::FileSystemError;
use codex_file_system::FileSystemFuture;
use codex_file_system::RemoveOptions;
use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;
use pretty_assertions::assert_eq;

use super::backends::abs;
use super::backends::apply;
use super::backends::backends;

/// `inner`, except that writing or removing `broken` fails with "disk full".
struct Failing {
    inner: Arc<dyn ExecutorFileSystem>,
    broken: AbsolutePathBuf,
}

fn disk_full() -> FileSystemError {
    FileSystemError::Io("disk full".to_string())
}

impl ExecutorFileSystem for Failing {
    fn read_file<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, Vec<u8>> {
        self.inner.read_file(path, policy)
    }

    fn write_file<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        data: Vec<u8>,
        policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()> {
        if *path == self.broken {
            return Box::pin(async { Err(disk_full()) });
        }
        self.inner.write_file(path, data, policy)
    }

    fn create_directory<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        options: CreateDirectoryOptions,
        policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()> {
        self.inner.create_directory(path, options, policy)
    }

    fn get_metadata<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, FileMetadata> {
        self.inner.get_metadata(path, policy)
    }

    fn read_directory<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, Vec<DirectoryEntry>> {
        self.inner.read_directory(path, policy)
    }

    fn remove<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        options: RemoveOptions,
        policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()> {
        if *path == self.broken {
            return Box::pin(async { Err(disk_full()) });
        }
        self.inner.remove(path, options, policy)
    }

    fn check_write<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()> {
        self.inner.check_write(path, policy)
    }

    fn copy<'a>(
        &'a self,
        source: &'a AbsolutePathBuf,
        destination: &'a AbsolutePathBuf,
        options: CopyOptions,
        policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()> {
        self.inner.copy(source, destination, options, policy)
    }
}

#[tokio::test]
async fn a_write_that_fails_midway_reports_what_was_already_written() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::write(root.join("old.txt"), "old\n").expect("old");
        let failing = Failing {
            inner: Arc::clone(fs),
            broken: abs(root.join("b.txt")),
        };
        let patch = "*** Begin Patch\n*** Add File: a.txt\n+a\n*** Update File: old.txt\n\
                     @@\n-old\n+new\n*** Add File: b.txt\n+b\n*** Add File: c.txt\n+c\n\
                     *** End Patch\n";

        let err = apply(&failing, root, /*policy*/ None, patch)
            .await
            .expect_err(name);

        assert_eq!(
            err,
            ApplyPatchError::PartiallyApplied {
                action: "writing",
                path: "b.txt".to_string(),
                source: disk_full(),
                done: vec!["A a.txt".to_string(), "M old.txt".to_string()],
            },
            "{name}"
        );
        assert_eq!(
            err.to_string(),
            "writing `b.txt` failed after the patch was partly applied: disk full\n\
             already done:\n  A a.txt\n  M old.txt",
            "{name}"
        );
        assert_eq!(
            std::fs::read_to_string(root.join("old.txt")).unwrap(),
            "new\n"
        );
        assert!(
            root.join("a.txt").exists() && !root.join("c.txt").exists(),
            "{name}"
        );
    }
}

/// A move is a write and a removal: when the removal fails, the error says the new file
/// was written and the old one is still there.
#[tokio::test]
async fn a_move_whose_removal_fails_says_which_half_was_done() {
    let (_server, backends) = backends().await;
    for (name, fs) in &backends {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::write(root.join("from.txt"), "x\n").expect("from");
        let failing = Failing {
            inner: Arc::clone(fs),
            broken: abs(root.join("from.txt")),
        };
        let patch = "*** Begin Patch\n*** Update File: from.txt\n*** Move to: to.txt\n@@\n-x\n+y\n\
                     *** End Patch\n";

        let err = apply(&failing, root, /*policy*/ None, patch)
            .await
            .expect_err(name);

        assert_eq!(
            err,
            ApplyPatchError::PartiallyApplied {
                action: "removing",
                path: "from.txt".to_string(),
                source: disk_full(),
                done: vec!["M to.txt (written; `from.txt` is still there)".to_string()],
            },
            "{name}"
        );
        assert_eq!(std::fs::read_to_string(root.join("to.txt")).unwrap(), "y\n");
        assert!(root.join("from.txt").exists(), "{name}");
    }
}
