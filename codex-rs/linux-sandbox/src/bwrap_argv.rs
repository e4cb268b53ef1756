//! From a [`SandboxPolicy`] to the arguments of one `bwrap` invocation.
//!
//! What is readable and writable is decided by `codex-protocol`
//! ([`SandboxPolicy::effective_access`]), bound to this host by `codex-sandboxing`
//! ([`codex_sandboxing::bind_policy`]: every root resolved once); this module only turns
//! that answer into mounts, in an order that makes the later mount win where two
//! overlap:
//!
//! 0. a user namespace without capabilities ([`user_namespace_args`]), a new session,
//!    PID namespace and (network off) network namespace;
//! 1. the root: `--ro-bind / /` (full reads) or an empty `--tmpfs /` (restricted reads)
//!    followed by `--ro-bind` of each readable root;
//! 2. fresh `--dev /dev` and `--proc /proc` (or, where `/proc` cannot be mounted, an
//!    empty read-only tmpfs over it);
//! 3. `--bind` of each writable root, nested ones included, and of every directory
//!    between a writable root and a protected path, so none of them can be renamed;
//! 4. `--ro-bind` of each protected path (`.git`, `.codex`, `.agents`, gitdir targets)
//!    inside a writable root; a protected path that does not exist gets a read-only
//!    empty tmpfs instead, so it cannot be created either;
//! 5. the seccomp-stage executable, read-only at its own path (or, for a symlink, at its
//!    target's, plus the link);
//! 6. `--remount-ro /` for an empty root, so nothing can be created outside the roots;
//! 7. `--add-seccomp-fd FD` for each compiled program the caller passes for bubblewrap to
//!    install;
//! 8. `--setenv` for each variable of the command's environment.
//!
//! The function looks at the filesystem (does each root exist, is a protected path a
//! symlink) but changes nothing and runs nothing, so it is tested on plain temp dirs.

use std::ffi::OsString;
use std::io;
use std::os::fd::AsRawFd;
use std::os::fd::OwnedFd;
use std::os::fd::RawFd;
use std::path::Path;
use std::path::PathBuf;

use codex_protocol::PLATFORM_DEFAULT_READ_ROOTS;
use codex_protocol::ReadAccess;
use codex_protocol::SandboxPolicy;
use codex_protocol::WriteAccess;
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProcMount {
    /// `--proc /proc`: the default, a `/proc` that shows only the sandbox's processes.
    #[default]
    Mount,
    /// An empty read-only `/proc`, for hosts (some containers) where mounting a fresh
    /// one is refused; the host's `/proc` is never exposed instead.
    Skip,
}

/// Settings of [`build_bwrap_argv`] that do not come from the policy. The default mounts
/// `/proc`, binds no policy cwd, no `$TMPDIR`, no helper, no seccomp program, sets no
/// environment, pins no roots, hides nothing and keeps the command's name.
#[derive(Debug, Clone, Default)]
pub struct BwrapOptions {
    /// Whether to mount `/proc`.
    pub proc_mount: ProcMount,
    /// The policy's own cwd (`sandboxPolicyCwd` on the exec-server wire), writable under
    /// `workspaceWrite` and readable with `includePlatformDefaults`. Never the command's
    /// working directory: where a command runs must not widen what the policy grants.
    pub policy_cwd: Option<AbsolutePathBuf>,
    /// The `$TMPDIR` of the host enforcing the policy (the same one its filesystem
    /// checks use), writable under `workspaceWrite` unless `excludeTmpdirEnvVar`.
    pub tmpdir: Option<AbsolutePathBuf>,
    /// An executable bound read-only at its own path after every other mount: the
    /// seccomp stage that runs first inside the sandbox. It is then runnable even under
    /// restricted reads and cannot be replaced from inside, even when it lives under a
    /// writable root. If it is a symlink (an `arg0` alias, a Bazel runfiles link), its
    /// target is bound instead, and the link is recreated with `--symlink` when the
    /// policy hides it.
    pub helper: Option<AbsolutePathBuf>,
    /// Descriptors bubblewrap reads compiled seccomp programs from (`--add-seccomp-fd
    /// FD` each) and installs right before it executes the command: how a host that runs
    /// bubblewrap directly, without the seccomp stage, applies the
    /// [`crate::NetworkFilter`].
    pub seccomp_fds: Vec<RawFd>,
    /// The command's environment, set inside the sandbox (`--setenv`): bubblewrap
    /// itself must run with an empty one, or the request's `LD_PRELOAD` would run code
    /// in bubblewrap, outside the sandbox.
    pub env: Vec<(OsString, OsString)>,
    /// Where the roots of this session resolved the first time
    /// ([`codex_sandboxing::RootPins`]): a root that resolves elsewhere now is refused.
    pub root_pins: Option<std::sync::Arc<codex_sandboxing::RootPins>>,
    /// Files no sandboxed command may read even where the policy lets it read (the
    /// host's token file, its TLS key): each one the sandbox would show is covered by
    /// `/dev/null`, which the sandbox's `nodev` mounts do not let it open.
    pub hidden: Vec<AbsolutePathBuf>,
    /// Run the command under this name (its `argv[0]`). Bubblewrap (0.8) cannot set
    /// `argv[0]` itself: it executes `argv[0]`. So the program (`command[0]`, looked up
    /// on the command's `PATH` as bubblewrap would) is bound read-only at
    /// [`ARG0_DIR`]`/NAME`, inside the sandbox's own `/dev`, and run from there: the
    /// command sees `argv[0]` = `/dev/.codex-arg0/NAME`, whose file name is `NAME`, which
    /// is what programs that dispatch on their name (`apply_patch`, busybox) look at.
    /// `NAME` must be a plain file name, and the program readable under the policy.
    pub arg0: Option<OsString>,
    /// Executables of the host bound read-only at [`ARG0_DIR`]`/NAME` inside the sandbox
    /// (name, host path), whatever the policy lets the command read: programs the host
    /// itself puts there for the command to run (the patched shell and the
    /// `codex-execve-wrapper` of shell escalation). The host path is resolved (a symlink
    /// binds its target); each `NAME` must be a plain file name, and differ from
    /// [`BwrapOptions::arg0`] and from the others.
    pub programs: Vec<(OsString, AbsolutePathBuf)>,
}

/// Where a command run under another name ([`BwrapOptions::arg0`]) is bound: in the
/// sandbox's private `/dev` (a tmpfs bubblewrap makes for each sandbox), so nothing on the
/// host, and nothing another sandbox can write, is involved.
pub const ARG0_DIR: &str = "/dev/.codex-arg0";

/// The arguments of one `bwrap` invocation (without the `bwrap` program itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BwrapArgv {
    /// The arguments, ending with `--` and the command. The options (`args[..options_end]`)
    /// hold the command's environment: pass them through a descriptor (`--args FD`), not
    /// the command line, which every local user can read in `/proc`; bubblewrap takes
    /// `-- COMMAND...` (`args[options_end..]`) only from its command line.
    pub args: Vec<OsString>,
    /// Where the options end and `--` begins in `args`.
    pub options_end: usize,
    /// Protected paths mounted as read-only empty directories because they do not exist
    /// (or are the placeholder of another sandbox). The mount point must exist on the
    /// host, inside the writable root, for as long as the sandbox runs: hold them with a
    /// [`crate::PlaceholderLease`] from before bubblewrap starts until it was reaped.
    pub placeholders: Vec<AbsolutePathBuf>,
    /// The writable roots, resolved: nothing the sandbox relies on from the host (the
    /// `bwrap` executable) may lie in one.
    pub writable: Vec<AbsolutePathBuf>,
}

/// The arguments that put the sandbox in a user namespace of its own without any
/// capability, also when the caller is root: bubblewrap run by real root otherwise keeps
/// every capability for the command, which could then remount `/` read-write, unmount
/// the read-only `.git`, or open files by handle outside the readable roots. A nested
/// user namespace, where the command would gain capabilities of its own, is refused by
/// the seccomp filter every sandbox gets ([`crate::FilterKind::InBubblewrap`]; cheaper
/// than bubblewrap's `--disable-userns`, which costs a fifth of a start). Root is mapped to `nobody` (65534) inside, so the command also does not
/// *look* privileged to the tools it runs; any other caller keeps its ids.
pub(crate) fn user_namespace_args(euid: u32) -> Vec<&'static str> {
    let mut args = vec!["--unshare-user", "--cap-drop", "ALL"];
    if euid == 0 {
        args.extend(["--uid", NOBODY, "--gid", NOBODY]);
    }
    args
}

/// Bubblewrap's option for a network namespace of the sandbox's own. It comes before
/// anything taken from the request (see [`build`]), so its first occurrence is the option.
const UNSHARE_NET: &str = "--unshare-net";

impl BwrapArgv {
    /// Whether bubblewrap makes the sandbox a network namespace of its own (network off).
    pub(crate) fn makes_network_namespace(&self) -> bool {
        self.unshare_net_index().is_some()
    }

    /// Leaves bubblewrap's own network namespace out: for a sandbox whose bubblewrap
    /// starts in one made for it (see `netns_pool.rs`). Only call it then.
    pub(crate) fn join_network_namespace(&mut self) {
        if let Some(index) = self.unshare_net_index() {
            self.args.remove(index);
            self.options_end -= 1;
        }
    }

    fn unshare_net_index(&self) -> Option<usize> {
        self.args[..self.options_end]
            .iter()
            .position(|arg| arg == UNSHARE_NET)
    }
}

/// The id root is mapped to inside a sandbox.
const NOBODY: &str = "65534";

/// The mode of a placeholder directory (sticky, owner read and search, nothing else):
/// how a placeholder left by another process (or by a crash) is told from a directory a
/// person made. Nobody makes an empty `.git` with exactly this mode.
pub(crate) const PLACEHOLDER_MODE: u32 = 0o1500;

/// Builds the `bwrap` arguments that run `command` in `cwd` under `policy`.
///
/// The policy is bound with [`codex_sandboxing::bind_policy`] (every root resolved once;
/// roots a sandboxed command could have redirected, and writable roots inside protected
/// paths, refused), and every path handed to bubblewrap is the resolved one.
///
/// Fails before anything runs when the policy cannot be enforced as written: a
/// writable or readable root or the cwd that does not exist, a cwd that is not
/// readable, a protected path that is a symlink, an environment variable that cannot be
/// set, or a policy that is not enforced with bubblewrap at all (see [`SandboxPlan`]).
pub fn build_bwrap_argv(
    policy: &SandboxPolicy,
    cwd: &AbsolutePathBuf,
    command: &[OsString],
    options: &BwrapOptions,
) -> Result<BwrapArgv, LinuxSandboxError> {
    build(policy, cwd, command, options, /*pins*/ None)
}

/// [`build_bwrap_argv`] with the sources of the readable roots, writable roots and
/// protected paths pinned by descriptor (`--bind-fd`, `--ro-bind-fd`): what bubblewrap
/// mounts is the directory checked here, even if a concurrently running command swaps
/// the path for a symlink before bubblewrap gets to it. The descriptors are returned; they
/// must reach bubblewrap (keep them open, and inheritable, until it was spawned).
pub(crate) fn build_bwrap_argv_pinned(
    policy: &SandboxPolicy,
    cwd: &AbsolutePathBuf,
    command: &[OsString],
    options: &BwrapOptions,
) -> Result<(BwrapArgv, Vec<OwnedFd>), LinuxSandboxError> {
    let mut pins = Vec::new();
    let argv = build(policy, cwd, command, options, Some(&mut pins))?;
    Ok((argv, pins))
}

fn build(
    policy: &SandboxPolicy,
    cwd: &AbsolutePathBuf,
    command: &[OsString],
    options: &BwrapOptions,
    mut pins: Option<&mut Vec<OwnedFd>>,
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
    let cwd = match std::fs::canonicalize(cwd.as_path()) {
        Ok(resolved) if resolved.is_dir() => AbsolutePathBuf::try_from_absolute(resolved)
            .map_err(|_| LinuxSandboxError::MissingCwd { cwd: cwd.clone() })?,
        _ => return Err(LinuxSandboxError::MissingCwd { cwd: cwd.clone() }),
    };
    let access = codex_sandboxing::bind_policy(
        policy,
        options.policy_cwd.as_ref(),
        options.tmpdir.as_ref(),
        options.root_pins.as_deref(),
    )
    .map_err(LinuxSandboxError::Policy)?;
    if !access.can_read(&cwd) {
        return Err(LinuxSandboxError::CwdNotReadable { cwd });
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
    writable_roots.dedup();
    for root in &writable_roots {
        if !exists(root)? {
            return Err(LinuxSandboxError::MissingWritableRoot {
                root: (*root).clone(),
            });
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

    let mut args: Vec<OsString> = Vec::new();
    let mut push = |items: &[&str]| args.extend(items.iter().map(OsString::from));
    // SAFETY: geteuid cannot fail and touches no memory.
    push(&user_namespace_args(unsafe { libc::geteuid() }));
    // SysV IPC and POSIX message queues of its own: a root server's command would
    // otherwise read and write the host's shared memory (root's, mode 0600 or not).
    push(&[
        "--new-session",
        "--die-with-parent",
        "--unshare-pid",
        "--unshare-ipc",
    ]);
    if !policy.has_full_network_access() {
        push(&[UNSHARE_NET]);
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
            present.dedup();
            for root in &present {
                let covered = writable_roots.contains(root)
                    || present
                        .iter()
                        .any(|other| other != root && root.starts_with(other));
                if !covered {
                    // Platform defaults are named as is (`/bin`, a link to `usr/bin` on a
                    // merged-/usr system, in `/`, which only root may change); every other
                    // root is already resolved.
                    let source = if is_platform_default(root) {
                        std::fs::canonicalize(root.as_path())
                            .ok()
                            .and_then(|real| AbsolutePathBuf::try_from_absolute(real).ok())
                            .unwrap_or_else(|| (*root).clone())
                    } else {
                        (*root).clone()
                    };
                    bind_source(&mut args, "--ro-bind", &source, root, pins.as_deref_mut())?;
                }
            }
            // Roots are bound where they resolve to; a root the policy names through a
            // symlink (`/lib64 -> usr/lib64`, where the dynamic loader is looked up) is
            // recreated as a link in the empty root, unless it lies in a bound directory
            // (which shows the real link already).
            for named in named_roots(policy) {
                let in_bound = present
                    .iter()
                    .chain(writable_roots.iter())
                    .any(|root| named.starts_with(root));
                if in_bound {
                    continue;
                }
                if let Ok(target) = std::fs::canonicalize(named.as_path())
                    && target != named.as_path()
                {
                    args.push(OsString::from("--symlink"));
                    args.push(target.into_os_string());
                    args.push(named.as_path().as_os_str().to_owned());
                }
            }
            true
        }
    };

    args.extend(["--dev", "/dev"].map(OsString::from));
    match options.proc_mount {
        // Read-only: a fresh `/proc` still shows the host's `/proc/sys`, and a command of a
        // root caller (no capabilities, but uid 0 on the host, which is all most sysctl
        // files ask for) could otherwise write `kernel.core_pattern` and have the kernel
        // run a program of its choosing as real root.
        ProcMount::Mount => {
            args.extend(["--proc", "/proc", "--remount-ro", "/proc"].map(OsString::from));
        }
        // Hide whatever `/proc` the root bind brought along (the host's, whose
        // `/proc/<pid>/environ` would leak other processes' secrets).
        ProcMount::Skip => {
            for op in ["--tmpfs", "--remount-ro"] {
                args.extend([op, "/proc"].map(OsString::from));
            }
        }
    }

    // Every writable root is a mount point of its own, and so is every directory
    // between a writable root and a protected path: a mount point cannot be renamed or
    // removed, so the command cannot move a protected path's parent away and build a
    // new, unprotected tree in its place. Parents come before children (sorted), so no
    // bind hides one made before it.
    let mut rw_mounts: Vec<AbsolutePathBuf> = writable_roots.iter().map(|r| (*r).clone()).collect();
    for path in &protected {
        let mut dir = path.parent();
        while let Some(current) = dir {
            let inside_writable = writable_roots
                .iter()
                .any(|root| current.starts_with(root) && current != **root);
            if !inside_writable {
                break;
            }
            let inside_protected = protected.iter().any(|p| current.starts_with(p));
            if !inside_protected && current.as_path().is_dir() {
                rw_mounts.push(current.clone());
            }
            dir = current.parent();
        }
    }
    rw_mounts.sort();
    rw_mounts.dedup();
    for dir in &rw_mounts {
        bind_source(&mut args, "--bind", dir, dir, pins.as_deref_mut())?;
    }

    let mut placeholders = Vec::new();
    for path in &protected {
        match std::fs::symlink_metadata(path.as_path()) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                return Err(LinuxSandboxError::ProtectedPathIsSymlink {
                    path: (*path).clone(),
                });
            }
            Ok(metadata) if is_placeholder(&metadata) => {
                push_placeholder(&mut args, path);
                placeholders.push((*path).clone());
            }
            Ok(_) => bind_source(&mut args, "--ro-bind", path, path, pins.as_deref_mut())?,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                let parent_exists = path.parent().is_some_and(|p| p.as_path().is_dir());
                if !parent_exists {
                    return Err(LinuxSandboxError::UnprotectableMissingPath {
                        path: (*path).clone(),
                    });
                }
                push_placeholder(&mut args, path);
                placeholders.push((*path).clone());
            }
            Err(source) => {
                return Err(LinuxSandboxError::Inspect {
                    path: path.as_path().to_path_buf(),
                    source,
                });
            }
        }
    }

    for secret in &options.hidden {
        if let Some(root) = writable_roots.iter().find(|root| secret.starts_with(root)) {
            return Err(LinuxSandboxError::SecretInWritableRoot {
                root: (*root).clone(),
                secret: secret.as_path().to_path_buf(),
            });
        }
        let shown = std::fs::metadata(secret.as_path()).is_ok_and(|meta| meta.is_file())
            && access.can_read(secret);
        if shown {
            args.push(OsString::from("--ro-bind"));
            args.push(OsString::from("/dev/null"));
            args.push(secret.as_path().as_os_str().to_owned());
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
    let command_line = match &options.arg0 {
        Some(arg0) => {
            let as_named = bind_as_arg0(
                &mut args,
                arg0,
                command,
                &cwd,
                options,
                &access,
                pins.as_deref_mut(),
            )?;
            std::iter::once(as_named)
                .chain(command[1..].iter().cloned())
                .collect()
        }
        None => command.to_vec(),
    };
    bind_programs(&mut args, options, pins)?;
    if empty_root {
        args.extend(["--remount-ro", "/"].map(OsString::from));
    }
    for fd in &options.seccomp_fds {
        args.push(OsString::from("--add-seccomp-fd"));
        args.push(OsString::from(fd.to_string()));
    }
    for (name, value) in &options.env {
        let name_bytes = name.as_encoded_bytes();
        if name_bytes.is_empty()
            || name_bytes.contains(&b'=')
            || name_bytes.contains(&0)
            || value.as_encoded_bytes().contains(&0)
        {
            return Err(LinuxSandboxError::InvalidEnv {
                name: name.to_string_lossy().into_owned(),
            });
        }
        args.push(OsString::from("--setenv"));
        args.push(name.clone());
        args.push(value.clone());
    }
    args.push(OsString::from("--chdir"));
    args.push(cwd.as_path().as_os_str().to_owned());
    let options_end = args.len();
    args.push(OsString::from("--"));
    args.extend(command_line);
    Ok(BwrapArgv {
        args,
        options_end,
        placeholders,
        writable: writable_roots.into_iter().cloned().collect(),
    })
}

/// Binds the program of `command` read-only at `ARG0_DIR/arg0` (see
/// [`BwrapOptions::arg0`]) and returns the path to run it by.
fn bind_as_arg0(
    args: &mut Vec<OsString>,
    arg0: &OsString,
    command: &[OsString],
    cwd: &AbsolutePathBuf,
    options: &BwrapOptions,
    access: &codex_protocol::EffectiveAccess,
    pins: Option<&mut Vec<OwnedFd>>,
) -> Result<OsString, LinuxSandboxError> {
    let name = arg0.as_encoded_bytes();
    if name.is_empty() || name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0)
    {
        return Err(LinuxSandboxError::InvalidArg0 {
            arg0: arg0.to_string_lossy().into_owned(),
        });
    }
    let path_env = options
        .env
        .iter()
        .find(|(name, _)| name == "PATH")
        .map(|(_, value)| value.as_os_str());
    let program = crate::find_program(&command[0], path_env, cwd.as_path()).map_err(|source| {
        LinuxSandboxError::Exec {
            program: PathBuf::from(&command[0]),
            source,
        }
    })?;
    let resolved = std::fs::canonicalize(&program)
        .ok()
        .and_then(|real| AbsolutePathBuf::try_from_absolute(real).ok())
        .ok_or_else(|| LinuxSandboxError::Exec {
            program: program.clone(),
            source: io::Error::from(io::ErrorKind::NotFound),
        })?;
    if !access.can_read(&resolved) {
        return Err(LinuxSandboxError::Arg0ProgramNotReadable {
            program: resolved.into_path_buf(),
        });
    }
    let dest =
        AbsolutePathBuf::try_from_absolute(Path::new(ARG0_DIR).join(arg0)).map_err(|_| {
            LinuxSandboxError::InvalidArg0 {
                arg0: arg0.to_string_lossy().into_owned(),
            }
        })?;
    match pins {
        Some(pins) => bind_source(args, "--ro-bind", &resolved, &dest, Some(pins))?,
        None => {
            args.push(OsString::from("--ro-bind"));
            args.push(resolved.as_path().as_os_str().to_owned());
            args.push(dest.as_path().as_os_str().to_owned());
        }
    }
    Ok(dest.into_path_buf().into_os_string())
}

/// Binds each of [`BwrapOptions::programs`] read-only at `ARG0_DIR/NAME`.
fn bind_programs(
    args: &mut Vec<OsString>,
    options: &BwrapOptions,
    mut pins: Option<&mut Vec<OwnedFd>>,
) -> Result<(), LinuxSandboxError> {
    let mut names: Vec<&OsString> = options.arg0.iter().collect();
    for (name, program) in &options.programs {
        let bytes = name.as_encoded_bytes();
        let plain = !(bytes.is_empty()
            || bytes == b"."
            || bytes == b".."
            || bytes.contains(&b'/')
            || bytes.contains(&0));
        if !plain || names.contains(&name) {
            return Err(LinuxSandboxError::InvalidArg0 {
                arg0: name.to_string_lossy().into_owned(),
            });
        }
        names.push(name);
        let resolved = std::fs::canonicalize(program.as_path())
            .ok()
            .and_then(|real| AbsolutePathBuf::try_from_absolute(real).ok())
            .ok_or_else(|| LinuxSandboxError::Exec {
                program: program.as_path().to_path_buf(),
                source: io::Error::from(io::ErrorKind::NotFound),
            })?;
        let dest =
            AbsolutePathBuf::try_from_absolute(Path::new(ARG0_DIR).join(name)).map_err(|_| {
                LinuxSandboxError::InvalidArg0 {
                    arg0: name.to_string_lossy().into_owned(),
                }
            })?;
        match pins.as_deref_mut() {
            Some(pins) => bind_source(args, "--ro-bind", &resolved, &dest, Some(pins))?,
            None => {
                args.push(OsString::from("--ro-bind"));
                args.push(resolved.as_path().as_os_str().to_owned());
                args.push(dest.as_path().as_os_str().to_owned());
            }
        }
    }
    Ok(())
}

/// The roots `policy` names itself (readable and writable), as written.
fn named_roots(policy: &SandboxPolicy) -> Vec<&AbsolutePathBuf> {
    fn readable(access: &codex_protocol::ReadOnlyAccess) -> Vec<&AbsolutePathBuf> {
        match access {
            codex_protocol::ReadOnlyAccess::Restricted { readable_roots, .. } => {
                readable_roots.iter().collect()
            }
            codex_protocol::ReadOnlyAccess::FullAccess => Vec::new(),
        }
    }
    match policy {
        SandboxPolicy::DangerFullAccess | SandboxPolicy::ExternalSandbox { .. } => Vec::new(),
        SandboxPolicy::ReadOnly { access } => readable(access),
        SandboxPolicy::WorkspaceWrite {
            writable_roots,
            read_only_access,
            ..
        } => {
            let mut roots = readable(read_only_access);
            roots.extend(writable_roots);
            roots
        }
    }
}

/// A read-only empty tmpfs at `path` (which must exist as a directory on the host while
/// the sandbox runs: see [`BwrapArgv::placeholders`]).
fn push_placeholder(args: &mut Vec<OsString>, path: &AbsolutePathBuf) {
    for op in ["--tmpfs", "--remount-ro"] {
        args.push(OsString::from(op));
        args.push(path.as_path().as_os_str().to_owned());
    }
}

/// Whether `metadata` is that of a placeholder directory ([`PLACEHOLDER_MODE`]).
pub(crate) fn is_placeholder(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.is_dir() && metadata.permissions().mode() & 0o7777 == PLACEHOLDER_MODE
}

/// Appends `op dest dest`, or with `pins`, `op-fd FD dest` with `source` (the resolved
/// `dest`) opened without following symlinks (see [`crate::pin`]) and its descriptor
/// added to `pins`.
fn bind_source(
    args: &mut Vec<OsString>,
    op: &str,
    source: &AbsolutePathBuf,
    dest: &AbsolutePathBuf,
    pins: Option<&mut Vec<OwnedFd>>,
) -> Result<(), LinuxSandboxError> {
    let Some(pins) = pins else {
        bind(args, op, dest.as_path());
        return Ok(());
    };
    let fd =
        crate::pin::open_pinned(source.as_path()).map_err(|err| LinuxSandboxError::Inspect {
            path: source.as_path().to_path_buf(),
            source: err,
        })?;
    args.push(OsString::from(format!("{op}-fd")));
    args.push(OsString::from(fd.as_raw_fd().to_string()));
    args.push(dest.as_path().as_os_str().to_owned());
    pins.push(fd);
    Ok(())
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
