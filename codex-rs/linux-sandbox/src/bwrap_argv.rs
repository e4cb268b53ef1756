//! From a [`SandboxPolicy`] to the arguments of one `bwrap` invocation.
//!
//! What is readable and writable is decided by `codex-protocol`
//! ([`SandboxPolicy::effective_access`]); this module only turns that answer into
//! mounts, in an order that makes the later mount win where two overlap:
//!
//! 1. the root: `--ro-bind / /` (full reads) or an empty `--tmpfs /` (restricted reads)
//!    followed by `--ro-bind` of each readable root;
//! 2. fresh `--dev /dev` and `--proc /proc` (or, where `/proc` cannot be mounted, an
//!    empty read-only tmpfs over it);
//! 3. `--bind` of each writable root;
//! 4. `--ro-bind` of each protected path (`.git`, `.codex`, `.agents`, gitdir targets)
//!    inside a writable root; a protected path that does not exist gets a read-only
//!    empty tmpfs instead, so it cannot be created either;
//! 5. the seccomp-stage executable, read-only at its own path (or, for a symlink, at its
//!    target's, plus the link);
//! 6. `--remount-ro /` for an empty root, so nothing can be created outside the roots;
//! 7. `--seccomp FD` when the caller passes a compiled filter for bubblewrap to install.
//!
//! The function looks at the filesystem (does each root exist, is a protected path a
//! symlink) but changes nothing and runs nothing, so it is tested on plain temp dirs.

use std::ffi::OsString;
use std::io;
use std::os::fd::RawFd;
use std::path::Path;

use codex_protocol::PLATFORM_DEFAULT_READ_ROOTS;
use codex_protocol::ReadAccess;
use codex_protocol::SandboxPolicy;
use codex_protocol::WriteAccess;
use codex_protocol::read_gitdir_pointer_from_disk;
use codex_utils_absolute_path::AbsolutePathBuf;

use crate::LinuxSandboxError;

/// How a policy is enforced on Linux.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxPlan {
    /// `dangerFullAccess`, or `externalSandbox` with network enabled: nothing to
    /// enforce, the caller runs the command directly.
    Direct,
    /// `externalSandbox` with network restricted: the filesystem is the external
    /// sandbox's job, but we can still refuse non-Unix sockets with the seccomp filter,
    /// which needs no namespaces. We do, rather than trust that the outer sandbox does.
    SeccompOnly,
    /// `readOnly` and `workspaceWrite`: bubblewrap builds the filesystem view (and a
    /// private network namespace plus the seccomp filter when network is off).
    Bwrap,
}

impl SandboxPlan {
    /// The plan for `policy`.
    pub fn for_policy(policy: &SandboxPolicy) -> Self {
        match policy {
            SandboxPolicy::DangerFullAccess => SandboxPlan::Direct,
            SandboxPolicy::ExternalSandbox { .. } => {
                if policy.has_full_network_access() {
                    SandboxPlan::Direct
                } else {
                    SandboxPlan::SeccompOnly
                }
            }
            SandboxPolicy::ReadOnly { .. } | SandboxPolicy::WorkspaceWrite { .. } => {
                SandboxPlan::Bwrap
            }
        }
    }
}

/// Whether to mount a fresh `/proc` in the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcMount {
    /// `--proc /proc`: the default, a `/proc` that shows only the sandbox's processes.
    Mount,
    /// An empty read-only `/proc`, for hosts (some containers) where mounting a fresh
    /// one is refused; the host's `/proc` is never exposed instead.
    Skip,
}

/// Settings of [`build_bwrap_argv`] that do not come from the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BwrapOptions {
    /// Whether to mount `/proc`.
    pub proc_mount: ProcMount,
    /// The `$TMPDIR` of the environment the command runs in, writable under
    /// `workspaceWrite` unless `excludeTmpdirEnvVar`.
    pub env_tmpdir: Option<AbsolutePathBuf>,
    /// An executable bound read-only at its own path after every other mount: the
    /// seccomp stage that runs first inside the sandbox. It is then runnable even under
    /// restricted reads and cannot be replaced from inside, even when it lives under a
    /// writable root. If it is a symlink (an `arg0` alias, a Bazel runfiles link), its
    /// target is bound instead, and the link is recreated with `--symlink` when the
    /// policy hides it.
    pub helper: Option<AbsolutePathBuf>,
    /// A descriptor bubblewrap reads a compiled seccomp program from (`--seccomp FD`)
    /// and installs right before it executes the command: how a host that runs
    /// bubblewrap directly, without the seccomp stage, applies the
    /// [`crate::NetworkFilter`].
    pub seccomp_fd: Option<RawFd>,
}

/// The arguments of one `bwrap` invocation (without the `bwrap` program itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BwrapArgv {
    /// The arguments, ending with `--` and the command.
    pub args: Vec<OsString>,
    /// Protected paths that did not exist and that bubblewrap will create as empty
    /// directories (the mount points of their read-only placeholders). They appear on
    /// the host too, because they are inside a bind-mounted writable root; remove them
    /// (if still empty) once the sandbox has exited.
    pub placeholders: Vec<AbsolutePathBuf>,
    /// Every protected path that gets a read-only mount, placeholders included. A host
    /// running several sandboxes at once needs them: an existing one may be another
    /// sandbox's placeholder, which must then outlive this sandbox too (see
    /// [`crate::PlaceholderLease`]).
    pub protected: Vec<AbsolutePathBuf>,
}

/// Builds the `bwrap` arguments that run `command` in `cwd` under `policy`.
///
/// Fails before anything runs when the policy cannot be enforced as written: a
/// writable or readable root or the cwd that does not exist, a cwd that is not
/// readable, a protected path that is a symlink, or a policy that is not enforced with
/// bubblewrap at all (see [`SandboxPlan`]).
pub fn build_bwrap_argv(
    policy: &SandboxPolicy,
    cwd: &AbsolutePathBuf,
    command: &[OsString],
    options: &BwrapOptions,
) -> Result<BwrapArgv, LinuxSandboxError> {
    match policy {
        SandboxPolicy::DangerFullAccess => {
            return Err(LinuxSandboxError::NotABwrapPolicy {
                policy: "dangerFullAccess",
            });
        }
        SandboxPolicy::ExternalSandbox { .. } => {
            return Err(LinuxSandboxError::NotABwrapPolicy {
                policy: "externalSandbox",
            });
        }
        SandboxPolicy::ReadOnly { .. } | SandboxPolicy::WorkspaceWrite { .. } => {}
    }
    if command.is_empty() {
        return Err(LinuxSandboxError::EmptyCommand);
    }
    if !cwd.as_path().is_dir() {
        return Err(LinuxSandboxError::MissingCwd { cwd: cwd.clone() });
    }
    let access = policy
        .effective_access(cwd, options.env_tmpdir.as_ref())
        .protect_gitdir_targets(read_gitdir_pointer_from_disk);
    if !access.can_read(cwd) {
        return Err(LinuxSandboxError::CwdNotReadable { cwd: cwd.clone() });
    }
    let writable = match access.write() {
        WriteAccess::Roots(roots) => roots.as_slice(),
        WriteAccess::Nothing => &[],
        // Only `dangerFullAccess` and `externalSandbox` write everywhere, refused above.
        WriteAccess::Everything => {
            return Err(LinuxSandboxError::NotABwrapPolicy {
                policy: "dangerFullAccess",
            });
        }
    };
    let mut writable_roots: Vec<&AbsolutePathBuf> = writable.iter().map(|w| &w.root).collect();
    writable_roots.sort();
    for root in &writable_roots {
        if !exists(root)? {
            return Err(LinuxSandboxError::MissingWritableRoot {
                root: (*root).clone(),
            });
        }
    }

    let mut args: Vec<OsString> = Vec::new();
    let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
    push(&["--new-session", "--die-with-parent", "--unshare-pid"]);
    if !policy.has_full_network_access() {
        push(&["--unshare-net"]);
    }

    let empty_root = match access.read() {
        ReadAccess::Everything => {
            bind(&mut args, "--ro-bind", Path::new("/"));
            false
        }
        ReadAccess::Roots(roots) => {
            args.extend(["--tmpfs", "/"].map(OsString::from));
            let mut present: Vec<&AbsolutePathBuf> = Vec::new();
            for root in roots {
                if exists(root)? {
                    present.push(root);
                } else if !is_platform_default(root) {
                    return Err(LinuxSandboxError::MissingReadableRoot { root: root.clone() });
                }
                // A platform default this host lacks (`/lib32`, `/nix/store`) is skipped.
            }
            present.sort();
            for root in &present {
                let covered = writable_roots.contains(root)
                    || present
                        .iter()
                        .any(|other| other != root && root.starts_with(other));
                if !covered {
                    bind(&mut args, "--ro-bind", root.as_path());
                }
            }
            true
        }
    };

    args.extend(["--dev", "/dev"].map(OsString::from));
    match options.proc_mount {
        ProcMount::Mount => args.extend(["--proc", "/proc"].map(OsString::from)),
        // Hide whatever `/proc` the root bind brought along (the host's, whose
        // `/proc/<pid>/environ` would leak other processes' secrets).
        ProcMount::Skip => {
            for op in ["--tmpfs", "--remount-ro"] {
                args.extend([op, "/proc"].map(OsString::from));
            }
        }
    }

    for root in &writable_roots {
        let nested = writable_roots
            .iter()
            .any(|other| other != root && root.starts_with(other));
        if !nested {
            bind(&mut args, "--bind", root.as_path());
        }
    }

    let mut protected: Vec<&AbsolutePathBuf> = writable
        .iter()
        .flat_map(|w| &w.read_only_subpaths)
        // A gitdir target outside every writable root is already read-only (or
        // unreadable, which a bind would undo).
        .filter(|path| writable_roots.iter().any(|root| path.starts_with(root)))
        .collect();
    protected.sort();
    protected.dedup();
    let mut placeholders = Vec::new();
    let protected: Vec<AbsolutePathBuf> = protected.into_iter().cloned().collect();
    for path in &protected {
        match std::fs::symlink_metadata(path.as_path()) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                return Err(LinuxSandboxError::ProtectedPathIsSymlink { path: path.clone() });
            }
            Ok(_) => bind(&mut args, "--ro-bind", path.as_path()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                let parent_exists = path.parent().is_some_and(|p| p.as_path().is_dir());
                if !parent_exists {
                    return Err(LinuxSandboxError::UnprotectableMissingPath { path: path.clone() });
                }
                for op in ["--tmpfs", "--remount-ro"] {
                    args.push(OsString::from(op));
                    args.push(path.as_path().as_os_str().to_owned());
                }
                placeholders.push(path.clone());
            }
            Err(source) => {
                return Err(LinuxSandboxError::Inspect {
                    path: path.as_path().to_path_buf(),
                    source,
                });
            }
        }
    }

    if let Some(helper) = &options.helper {
        let inspect = |source| LinuxSandboxError::Inspect {
            path: helper.as_path().to_path_buf(),
            source,
        };
        let metadata = std::fs::symlink_metadata(helper.as_path()).map_err(inspect)?;
        if metadata.file_type().is_symlink() {
            // An `arg0` alias (or a Bazel runfiles link): mount points cannot be
            // symlinks, so protect the target and recreate the link where it is hidden.
            let target = std::fs::canonicalize(helper.as_path()).map_err(inspect)?;
            bind(&mut args, "--ro-bind", &target);
            if !access.can_read(helper) {
                args.push(OsString::from("--symlink"));
                args.push(target.into_os_string());
                args.push(helper.as_path().as_os_str().to_owned());
            }
        } else {
            bind(&mut args, "--ro-bind", helper.as_path());
        }
    }
    if empty_root {
        args.extend(["--remount-ro", "/"].map(OsString::from));
    }
    if let Some(fd) = options.seccomp_fd {
        args.push(OsString::from("--seccomp"));
        args.push(OsString::from(fd.to_string()));
    }
    args.push(OsString::from("--chdir"));
    args.push(cwd.as_path().as_os_str().to_owned());
    args.push(OsString::from("--"));
    args.extend(command.iter().cloned());
    Ok(BwrapArgv {
        args,
        placeholders,
        protected,
    })
}

/// Appends `op path path`.
fn bind(args: &mut Vec<OsString>, op: &str, path: &Path) {
    args.push(OsString::from(op));
    args.push(path.as_os_str().to_owned());
    args.push(path.as_os_str().to_owned());
}

/// Whether `path` exists (following symlinks); errors other than "not found" are
/// reported rather than taken as absence.
fn exists(path: &AbsolutePathBuf) -> Result<bool, LinuxSandboxError> {
    match std::fs::metadata(path.as_path()) {
        Ok(_) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(LinuxSandboxError::Inspect {
            path: path.as_path().to_path_buf(),
            source,
        }),
    }
}

fn is_platform_default(root: &AbsolutePathBuf) -> bool {
    PLATFORM_DEFAULT_READ_ROOTS
        .iter()
        .any(|default| root.as_path() == Path::new(default))
}

#[cfg(test)]
#[path = "bwrap_argv_tests.rs"]
mod tests;
