//! `LocalFileSystem`: the `fs/*` operations on this machine, with sandbox-policy checks
//! that cannot be escaped through symlinks or `..`.
//!
//! # How a request is confined
//!
//! 1. **Lexical.** Paths arrive as [`AbsolutePathBuf`], so `.` and `..` are already
//!    normalised *before* anything touches the disk: `root/link/..` means `root`, never
//!    "the parent of wherever `link` points". The path that is checked is the path that is
//!    used; `..` cannot climb out of what was checked.
//! 2. **Resolve.** The longest existing prefix of the path is canonicalised (every symlink
//!    followed) and the missing rest appended. A symlink inside a root that points outside
//!    therefore resolves outside, and the policy sees the real location, including a
//!    symlink that leads into a protected `.git`, `.codex` or `.agents`. Operations on the
//!    entry itself (`remove`, `getMetadata`, `createDirectory`, a copy's destination)
//!    resolve only the parent, so removing a symlink removes the link, not its target.
//! 3. **Check.** The policy's roots are resolved the same way, then
//!    [`codex_protocol::EffectiveAccess`] decides on the resolved path (`check_read` /
//!    `check_write`). Removing or copying onto a directory is also refused when a
//!    protected subpath lies *below* it (removing a root would remove its `.git`).
//! 4. **Use without re-resolving.** The operation does not hand the path back to the
//!    kernel. It opens `/` and walks the resolved path one component at a time with
//!    `openat(O_NOFOLLOW | O_DIRECTORY)`, then acts on the last component relative to that
//!    directory descriptor, again without following a symlink (`O_NOFOLLOW`, `mkdirat`,
//!    `unlinkat`, ...). The resolved path contains no symlinks, so a symlink met on the
//!    walk means the tree changed between check and use (a directory swapped for a
//!    symlink) or the final component is a dangling symlink; both end the request with
//!    `sandboxDenied` and nothing written. Trees (`remove`/`copy` with `recursive`) are
//!    walked through descriptors the same way and symlinks inside them are never followed:
//!    removed as links, copied as links.
//!
//! This design needs no capability library: the invariant "the resolved path has no
//! symlink in it" turns the check into a plain prefix test, and the descriptor walk makes
//! "no symlink in it" hold at use time too (swap a directory for a symlink after the check
//! and the walk stops). What it does not cover: a directory that is *renamed* (not replaced
//! by a symlink) between check and use by someone allowed to write both its old and its
//! new place; mounts; and hard links (a hard link inside a root to a file outside is that
//! file: planting one is the process sandbox's business, as for any file a process makes).
//! A true check/use race cannot be tested deterministically; the tests simulate it by
//! swapping a directory for a symlink after resolving and before using.
//!
//! **The policy's cwd.** The wire has no cwd, so `fs/*` requests bind the policy to *no*
//! cwd: the implied "cwd is writable/readable" grant is dropped, and only what the policy
//! names counts (`writableRoots`, `/tmp` and this server's `$TMPDIR` unless excluded,
//! `readableRoots`, platform defaults). A `workspaceWrite` policy with no `writableRoots`
//! and both temp directories excluded writes nothing through `fs/*`.
//!
//! Without a policy the same walk is used with no checks, so behaviour matches except
//! that nothing is refused; a dangling symlink is still not followed when writing.

use std::ffi::OsString;
use std::io;
use std::io::Read;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use codex_protocol::EffectiveAccess;
use codex_protocol::SandboxPolicy;
use codex_protocol::WriteAccess;
use codex_utils_absolute_path::AbsolutePathBuf;

use crate::file_system::CopyOptions;
use crate::file_system::CreateDirectoryOptions;
use crate::file_system::DirectoryEntry;
use crate::file_system::ExecutorFileSystem;
use crate::file_system::FileMetadata;
use crate::file_system::FileSystemError;
use crate::file_system::FileSystemFuture;
use crate::file_system::RemoveOptions;
use crate::file_system::validate_path;
use crate::self_protection::is_own_proc_entry;
use crate::self_protection::own_proc_denied;
use crate::self_protection::refuse_server_internal;
use crate::self_protection::refuse_tree_containing_denied;

/// Default limit of one `fs/readFile` or `fs/writeFile` (8 MiB: as base64 it fits in the
/// default 16 MiB message).
pub const DEFAULT_MAX_FS_BYTES: usize = 8 * 1024 * 1024;

/// Default limit of one `fs/copy`: 1 GiB.
pub const DEFAULT_MAX_FS_COPY_BYTES: u64 = 1024 * 1024 * 1024;

/// Settings of a [`LocalFileSystem`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalFileSystemConfig {
    /// Largest file one `read_file` returns or one `write_file` accepts.
    pub max_fs_bytes: usize,
    /// `$TMPDIR` of this environment (writable under `workspaceWrite` unless excluded).
    pub env_tmpdir: Option<AbsolutePathBuf>,
    /// Most bytes one `copy` may write (the files of a tree, together); a bigger source
    /// is refused before anything is written, and a copy whose source grows past it while
    /// it runs stops and removes what it wrote.
    pub max_copy_bytes: u64,
    /// Resolved paths (no symlinks in them) that no operation may touch, under any policy
    /// or none: the server's `--auth-token-file`. The server's own `/proc` entries are
    /// always refused as well (see `self_protection`).
    pub denied_paths: Vec<PathBuf>,
}

impl Default for LocalFileSystemConfig {
    /// The default limit and this process's `$TMPDIR`.
    fn default() -> Self {
        Self {
            max_fs_bytes: DEFAULT_MAX_FS_BYTES,
            env_tmpdir: std::env::var_os("TMPDIR")
                .and_then(|dir| AbsolutePathBuf::try_from_absolute(PathBuf::from(dir)).ok()),
            max_copy_bytes: DEFAULT_MAX_FS_COPY_BYTES,
            denied_paths: Vec::new(),
        }
    }
}

/// [`ExecutorFileSystem`] on this machine; what the server's `fs/*` handlers call.
#[derive(Clone, Debug, Default)]
pub struct LocalFileSystem {
    config: Arc<LocalFileSystemConfig>,
    /// The session's pins (see [`LocalFileSystem::with_root_pins`]).
    root_pins: Option<Arc<codex_sandboxing::RootPins>>,
}

impl LocalFileSystem {
    /// A filesystem with these settings.
    pub fn new(config: LocalFileSystemConfig) -> Self {
        Self {
            config: Arc::new(config),
            root_pins: None,
        }
    }

    /// This filesystem, refusing a sandbox root that resolves elsewhere than the first
    /// time these pins saw it (see [`codex_sandboxing::RootPins`]). The server gives each
    /// session's filesystem the pins of its processes
    /// (`codex-exec-server`'s `LocalProcess::root_pins`), so both sides of a session agree.
    pub fn with_root_pins(&self, root_pins: Arc<codex_sandboxing::RootPins>) -> Self {
        Self {
            config: Arc::clone(&self.config),
            root_pins: Some(root_pins),
        }
    }

    /// Run `op` on the blocking pool with the policy bound (see the module docs).
    fn run<'a, T: Send + 'static>(
        &self,
        sandbox_policy: Option<&'a SandboxPolicy>,
        op: impl FnOnce(&Guard, &LocalFileSystemConfig) -> Result<T, FileSystemError> + Send + 'static,
    ) -> FileSystemFuture<'a, T> {
        let config = Arc::clone(&self.config);
        let root_pins = self.root_pins.clone();
        let policy = sandbox_policy.cloned();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let guard = Guard::new(
                    policy.as_ref(),
                    config.env_tmpdir.as_ref(),
                    config.denied_paths.clone(),
                    root_pins.as_deref(),
                )?;
                op(&guard, &config)
            })
            .await
            .map_err(|err| FileSystemError::Io(format!("filesystem task failed: {err}")))?
        })
    }
}

impl ExecutorFileSystem for LocalFileSystem {
    fn read_file<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, Vec<u8>> {
        let path = path.clone();
        self.run(sandbox_policy, move |guard, config| {
            validate_path(&path)?;
            let resolved = resolve(&path)?.path();
            guard.check_read(&resolved)?;
            let (parent, name) = split(&resolved, &path)?;
            let dir = Dir::open_path(&parent).map_err(|err| fs_error(err, &path))?;
            let mut file = dir
                .open_file(&name, libc::O_RDONLY | libc::O_NONBLOCK, /*mode*/ 0)
                .map_err(|err| fs_error(err, &path))?;
            let metadata = file.metadata().map_err(|err| fs_error(err, &path))?;
            if metadata.is_dir() {
                return Err(FileSystemError::IsADirectory(format!(
                    "`{path}` is a directory; list it with fs/readDirectory"
                )));
            }
            if !metadata.is_file() {
                return Err(FileSystemError::Io(format!(
                    "`{path}` is not a regular file"
                )));
            }
            let too_large = |size: u64| {
                FileSystemError::TooLarge(format!(
                    "file `{path}` is {size} bytes; the limit for one fs/readFile is {} bytes; \
                     read it in parts with a process (e.g. `dd`/`tail -c`) or raise --max-fs-bytes",
                    config.max_fs_bytes
                ))
            };
            let limit = config.max_fs_bytes as u64;
            if metadata.len() > limit {
                return Err(too_large(metadata.len()));
            }
            let mut data = Vec::with_capacity(metadata.len() as usize);
            (&mut file)
                .take(limit + 1)
                .read_to_end(&mut data)
                .map_err(|err| fs_error(err, &path))?;
            if data.len() as u64 > limit {
                // It grew while we read it.
                return Err(too_large(data.len() as u64));
            }
            Ok(data)
        })
    }

    fn write_file<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        data: Vec<u8>,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()> {
        let path = path.clone();
        self.run(sandbox_policy, move |guard, config| {
            validate_path(&path)?;
            if data.len() > config.max_fs_bytes {
                return Err(FileSystemError::TooLarge(format!(
                    "{} bytes for `{path}`; the limit for one fs/writeFile is {} bytes; \
                     write a first part with fs/writeFile and append the rest with a process, \
                     or raise --max-fs-bytes",
                    data.len(),
                    config.max_fs_bytes
                )));
            }
            let resolved = resolve(&path)?.path();
            guard.check_write(&resolved)?;
            write_resolved(&resolved, &path, &data)
        })
    }

    fn create_directory<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        options: CreateDirectoryOptions,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()> {
        let path = path.clone();
        self.run(sandbox_policy, move |guard, _| {
            validate_path(&path)?;
            if !options.recursive {
                let (parent, name) = resolve_entry(&path)?;
                guard.check_write(&parent.join(&name))?;
                let dir = Dir::open_path(&parent).map_err(|err| fs_error(err, &path))?;
                return dir.mkdir(&name).map_err(|err| fs_error(err, &path));
            }
            let resolved = resolve(&path)?;
            // Everything this creates must be writable; all checked before the first mkdir.
            guard.check_write(&resolved.path())?;
            let mut created = resolved.existing.clone();
            for name in &resolved.missing {
                created.push(name);
                guard.check_write(&created)?;
            }
            let mut dir = Dir::open_path(&resolved.existing).map_err(|err| fs_error(err, &path))?;
            for name in &resolved.missing {
                match dir.mkdir(name) {
                    Ok(()) => {}
                    Err(err) if err.raw_os_error() == Some(libc::EEXIST) => {}
                    Err(err) => return Err(fs_error(err, &path)),
                }
                dir = dir.open_dir(name).map_err(|err| fs_error(err, &path))?;
            }
            Ok(())
        })
    }

    fn get_metadata<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, FileMetadata> {
        let path = path.clone();
        self.run(sandbox_policy, move |guard, _| {
            validate_path(&path)?;
            let metadata = if path.parent().is_none() {
                guard.check_read(Path::new("/"))?;
                Dir::root().and_then(|dir| dir.metadata())
            } else {
                let (parent, name) = resolve_entry(&path)?;
                guard.check_read(&parent.join(&name))?;
                Dir::open_path(&parent).and_then(|dir| dir.metadata_of(&name))
            }
            .map_err(|err| fs_error(err, &path))?;
            let file_type = metadata.file_type();
            Ok(FileMetadata {
                is_directory: file_type.is_dir(),
                is_file: file_type.is_file(),
                is_symlink: file_type.is_symlink(),
                size: metadata.len(),
                created_at_ms: metadata.created().map(unix_ms).unwrap_or(0),
                modified_at_ms: metadata.modified().map(unix_ms).unwrap_or(0),
            })
        })
    }

    fn read_directory<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, Vec<DirectoryEntry>> {
        let path = path.clone();
        self.run(sandbox_policy, move |guard, _| {
            validate_path(&path)?;
            let resolved = resolve(&path)?.path();
            guard.check_read(&resolved)?;
            let dir = Dir::open_path(&resolved).map_err(|err| fs_error(err, &path))?;
            let mut entries = Vec::new();
            for name in dir.entries().map_err(|err| fs_error(err, &path))? {
                let file_type = match dir.metadata_of(&name) {
                    Ok(metadata) => metadata.file_type(),
                    // Removed since it was listed.
                    Err(err) if err.raw_os_error() == Some(libc::ENOENT) => continue,
                    Err(err) => return Err(fs_error(err, &path)),
                };
                entries.push(DirectoryEntry {
                    file_name: name.to_string_lossy().into_owned(),
                    is_directory: file_type.is_dir(),
                    is_file: file_type.is_file(),
                });
            }
            entries.sort();
            Ok(entries)
        })
    }

    fn remove<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        options: RemoveOptions,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()> {
        let path = path.clone();
        self.run(sandbox_policy, move |guard, _| {
            validate_path(&path)?;
            let (parent, name) = resolve_entry(&path)?;
            guard.check_replace(&parent.join(&name))?;
            let missing = |err: io::Error| {
                if options.force && err.raw_os_error() == Some(libc::ENOENT) {
                    Ok(())
                } else {
                    Err(fs_error(err, &path))
                }
            };
            let dir = match Dir::open_path(&parent) {
                Ok(dir) => dir,
                Err(err) => return missing(err),
            };
            let metadata = match dir.metadata_of(&name) {
                Ok(metadata) => metadata,
                Err(err) => return missing(err),
            };
            let result = if !metadata.is_dir() {
                dir.unlink(&name, /*directory*/ false)
            } else if options.recursive {
                remove_tree(&dir, &name)
            } else {
                dir.unlink(&name, /*directory*/ true)
            };
            result.map_err(|err| fs_error(err, &path))
        })
    }

    fn check_write<'a>(
        &'a self,
        path: &'a AbsolutePathBuf,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()> {
        let path = path.clone();
        self.run(sandbox_policy, move |guard, _| {
            validate_path(&path)?;
            let (parent, name) = resolve_entry(&path)?;
            let entry = parent.join(&name);
            guard.check_replace(&entry)?;
            // A write follows a final symlink: its target must be writable too.
            let resolved = resolve(&path)?;
            let target = resolved.path();
            if target != entry {
                guard.check_write(&target)?;
            }
            host_writable(&resolved).map_err(|err| fs_error(err, &path))
        })
    }

    fn copy<'a>(
        &'a self,
        source: &'a AbsolutePathBuf,
        destination: &'a AbsolutePathBuf,
        options: CopyOptions,
        sandbox_policy: Option<&'a SandboxPolicy>,
    ) -> FileSystemFuture<'a, ()> {
        let source = source.clone();
        let destination = destination.clone();
        self.run(sandbox_policy, move |guard, config| {
            validate_path(&source)?;
            validate_path(&destination)?;
            let resolved_source = resolve(&source)?.path();
            guard.check_read(&resolved_source)?;
            let (source_parent, source_name) = split(&resolved_source, &source)?;
            let (destination_parent, destination_name) = resolve_entry(&destination)?;
            let resolved_destination = destination_parent.join(&destination_name);
            guard.check_replace(&resolved_destination)?;

            let source_dir =
                Dir::open_path(&source_parent).map_err(|err| fs_error(err, &source))?;
            let metadata = source_dir
                .metadata_of(&source_name)
                .map_err(|err| fs_error(err, &source))?;
            let destination_dir =
                Dir::open_path(&destination_parent).map_err(|err| fs_error(err, &destination))?;
            let limit = config.max_copy_bytes;
            let mut budget = copy::Budget::new(limit);
            let too_large = |needed: u64| copy::too_large(&source, needed, limit);
            if metadata.is_dir() {
                if !options.recursive {
                    return Err(FileSystemError::IsADirectory(format!(
                        "`{source}` is a directory; pass recursive to copy it with its contents"
                    )));
                }
                refuse_tree_containing_denied(&resolved_source, &guard.denied)?;
                if resolved_destination.starts_with(&resolved_source) {
                    return Err(FileSystemError::InvalidParams(format!(
                        "cannot copy `{source}` into itself (`{destination}`)"
                    )));
                }
                let from = source_dir
                    .open_dir(&source_name)
                    .map_err(|err| fs_error(err, &source))?;
                // Measured before anything is written.
                let needed = copy::tree_size(&from, limit).map_err(|err| fs_error(err, &source))?;
                if needed > limit {
                    return Err(too_large(needed));
                }
                destination_dir
                    .mkdir(&destination_name)
                    .map_err(|err| fs_error(err, &destination))?;
                let to = destination_dir
                    .open_dir(&destination_name)
                    .map_err(|err| fs_error(err, &destination))?;
                match copy::copy_tree(&from, &to, &mut budget) {
                    Ok(()) => Ok(()),
                    Err(err) if copy::is_over_budget(&err) => {
                        drop(to);
                        let removed = remove_tree(&destination_dir, &destination_name);
                        Err(copy::grew_too_large(&source, &destination, limit, removed))
                    }
                    Err(err) => Err(fs_error(err, &source)),
                }
            } else if metadata.is_file() {
                if metadata.len() > limit {
                    return Err(too_large(metadata.len()));
                }
                match copy::copy_file(
                    &source_dir,
                    &source_name,
                    &destination_dir,
                    &destination_name,
                    &mut budget,
                ) {
                    Ok(()) => Ok(()),
                    Err(err) if copy::is_over_budget(&err) => {
                        let removed =
                            destination_dir.unlink(&destination_name, /*directory*/ false);
                        Err(copy::grew_too_large(&source, &destination, limit, removed))
                    }
                    Err(err) => Err(fs_error(err, &source)),
                }
            } else {
                // The resolved source cannot be a symlink unless it changed since: refuse.
                Err(fs_error(io::Error::from_raw_os_error(libc::ELOOP), &source))
            }
        })
    }
}

/// The policy bound to no cwd and this machine's `$TMPDIR`, with every root resolved, and
/// what no policy may reach (see `self_protection`).
struct Guard {
    access: Option<EffectiveAccess>,
    denied: Vec<PathBuf>,
}

impl Guard {
    fn new(
        policy: Option<&SandboxPolicy>,
        env_tmpdir: Option<&AbsolutePathBuf>,
        denied: Vec<PathBuf>,
        root_pins: Option<&codex_sandboxing::RootPins>,
    ) -> Result<Self, FileSystemError> {
        let Some(policy) = policy else {
            return Ok(Self {
                access: None,
                denied,
            });
        };
        // The same binding as a sandboxed process gets: every root resolved once,
        // refused when a sandboxed command could have redirected it, no cwd.
        let access =
            codex_sandboxing::bind_policy(policy, /*policy_cwd*/ None, env_tmpdir, root_pins)
                .map_err(|err| FileSystemError::SandboxDenied(err.to_string()))?;
        Ok(Self {
            access: Some(access),
            denied,
        })
    }

    fn absolute(path: &Path) -> Result<AbsolutePathBuf, FileSystemError> {
        AbsolutePathBuf::try_from_absolute(path)
            .map_err(|err| FileSystemError::Io(format!("resolving `{}`: {err}", path.display())))
    }

    fn check_read(&self, resolved: &Path) -> Result<(), FileSystemError> {
        refuse_server_internal(resolved, &self.denied)?;
        let Some(access) = &self.access else {
            return Ok(());
        };
        access
            .check_read(&Self::absolute(resolved)?)
            .map_err(|err| FileSystemError::SandboxDenied(err.to_string()))
    }

    fn check_write(&self, resolved: &Path) -> Result<(), FileSystemError> {
        refuse_server_internal(resolved, &self.denied)?;
        let Some(access) = &self.access else {
            return Ok(());
        };
        access
            .check_write(&Self::absolute(resolved)?)
            .map_err(|err| FileSystemError::SandboxDenied(err.to_string()))
    }

    /// `check_write`, and no protected subpath may lie below `resolved` (removing or
    /// replacing it would take the protected path with it).
    fn check_replace(&self, resolved: &Path) -> Result<(), FileSystemError> {
        self.check_write(resolved)?;
        refuse_tree_containing_denied(resolved, &self.denied)?;
        let Some(access) = &self.access else {
            return Ok(());
        };
        let path = Self::absolute(resolved)?;
        let protected = match access.write() {
            WriteAccess::Roots(roots) => roots
                .iter()
                .flat_map(|root| &root.read_only_subpaths)
                .find(|subpath| subpath.starts_with(&path)),
            WriteAccess::Everything | WriteAccess::Nothing => None,
        };
        match protected {
            Some(subpath) => Err(FileSystemError::SandboxDenied(format!(
                "sandbox policy denies removing or replacing `{path}`: it contains `{subpath}`, \
                 which stays read-only inside writable roots; make the change outside the sandbox"
            ))),
            None => Ok(()),
        }
    }
}

/// A path split into its longest existing prefix, canonicalised, and the missing rest.
struct Resolved {
    existing: PathBuf,
    missing: Vec<OsString>,
}

impl Resolved {
    fn path(&self) -> PathBuf {
        let mut path = self.existing.clone();
        path.extend(&self.missing);
        path
    }
}

/// Whether this process may write what `resolved` names: the file itself when it exists
/// (not a directory: apply-patch never writes one), and the directory it is (or would
/// be) created in, or the nearest existing directory on the way to it. Checked with the
/// effective ids (`AT_EACCESS`), so a read-only mount (`EROFS`) and missing permission
/// (`EACCES`) show up here rather than halfway through a change.
fn host_writable(resolved: &Resolved) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;

    let access = |path: &Path| -> io::Result<()> {
        let path = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
        // SAFETY: a NUL-terminated path and plain flags; faccessat only reads them.
        let status =
            unsafe { libc::faccessat(libc::AT_FDCWD, path.as_ptr(), libc::W_OK, libc::AT_EACCESS) };
        if status == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    if resolved.missing.is_empty() {
        // The whole path exists: the entry itself, then the directory it lives in.
        let path = &resolved.existing;
        if !path.is_dir() {
            access(path)?;
        }
        match path.parent() {
            Some(parent) => access(parent),
            None => Ok(()),
        }
    } else if resolved.existing.is_dir() {
        access(&resolved.existing)
    } else {
        // `existing/missing...` needs `existing` to be a directory.
        Err(io::Error::from_raw_os_error(libc::ENOTDIR))
    }
}

/// Follow every symlink of the longest existing prefix of `path` (already lexically
/// normalised); see the module docs.
fn resolve(path: &AbsolutePathBuf) -> Result<Resolved, FileSystemError> {
    let mut existing = path.as_path().to_path_buf();
    let mut missing = Vec::new();
    loop {
        match std::fs::canonicalize(&existing) {
            Ok(canonical) => {
                missing.reverse();
                return Ok(Resolved {
                    existing: canonical,
                    missing,
                });
            }
            Err(err) if matches!(err.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR)) => {
                let Some(name) = existing.file_name() else {
                    return Err(fs_error(err, path));
                };
                missing.push(name.to_os_string());
                existing.pop();
            }
            Err(err) => return Err(fs_error(err, path)),
        }
    }
}

/// The resolved parent of `path` and its last component, which is left unresolved.
fn resolve_entry(path: &AbsolutePathBuf) -> Result<(PathBuf, OsString), FileSystemError> {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => Ok((resolve(&parent)?.path(), name.to_os_string())),
        _ => Err(FileSystemError::InvalidParams(format!(
            "`{path}` is the root directory; this operation needs a path below it"
        ))),
    }
}

/// `resolved` as (parent, last component); `requested` names it in errors.
fn split(
    resolved: &Path,
    requested: &AbsolutePathBuf,
) -> Result<(PathBuf, OsString), FileSystemError> {
    match (resolved.parent(), resolved.file_name()) {
        (Some(parent), Some(name)) => Ok((parent.to_path_buf(), name.to_os_string())),
        _ => Err(FileSystemError::IsADirectory(format!(
            "`{requested}` is the root directory"
        ))),
    }
}

/// The "use" half of `write_file`: write `data` at the checked, resolved path without
/// re-resolving it (see the module docs).
fn write_resolved(
    resolved: &Path,
    requested: &AbsolutePathBuf,
    data: &[u8],
) -> Result<(), FileSystemError> {
    let (parent, name) = split(resolved, requested)?;
    let dir = Dir::open_path(&parent).map_err(|err| fs_error(err, requested))?;
    let mut file = dir
        .open_file(
            &name,
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NONBLOCK,
            /*mode*/ 0o666,
        )
        .map_err(|err| fs_error(err, requested))?;
    file.write_all(data).map_err(|err| fs_error(err, requested))
}

fn unix_ms(time: SystemTime) -> i64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// One typed error per OS error, naming the path the caller asked for.
fn fs_error(err: io::Error, path: &AbsolutePathBuf) -> FileSystemError {
    if is_own_proc_entry(&err) {
        return own_proc_denied(path);
    }
    match err.raw_os_error() {
        Some(libc::ENOENT) => {
            FileSystemError::NotFound(format!("`{path}` (or a parent of it) does not exist"))
        }
        Some(libc::EEXIST) => FileSystemError::AlreadyExists(format!("`{path}` already exists")),
        Some(libc::ENOTDIR) => FileSystemError::NotADirectory(format!(
            "`{path}` (or a parent of it) is not a directory"
        )),
        Some(libc::EISDIR) => FileSystemError::IsADirectory(format!("`{path}` is a directory")),
        Some(libc::ENOTEMPTY) => FileSystemError::DirectoryNotEmpty(format!(
            "directory `{path}` is not empty; pass recursive to remove it with its contents"
        )),
        Some(libc::ELOOP) => FileSystemError::SandboxDenied(format!(
            "`{path}` is, or passes through, a symlink that could not be resolved safely \
             (dangling, a loop, or it replaced a directory while the request was served); \
             refusing to follow it"
        )),
        _ => FileSystemError::Io(format!("`{path}`: {err}")),
    }
}

#[path = "local_file_system_dir.rs"]
mod dir;

use dir::Dir;
use dir::remove_tree;

#[path = "local_file_system_copy.rs"]
mod copy;

#[cfg(test)]
#[path = "local_file_system_tests.rs"]
mod tests;
