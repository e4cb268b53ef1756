//! `ExecutorFileSystem`: every case runs against `LocalFileSystem` and against
//! `RemoteFileSystem` talking to a real `codex-exec-server`, with the same expected results.
//! Each backend gets a fresh fixture (a temp dir with a writable root and an "outside").

use std::fmt::Debug;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use codex_exec_server::Environment;
use codex_file_system::CopyOptions;
use codex_file_system::CreateDirectoryOptions;
use codex_file_system::DirectoryEntry;
use codex_file_system::ExecutorFileSystem;
use codex_file_system::FileSystemError;
use codex_file_system::LocalFileSystem;
use codex_file_system::LocalFileSystemConfig;
use codex_file_system::RemoveOptions;
use codex_protocol::ReadOnlyAccess;
use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;
use pretty_assertions::assert_eq;
use tempfile::TempDir;

use super::harness::TestServer;

/// A small limit, so the size checks need no big files.
const MAX_FS_BYTES: usize = 1024;

pub(super) fn abs(path: impl AsRef<Path>) -> AbsolutePathBuf {
    AbsolutePathBuf::try_from_absolute(path.as_ref()).expect("absolute")
}

/// `Ok(value)` or the error's wire kind (`invalidParams` for -32602).
pub(super) fn kind<T: Debug>(result: Result<T, FileSystemError>) -> Result<T, String> {
    result.map_err(|err| match err {
        FileSystemError::InvalidParams(_) => "invalidParams".to_string(),
        other => other
            .kind()
            .map_or_else(|| format!("other: {other}"), str::to_string),
    })
}

pub(super) struct Backends {
    _server: TestServer,
    pub(super) list: Vec<(&'static str, Arc<dyn ExecutorFileSystem>)>,
}

/// Local and remote, both with `MAX_FS_BYTES` and `$TMPDIR` = `tmpdir`.
pub(super) async fn backends(tmpdir: &Path) -> Backends {
    let local = LocalFileSystem::new(LocalFileSystemConfig {
        max_fs_bytes: MAX_FS_BYTES,
        env_tmpdir: Some(abs(tmpdir)),
        ..LocalFileSystemConfig::default()
    });
    let limit = MAX_FS_BYTES.to_string();
    let tmpdir = tmpdir.to_str().expect("UTF-8 temp dir");
    let server = TestServer::start_with(&["--max-fs-bytes", &limit], &[("TMPDIR", tmpdir)]);
    let remote = Environment::from_env_value(Some(&server.url))
        .await
        .expect("connect")
        .file_system()
        .expect("the server offers the filesystem");
    Backends {
        _server: server,
        list: vec![("local", Arc::new(local)), ("remote", remote)],
    }
}

/// `base/root` (the writable root of the policies below) and `base/outside`, with
/// `outside/secret` = "secret".
pub(super) struct Fixture {
    _base: TempDir,
    pub(super) root: AbsolutePathBuf,
    pub(super) outside: AbsolutePathBuf,
}

impl Fixture {
    pub(super) fn new() -> Self {
        let base = tempfile::tempdir().expect("temp dir");
        let canonical = std::fs::canonicalize(base.path()).expect("canonical temp dir");
        let root = abs(canonical.join("root"));
        let outside = abs(canonical.join("outside"));
        std::fs::create_dir(&root).expect("root");
        std::fs::create_dir(&outside).expect("outside");
        std::fs::write(outside.join("secret"), "secret").expect("secret");
        Self {
            _base: base,
            root,
            outside,
        }
    }

    /// `path` relative to the root.
    pub(super) fn at(&self, path: &str) -> AbsolutePathBuf {
        self.root.join(path)
    }
}

/// Writes only under `roots`, reads only there too; no temp directories.
pub(super) fn workspace(roots: &[&AbsolutePathBuf]) -> SandboxPolicy {
    SandboxPolicy::WorkspaceWrite {
        writable_roots: roots.iter().map(|root| (*root).clone()).collect(),
        read_only_access: ReadOnlyAccess::Restricted {
            include_platform_defaults: false,
            readable_roots: Vec::new(),
        },
        network_access: false,
        exclude_tmpdir_env_var: true,
        exclude_slash_tmp: true,
    }
}

fn read_only(access: ReadOnlyAccess) -> SandboxPolicy {
    SandboxPolicy::ReadOnly { access }
}

fn file(name: &str) -> DirectoryEntry {
    DirectoryEntry {
        file_name: name.to_string(),
        is_directory: false,
        is_file: true,
    }
}

fn directory(name: &str) -> DirectoryEntry {
    DirectoryEntry {
        file_name: name.to_string(),
        is_directory: true,
        is_file: false,
    }
}

fn symlink_entry(name: &str) -> DirectoryEntry {
    DirectoryEntry {
        file_name: name.to_string(),
        is_directory: false,
        is_file: false,
    }
}

#[tokio::test]
async fn plain_operations_round_trip_and_report_typed_errors() {
    let tmpdir = tempfile::tempdir().unwrap();
    let backends = backends(tmpdir.path()).await;
    for (name, fs) in &backends.list {
        let fx = Fixture::new();
        let data = vec![0u8, 1, 2, 255, b'\n'];
        fs.write_file(&fx.at("a.bin"), data.clone(), /*sandbox_policy*/ None)
            .await
            .unwrap();
        let tree = fx.at("x/y/z");
        fs.create_directory(
            &tree,
            CreateDirectoryOptions {
                recursive: /*recursive*/ true,
            },
            /*sandbox_policy*/ None,
        )
        .await
        .unwrap();
        fs.write_file(
            &tree.join("f.txt"),
            b"f".to_vec(),
            /*sandbox_policy*/ None,
        )
        .await
        .unwrap();
        fs.copy(
            &fx.at("x"),
            &fx.at("x2"),
            CopyOptions { recursive: true },
            /*sandbox_policy*/ None,
        )
        .await
        .unwrap();
        fs.copy(
            &fx.at("a.bin"),
            &fx.at("b.bin"),
            CopyOptions::default(),
            /*sandbox_policy*/ None,
        )
        .await
        .unwrap();
        let metadata = fs
            .get_metadata(&fx.at("a.bin"), /*sandbox_policy*/ None)
            .await
            .unwrap();
        let results = (
            fs.read_file(&fx.at("a.bin"), /*sandbox_policy*/ None)
                .await
                .unwrap(),
            fs.read_file(&fx.at("x2/y/z/f.txt"), /*sandbox_policy*/ None)
                .await
                .unwrap(),
            fs.read_directory(&fx.root, /*sandbox_policy*/ None)
                .await
                .unwrap(),
            (
                metadata.is_file,
                metadata.is_directory,
                metadata.is_symlink,
                metadata.size,
                metadata.modified_at_ms > 0,
            ),
        );
        assert_eq!(
            results,
            (
                data.clone(),
                b"f".to_vec(),
                vec![
                    file("a.bin"),
                    file("b.bin"),
                    directory("x"),
                    directory("x2")
                ],
                (true, false, false, 5, true),
            ),
            "{name}"
        );

        let errors = (
            kind(
                fs.read_file(&fx.at("missing"), /*sandbox_policy*/ None)
                    .await,
            ),
            kind(
                fs.write_file(
                    &fx.at("no/parent"),
                    b"x".to_vec(),
                    /*sandbox_policy*/ None,
                )
                .await,
            ),
            kind(
                fs.create_directory(
                    &fx.at("x"),
                    CreateDirectoryOptions::default(),
                    /*sandbox_policy*/ None,
                )
                .await,
            ),
            kind(
                fs.remove(
                    &fx.at("x"),
                    RemoveOptions::default(),
                    /*sandbox_policy*/ None,
                )
                .await,
            ),
            kind(fs.read_file(&fx.at("x"), /*sandbox_policy*/ None).await),
            kind(
                fs.read_directory(&fx.at("a.bin"), /*sandbox_policy*/ None)
                    .await,
            ),
            kind(
                fs.copy(
                    &fx.at("x"),
                    &fx.at("x3"),
                    CopyOptions::default(),
                    /*sandbox_policy*/ None,
                )
                .await,
            ),
            kind(
                fs.copy(
                    &fx.at("x"),
                    &fx.at("x/y/in"),
                    CopyOptions { recursive: true },
                    /*sandbox_policy*/ None,
                )
                .await,
            ),
            kind(
                fs.remove(
                    &fx.at("missing"),
                    RemoveOptions::default(),
                    /*sandbox_policy*/ None,
                )
                .await,
            ),
            kind(
                fs.remove(
                    &fx.at("missing"),
                    RemoveOptions {
                        recursive: false,
                        force: true,
                    },
                    /*sandbox_policy*/ None,
                )
                .await,
            ),
        );
        assert_eq!(
            errors,
            (
                Err("notFound".to_string()),
                Err("notFound".to_string()),
                Err("alreadyExists".to_string()),
                Err("directoryNotEmpty".to_string()),
                Err("isADirectory".to_string()),
                Err("notADirectory".to_string()),
                Err("isADirectory".to_string()),
                Err("invalidParams".to_string()),
                Err("notFound".to_string()),
                Ok(()),
            ),
            "{name}"
        );
        assert!(!fx.at("x/y/in").as_path().exists(), "{name}");

        fs.remove(
            &fx.at("x"),
            RemoveOptions {
                recursive: true,
                force: false,
            },
            /*sandbox_policy*/ None,
        )
        .await
        .unwrap();
        fs.remove(
            &fx.at("a.bin"),
            RemoveOptions::default(),
            /*sandbox_policy*/ None,
        )
        .await
        .unwrap();
        assert_eq!(
            fs.read_directory(&fx.root, None).await.unwrap(),
            vec![file("b.bin"), directory("x2")],
            "{name}"
        );
    }
}

#[tokio::test]
async fn symlinks_out_of_a_root_are_outside() {
    let tmpdir = tempfile::tempdir().unwrap();
    let backends = backends(tmpdir.path()).await;
    for (name, fs) in &backends.list {
        let fx = Fixture::new();
        let policy = workspace(&[&fx.root]);
        let policy = Some(&policy);
        std::os::unix::fs::symlink(fx.outside.join("secret"), fx.at("file_link")).unwrap();
        std::os::unix::fs::symlink(&fx.outside, fx.at("dir_link")).unwrap();
        std::os::unix::fs::symlink(fx.outside.join("new"), fx.at("dangling")).unwrap();
        std::fs::write(fx.at("inside.txt"), "in").unwrap();
        std::os::unix::fs::symlink(fx.at("inside.txt"), fx.at("inside_link")).unwrap();

        let link_metadata = fs.get_metadata(&fx.at("file_link"), policy).await.unwrap();
        let outcome = (
            kind(fs.read_file(&fx.at("file_link"), policy).await),
            kind(fs.read_file(&fx.at("dir_link/secret"), policy).await),
            kind(fs.read_directory(&fx.at("dir_link"), policy).await),
            kind(
                fs.write_file(&fx.at("file_link"), b"pwned".to_vec(), policy)
                    .await,
            ),
            kind(
                fs.write_file(&fx.at("dir_link/new"), b"pwned".to_vec(), policy)
                    .await,
            ),
            kind(
                fs.write_file(&fx.at("dangling"), b"pwned".to_vec(), policy)
                    .await,
            ),
            kind(
                fs.create_directory(
                    &fx.at("dir_link/d"),
                    CreateDirectoryOptions::default(),
                    policy,
                )
                .await,
            ),
            kind(
                fs.remove(&fx.at("dir_link/secret"), RemoveOptions::default(), policy)
                    .await,
            ),
            // A symlink that stays inside the root is followed.
            kind(fs.read_file(&fx.at("inside_link"), policy).await),
            kind(
                fs.write_file(&fx.at("inside_link"), b"changed".to_vec(), policy)
                    .await,
            ),
            (link_metadata.is_symlink, link_metadata.is_file),
        );
        assert_eq!(
            outcome,
            (
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Ok(b"in".to_vec()),
                Ok(()),
                (true, false),
            ),
            "{name}"
        );
        // Removing the link removes the link, not its target.
        fs.remove(&fx.at("file_link"), RemoveOptions::default(), policy)
            .await
            .unwrap();
        let on_disk = (
            std::fs::read_to_string(fx.outside.join("secret")).unwrap(),
            std::fs::read_dir(&fx.outside).unwrap().count(),
            std::fs::read_to_string(fx.at("inside.txt")).unwrap(),
            fx.at("file_link").as_path().symlink_metadata().is_err(),
        );
        assert_eq!(
            on_disk,
            ("secret".to_string(), 1, "changed".to_string(), true),
            "{name}"
        );
        // The denial names the resolved location.
        let err = fs
            .read_file(&fx.at("file_link_gone"), policy)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), Some("notFound"), "{name}");
        let err = fs
            .read_file(&fx.at("dir_link/secret"), policy)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("`{}`", fx.outside.join("secret"))),
            "{name}: {err}"
        );
    }
}

#[tokio::test]
async fn dotdot_cannot_climb_out_of_a_root() {
    let tmpdir = tempfile::tempdir().unwrap();
    let backends = backends(tmpdir.path()).await;
    for (name, fs) in &backends.list {
        let fx = Fixture::new();
        let policy = workspace(&[&fx.root]);
        let policy = Some(&policy);
        std::os::unix::fs::symlink(fx.outside.join("deep"), fx.at("deep_link")).unwrap();
        std::fs::create_dir(fx.outside.join("deep")).unwrap();
        let climb = abs(format!("{}/../outside/secret", fx.root));
        let climb_write = abs(format!("{}/sub/../../outside/new", fx.root));
        // Lexical: `root/deep_link/..` is `root`, not `outside` (the link's parent on disk).
        let through_link = abs(format!("{}/deep_link/../via_link.txt", fx.root));
        let outcome = (
            kind(fs.read_file(&climb, policy).await),
            kind(fs.write_file(&climb_write, b"x".to_vec(), policy).await),
            kind(fs.write_file(&through_link, b"x".to_vec(), policy).await),
        );
        assert_eq!(
            outcome,
            (
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Ok(()),
            ),
            "{name}"
        );
        assert_eq!(
            (
                fx.at("via_link.txt").as_path().exists(),
                fx.outside.join("via_link.txt").as_path().exists(),
                fx.outside.join("new").as_path().exists(),
            ),
            (true, false, false),
            "{name}"
        );
    }
}

#[tokio::test]
async fn protected_subpaths_are_read_only_inside_writable_roots() {
    let tmpdir = tempfile::tempdir().unwrap();
    let backends = backends(tmpdir.path()).await;
    for (name, fs) in &backends.list {
        let fx = Fixture::new();
        let policy = workspace(&[&fx.root]);
        let policy = Some(&policy);
        for dir in [".git", ".codex"] {
            std::fs::create_dir(fx.at(dir)).unwrap();
            std::fs::write(fx.at(dir).join("config"), "cfg").unwrap();
        }
        std::os::unix::fs::symlink(fx.at(".git"), fx.at("git_link")).unwrap();
        std::fs::create_dir(fx.at("sub")).unwrap();
        let recursive = RemoveOptions {
            recursive: true,
            force: false,
        };
        let reads = (
            kind(fs.read_file(&fx.at(".git/config"), policy).await),
            kind(
                fs.read_directory(&fx.at(".codex"), policy)
                    .await
                    .map(|e| e.len()),
            ),
        );
        assert_eq!(reads, (Ok(b"cfg".to_vec()), Ok(1)), "{name}");
        let outcome = (
            kind(
                fs.write_file(&fx.at(".git/config"), b"x".to_vec(), policy)
                    .await,
            ),
            kind(
                fs.write_file(&fx.at(".codex/config"), b"x".to_vec(), policy)
                    .await,
            ),
            // `.agents` does not exist: creating it is just as denied.
            kind(
                fs.create_directory(&fx.at(".agents"), CreateDirectoryOptions::default(), policy)
                    .await,
            ),
            kind(
                fs.create_directory(
                    &fx.at(".git/hooks"),
                    CreateDirectoryOptions { recursive: true },
                    policy,
                )
                .await,
            ),
            kind(
                fs.write_file(&fx.at("git_link/hooks-pre-commit"), b"x".to_vec(), policy)
                    .await,
            ),
            kind(fs.remove(&fx.at(".git"), recursive, policy).await),
            kind(
                fs.remove(&fx.at(".git/config"), RemoveOptions::default(), policy)
                    .await,
            ),
            // Removing the root would remove its `.git` with it.
            kind(fs.remove(&fx.root, recursive, policy).await),
            kind(
                fs.copy(
                    &fx.at("sub"),
                    &fx.at(".codex/sub"),
                    CopyOptions { recursive: true },
                    policy,
                )
                .await,
            ),
            // Removing the symlink itself is fine: it is not inside `.git`.
            kind(
                fs.remove(&fx.at("git_link"), RemoveOptions::default(), policy)
                    .await,
            ),
            kind(fs.write_file(&fx.at("ok.txt"), b"x".to_vec(), policy).await),
        );
        assert_eq!(
            outcome,
            (
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Ok(()),
                Ok(()),
            ),
            "{name}"
        );
        let on_disk = (
            std::fs::read_to_string(fx.at(".git/config")).unwrap(),
            std::fs::read_to_string(fx.at(".codex/config")).unwrap(),
            fx.at(".agents").as_path().exists(),
            fx.at(".git/hooks").as_path().exists(),
            fx.at(".git/hooks-pre-commit").as_path().exists(),
            fx.at(".codex/sub").as_path().exists(),
        );
        assert_eq!(
            on_disk,
            (
                "cfg".to_string(),
                "cfg".to_string(),
                false,
                false,
                false,
                false
            ),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_git_pointer_file_protects_its_target() {
    let tmpdir = tempfile::tempdir().unwrap();
    let backends = backends(tmpdir.path()).await;
    for (name, fs) in &backends.list {
        let fx = Fixture::new();
        // The worktree's git dir lives in a second writable root, which would otherwise be
        // writable.
        let other = fx.outside.clone();
        std::fs::create_dir(other.join("gitdir")).unwrap();
        std::fs::write(other.join("gitdir/HEAD"), "ref").unwrap();
        std::fs::write(fx.at(".git"), format!("gitdir: {}\n", other.join("gitdir"))).unwrap();
        let policy = workspace(&[&fx.root, &other]);
        let policy = Some(&policy);
        let outcome = (
            kind(fs.read_file(&other.join("gitdir/HEAD"), policy).await),
            kind(
                fs.write_file(&other.join("gitdir/HEAD"), b"x".to_vec(), policy)
                    .await,
            ),
            kind(
                fs.write_file(&other.join("gitdir/hooks"), b"x".to_vec(), policy)
                    .await,
            ),
            kind(
                fs.write_file(&fx.at(".git"), b"gitdir: /".to_vec(), policy)
                    .await,
            ),
            kind(
                fs.write_file(&other.join("free.txt"), b"x".to_vec(), policy)
                    .await,
            ),
        );
        assert_eq!(
            outcome,
            (
                Ok(b"ref".to_vec()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Ok(()),
            ),
            "{name}"
        );
        assert_eq!(
            std::fs::read_to_string(other.join("gitdir/HEAD")).unwrap(),
            "ref",
            "{name}"
        );
    }
}

#[tokio::test]
async fn restricted_reads_with_and_without_platform_defaults() {
    let tmpdir = tempfile::tempdir().unwrap();
    let backends = backends(tmpdir.path()).await;
    for (name, fs) in &backends.list {
        let fx = Fixture::new();
        std::fs::write(fx.at("r.txt"), "r").unwrap();
        let restricted = |include_platform_defaults| {
            read_only(ReadOnlyAccess::Restricted {
                include_platform_defaults,
                readable_roots: vec![fx.root.clone()],
            })
        };
        let bare = restricted(/*include_platform_defaults*/ false);
        let defaults = restricted(/*include_platform_defaults*/ true);
        let full = read_only(ReadOnlyAccess::FullAccess);
        let is_dir = |result: Result<codex_file_system::FileMetadata, FileSystemError>| {
            kind(result.map(|metadata| metadata.is_directory))
        };
        let usr = abs("/usr");
        let outcome = (
            kind(fs.read_file(&fx.at("r.txt"), Some(&bare)).await),
            kind(fs.read_file(&fx.outside.join("secret"), Some(&bare)).await),
            is_dir(fs.get_metadata(&usr, Some(&bare)).await),
            is_dir(fs.get_metadata(&usr, Some(&defaults)).await),
            kind(
                fs.read_file(&fx.outside.join("secret"), Some(&defaults))
                    .await,
            ),
            kind(fs.read_file(&fx.outside.join("secret"), Some(&full)).await),
            kind(
                fs.write_file(&fx.at("w.txt"), b"x".to_vec(), Some(&full))
                    .await,
            ),
            kind(
                fs.create_directory(&fx.at("d"), CreateDirectoryOptions::default(), Some(&bare))
                    .await,
            ),
        );
        assert_eq!(
            outcome,
            (
                Ok(b"r".to_vec()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Ok(true),
                Err("sandboxDenied".to_string()),
                Ok(b"secret".to_vec()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
            ),
            "{name}"
        );
        assert!(!fx.at("w.txt").as_path().exists(), "{name}");
    }
}

#[tokio::test]
async fn temp_directories_follow_the_exclusions() {
    // `$TMPDIR` of both backends is this directory.
    let tmpdir = tempfile::tempdir().unwrap();
    let backends = backends(tmpdir.path()).await;
    // A directory under `/tmp` itself (not under `$TMPDIR`, which differs from it).
    let slash_tmp = tempfile::Builder::new()
        .prefix("codex-fs-test")
        .tempdir_in("/tmp")
        .expect("a temp dir under /tmp");
    let policy = |exclude_tmpdir_env_var, exclude_slash_tmp| SandboxPolicy::WorkspaceWrite {
        writable_roots: Vec::new(),
        read_only_access: ReadOnlyAccess::FullAccess,
        network_access: false,
        exclude_tmpdir_env_var,
        exclude_slash_tmp,
    };
    for (name, fs) in &backends.list {
        let in_tmpdir = abs(tmpdir.path().join(format!("{name}.txt")));
        let in_slash_tmp = abs(slash_tmp.path().join(format!("{name}.txt")));
        let mut outcome = Vec::new();
        for (exclude_tmpdir_env_var, exclude_slash_tmp) in
            [(false, false), (true, false), (false, true), (true, true)]
        {
            let policy = policy(exclude_tmpdir_env_var, exclude_slash_tmp);
            outcome.push((
                kind(
                    fs.write_file(&in_tmpdir, b"t".to_vec(), Some(&policy))
                        .await,
                ),
                kind(
                    fs.write_file(&in_slash_tmp, b"t".to_vec(), Some(&policy))
                        .await,
                ),
            ));
        }
        let denied = || Err("sandboxDenied".to_string());
        // Under Bazel `$TMPDIR` may itself be under `/tmp`; then `/tmp` covers it too.
        let tmpdir_under_slash_tmp = std::fs::canonicalize(tmpdir.path())
            .unwrap()
            .starts_with("/tmp");
        let tmpdir_when_only_slash_tmp = if tmpdir_under_slash_tmp {
            Ok(())
        } else {
            denied()
        };
        assert_eq!(
            outcome,
            vec![
                (Ok(()), Ok(())),
                (tmpdir_when_only_slash_tmp, Ok(())),
                (Ok(()), denied()),
                (denied(), denied()),
            ],
            "{name}"
        );
    }
}

#[tokio::test]
async fn copying_a_tree_never_follows_a_symlink_out_of_the_root() {
    let tmpdir = tempfile::tempdir().unwrap();
    let backends = backends(tmpdir.path()).await;
    for (name, fs) in &backends.list {
        let fx = Fixture::new();
        let policy = workspace(&[&fx.root]);
        let policy = Some(&policy);
        std::fs::create_dir_all(fx.at("tree/sub")).unwrap();
        std::fs::write(fx.at("tree/a.txt"), "a").unwrap();
        std::fs::write(fx.at("tree/sub/b.txt"), "b").unwrap();
        std::os::unix::fs::symlink(fx.outside.join("secret"), fx.at("tree/secret_link")).unwrap();
        std::os::unix::fs::symlink(&fx.outside, fx.at("tree/outside_link")).unwrap();

        fs.copy(
            &fx.at("tree"),
            &fx.at("copy"),
            CopyOptions { recursive: true },
            policy,
        )
        .await
        .unwrap();
        let outcome = (
            fs.read_directory(&fx.at("copy"), policy).await.unwrap(),
            kind(fs.read_file(&fx.at("copy/sub/b.txt"), policy).await),
            // The copied links still point outside, and reading through them is denied.
            kind(fs.read_file(&fx.at("copy/secret_link"), policy).await),
            kind(fs.read_directory(&fx.at("copy/outside_link"), policy).await),
            // Copying from outside in, or from inside out, is denied.
            kind(
                fs.copy(
                    &fx.outside.join("secret"),
                    &fx.at("stolen"),
                    CopyOptions::default(),
                    policy,
                )
                .await,
            ),
            kind(
                fs.copy(
                    &fx.at("tree/a.txt"),
                    &fx.outside.join("a.txt"),
                    CopyOptions::default(),
                    policy,
                )
                .await,
            ),
            kind(
                fs.copy(
                    &fx.at("tree/secret_link"),
                    &fx.at("stolen"),
                    CopyOptions::default(),
                    policy,
                )
                .await,
            ),
        );
        assert_eq!(
            outcome,
            (
                vec![
                    file("a.txt"),
                    symlink_entry("outside_link"),
                    symlink_entry("secret_link"),
                    directory("sub"),
                ],
                Ok(b"b".to_vec()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
                Err("sandboxDenied".to_string()),
            ),
            "{name}"
        );
        // No outside content was copied; the links are links.
        let secret_link = std::fs::symlink_metadata(fx.at("copy/secret_link")).unwrap();
        assert_eq!(
            (
                secret_link.file_type().is_symlink(),
                std::fs::read_link(fx.at("copy/secret_link")).unwrap(),
                fx.at("stolen").as_path().exists(),
                std::fs::read_dir(&fx.outside).unwrap().count(),
            ),
            (true, fx.outside.join("secret").into_path_buf(), false, 1),
            "{name}"
        );
    }
}

#[tokio::test]
async fn size_limit_refuses_instead_of_truncating() {
    let tmpdir = tempfile::tempdir().unwrap();
    let backends = backends(tmpdir.path()).await;
    for (name, fs) in &backends.list {
        let fx = Fixture::new();
        let big = fx.at("big");
        std::fs::write(&big, vec![b'x'; MAX_FS_BYTES + 1]).unwrap();
        let read = fs.read_file(&big, /*sandbox_policy*/ None).await;
        let write = fs
            .write_file(
                &fx.at("new"),
                vec![b'y'; MAX_FS_BYTES + 1],
                /*sandbox_policy*/ None,
            )
            .await;
        assert_eq!(
            (read, write),
            (
                Err(FileSystemError::TooLarge(format!(
                    "file `{big}` is 1025 bytes; the limit for one fs/readFile is 1024 bytes; \
                     read it in parts with a process (e.g. `dd`/`tail -c`) or raise --max-fs-bytes"
                ))),
                Err(FileSystemError::TooLarge(format!(
                    "1025 bytes for `{}`; the limit for one fs/writeFile is 1024 bytes; \
                     write a first part with fs/writeFile and append the rest with a process, \
                     or raise --max-fs-bytes",
                    fx.at("new")
                ))),
            ),
            "{name}"
        );
        assert!(!fx.at("new").as_path().exists(), "{name}");
        fs.write_file(
            &fx.at("new"),
            vec![b'y'; MAX_FS_BYTES],
            /*sandbox_policy*/ None,
        )
        .await
        .unwrap();
        assert_eq!(
            fs.read_file(&fx.at("new"), None).await.unwrap().len(),
            MAX_FS_BYTES,
            "{name}"
        );
    }
}

#[tokio::test]
async fn paths_the_wire_cannot_carry_are_invalid_params() {
    let tmpdir = tempfile::tempdir().unwrap();
    let backends = backends(tmpdir.path()).await;
    let non_utf8 = abs(std::ffi::OsStr::from_bytes(b"/tmp/caf\xe9"));
    let nul = abs("/tmp/a\0b");
    for (name, fs) in &backends.list {
        let outcome = (
            fs.read_file(&non_utf8, /*sandbox_policy*/ None).await,
            fs.write_file(&nul, b"x".to_vec(), /*sandbox_policy*/ None)
                .await,
        );
        assert_eq!(
            outcome,
            (
                Err(FileSystemError::InvalidParams(
                    "path `/tmp/caf\u{fffd}` is not valid UTF-8; the exec-server protocol carries \
                     paths as JSON strings"
                        .to_string()
                )),
                Err(FileSystemError::InvalidParams(
                    "path \"/tmp/a\\0b\" contains a NUL byte".to_string()
                )),
            ),
            "{name}"
        );
    }
}
