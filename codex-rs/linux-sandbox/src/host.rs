//! Running bubblewrap from a host that spawns and supervises the sandboxed process
//! itself (the exec-server), with nothing in between: the host spawns `bwrap` with the
//! command's stdio, bubblewrap installs the [`NetworkFilter`] (`--add-seccomp-fd FD`) right
//! before it executes the command, and the host reaps bubblewrap. Compared with going
//! through `codex-linux-sandbox`, that saves two executions of a large binary per
//! command (its outer stage and its seccomp stage).
//!
//! What the `codex-linux-sandbox` outer stage does around its run, a host does with
//! this module:
//!
//! - **`/proc`**: the stage retries without `/proc` after a refused mount; a host cannot
//!   (the command's client would already have seen bubblewrap's message), so it asks
//!   [`crate::probe_proc_mount`] once and builds every sandbox accordingly;
//! - **set-up failures**: after the run, [`BwrapRun::finish`] tells from bubblewrap's
//!   `--json-status-fd` reports whether the command ran at all (bubblewrap's own message
//!   then is on the command's stderr);
//! - **"command not found"**: bubblewrap exits 1 when it cannot execute the command, so
//!   a host checks the program first with [`find_program`] and refuses a missing one
//!   as it would an unsandboxed start;
//! - **placeholders**: held with a lock from before bubblewrap starts and removed when
//!   the last sandbox of any process that mounts them is gone
//!   ([`crate::PlaceholderLease`]), so one sandbox's exit can never unmount another's
//!   protection;
//! - **the launcher itself**: bubblewrap is resolved once and checked unchanged before
//!   each start ([`crate::TrustedBwrap`]), and runs with an empty environment: the
//!   command's environment reaches only the command (`--setenv`, inside `--args`).

use std::ffi::OsStr;
use std::ffi::OsString;
use std::io::Seek;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::fd::FromRawFd;
use std::os::fd::OwnedFd;
use std::os::fd::RawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitStatus;

use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;

use crate::BwrapOptions;
use crate::FilterKind;
use crate::LinuxSandboxError;
use crate::NetworkFilter;
use crate::PlaceholderLease;
use crate::PrivateMounts;
use crate::TrustedBwrap;
use crate::bwrap_argv::build_bwrap_argv_pinned;
use crate::launcher;

/// A bubblewrap invocation for a host to spawn: run [`BwrapLaunch::program`] with
/// [`BwrapLaunch::args`], an **empty environment** (the command's is inside the
/// arguments), the command's stdio, and [`crate::inherit_only`] of
/// [`BwrapLaunch::child_fds`] in `pre_exec`; then call [`BwrapLaunch::spawned`] (or drop
/// it if the spawn failed, which releases what it holds).
///
/// Spawn it from a thread that outlives the command: bubblewrap's `--die-with-parent`
/// (`PR_SET_PDEATHSIG`) fires when the *thread* that forked it exits, which kills the
/// sandbox. Tokio's worker threads qualify; a `spawn_blocking` thread does not.
#[derive(Debug)]
pub struct BwrapLaunch {
    /// What to execute: the bubblewrap executable (resolved, trusted, checked unchanged
    /// just now), or the trampoline that executes it ([`PrivateMounts::launcher`]).
    pub program: PathBuf,
    /// `argv[0]` when it is not `program` (the trampoline's name).
    pub arg0: Option<OsString>,
    /// Its arguments: `--args FD -- COMMAND...` (after bubblewrap's path, for the
    /// trampoline). The options — `--json-status-fd N`, the
    /// sandbox (with `--add-seccomp-fd M` for each filter program) and the command's
    /// environment — are in that sealed memory file, so the environment does not show in
    /// bubblewrap's world-readable `/proc/<pid>/cmdline`.
    pub args: Vec<OsString>,
    /// The descriptors bubblewrap must inherit (the status pipe's write end, the seccomp
    /// program, the arguments), close-on-exec in this process.
    child_fds: Vec<OwnedFd>,
    /// The status pipe's read end; `None` once handed to the [`BwrapRun`].
    status: Option<OwnedFd>,
    /// The placeholders this sandbox mounts; `None` once handed to the [`BwrapRun`].
    lease: Option<PlaceholderLease>,
    /// What the child must do so that later host mounts stay out of the sandbox.
    private_mounts: PrivateMounts,
    /// See [`BwrapChildSetup`].
    die_with: Option<libc::pid_t>,
    /// The network namespace made ahead for this sandbox (see `netns_pool.rs`), which
    /// the child joins; `None` when bubblewrap makes one (`--unshare-net`) or the
    /// policy allows the network.
    network: Option<crate::netns_pool::Namespace>,
}

/// What the child that executes bubblewrap does first, in its `pre_exec`
/// ([`BwrapChildSetup::apply`]): die with the host (for the launcher), join a new session
/// keyring and the network namespace made ahead for the sandbox, and make the mounts
/// private ([`PrivateMounts::apply`]). The default does nothing (for
/// a child that does not execute bubblewrap).
#[derive(Debug, Clone)]
pub struct BwrapChildSetup {
    private_mounts: PrivateMounts,
    /// Whether the child joins a new session keyring (every sandbox's child does).
    own_keyring: bool,
    /// For the mount launcher: the server, whose death kills the child from the start
    /// (armed here, it survives the `exec`), and which must still be its parent.
    die_with: Option<libc::pid_t>,
    /// Holds the namespace's descriptor open for as long as this value lives.
    network: Option<crate::netns_pool::Namespace>,
}

impl Default for BwrapChildSetup {
    fn default() -> Self {
        Self {
            private_mounts: PrivateMounts::NotNeeded,
            own_keyring: false,
            die_with: None,
            network: None,
        }
    }
}

impl BwrapChildSetup {
    /// In the child's `pre_exec` (async-signal-safe: `fstat`, `setns`, `unshare`,
    /// `mount`, `prctl` and `getppid` calls only). Move the value into the hook: it keeps
    /// what the child joins open.
    pub fn apply(&self) -> std::io::Result<()> {
        if let Some(parent) = self.die_with {
            crate::private_mounts::die_with(parent)?;
        }
        if self.own_keyring {
            // A new, empty session keyring: a user namespace keeps the caller's, whose
            // keys the sandbox must not possess (the filter also refuses the keyring
            // calls; this covers what `/proc/keys` would list).
            // SAFETY: keyctl with plain integers; a null name makes an anonymous keyring.
            let joined = unsafe {
                libc::syscall(
                    libc::SYS_keyctl,
                    KEYCTL_JOIN_SESSION_KEYRING,
                    std::ptr::null::<libc::c_char>(),
                )
            };
            if joined < 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        if let Some(namespace) = &self.network {
            namespace.join()?;
        }
        self.private_mounts.apply()
    }
}

/// `linux/keyctl.h`.
const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;

impl BwrapLaunch {
    /// Builds the invocation that runs `command` in `cwd` under `policy` (see
    /// [`crate::build_bwrap_argv`] for what is checked before anything runs), with `options`
    /// (the `/proc` mount [`crate::probe_proc_mount`] found, the policy's cwd, the host's
    /// `$TMPDIR`, the command's environment; the seccomp descriptor is filled in here).
    /// Refuses to run `bwrap` if it changed since it was trusted, or if it lies in one of
    /// the policy's writable roots.
    pub fn prepare(
        bwrap: &TrustedBwrap,
        policy: &SandboxPolicy,
        cwd: &AbsolutePathBuf,
        command: &[OsString],
        mut options: BwrapOptions,
    ) -> Result<Self, LinuxSandboxError> {
        // The mount launcher builds the same sandbox from the same options; it makes its
        // copy of the host's mounts private itself, so it needs no namespace (nor the
        // trampoline) first.
        let bwrap_path = bwrap.verify()?.to_path_buf();
        let mount_launcher = crate::mount_launcher::mount_launcher_for_this_process();
        let (program, private_mounts) = match mount_launcher {
            Some(launcher) => (launcher.verify()?.to_path_buf(), PrivateMounts::NotNeeded),
            None => (bwrap_path.clone(), PrivateMounts::for_this_process()?),
        };
        let io_error = |source| LinuxSandboxError::BwrapSpawn {
            bwrap: program.clone(),
            source,
        };
        crate::check_inherit_only()?;
        let (status, status_write) = launcher::cloexec_pipe().map_err(io_error)?;
        let mut args = vec![
            OsString::from("--json-status-fd"),
            OsString::from(status_write.as_raw_fd().to_string()),
        ];
        if mount_launcher.is_some() {
            // Only the launcher of this build runs (see `launcher_build.rs`).
            args.extend([
                OsString::from("--codex-launcher-build"),
                OsString::from(crate::launcher_build::launcher_build()),
            ]);
        }
        let mut child_fds = vec![status_write];
        // Always: it refuses new user namespaces, and with network off also sockets.
        let programs = compiled_programs(!policy.has_full_network_access())?;
        options.seccomp_fds.clear();
        for program in programs {
            let memfd = sealed_memfd(c"codex-seccomp", program).map_err(io_error)?;
            options.seccomp_fds.push(memfd.as_raw_fd());
            child_fds.push(memfd);
        }
        // Sources pinned by descriptor: bubblewrap mounts what was checked here.
        let (mut argv, pins) = build_bwrap_argv_pinned(policy, cwd, command, &options)?;
        child_fds.extend(pins);
        // Bubblewrap too when the launcher starts this sandbox: the server still runs it
        // (its trial run, and any start after the launcher became unusable).
        for trusted in [&program, &bwrap_path] {
            if let Some(root) = argv.writable.iter().find(|root| trusted.starts_with(root)) {
                return Err(LinuxSandboxError::BwrapUntrusted {
                    path: trusted.clone(),
                    reason: format!("it lies in `{root}`, which this policy makes writable"),
                });
            }
        }
        let lease = PlaceholderLease::acquire(&argv.placeholders)?;
        // A sandbox without network joins a namespace made ahead, if one is ready, and
        // bubblewrap makes none (taken last, so that no refused start uses one up).
        let network = if argv.makes_network_namespace() {
            crate::netns_pool::take()
        } else {
            None
        };
        if network.is_some() {
            argv.join_network_namespace();
        }
        let mut argv_args = argv.args;
        let command_line = argv_args.split_off(argv.options_end);
        args.extend(argv_args);
        let memfd = args_memfd(&args).map_err(io_error)?;
        let (launcher, arg0, mut args) = match mount_launcher {
            Some(_) => (program, None, Vec::new()),
            None => private_mounts.launcher(&program),
        };
        args.extend([
            OsString::from("--args"),
            OsString::from(memfd.as_raw_fd().to_string()),
        ]);
        args.extend(command_line);
        child_fds.push(memfd);
        Ok(Self {
            program: launcher,
            arg0,
            args,
            child_fds,
            status: Some(status),
            lease: Some(lease),
            private_mounts,
            // SAFETY: getpid cannot fail and touches no memory.
            die_with: mount_launcher.map(|_| unsafe { libc::getpid() }),
            network,
        })
    }

    /// The command's stdin when it has nothing to read: an empty pipe (end of file at
    /// once, as `/dev/null` gives) whose write end is already closed. Not the host's
    /// `/dev/null`: that descriptor would be on the host's writable `/dev`, where a root
    /// host's command (uid 0 on the host) could `fchmod` it past the sandbox's read-only
    /// device binds.
    pub fn empty_stdin(&self) -> std::io::Result<OwnedFd> {
        let (read, _write) = launcher::cloexec_pipe()?;
        Ok(read)
    }

    /// What to run in the child's `pre_exec` ([`BwrapChildSetup::apply`]).
    pub fn child_setup(&self) -> BwrapChildSetup {
        BwrapChildSetup {
            private_mounts: self.private_mounts,
            own_keyring: true,
            die_with: self.die_with,
            network: self.network.clone(),
        }
    }

    /// The descriptors to keep open across `exec` in the spawned child.
    pub fn child_fds(&self) -> Vec<RawFd> {
        self.child_fds.iter().map(AsRawFd::as_raw_fd).collect()
    }

    /// Closes this process's copies of the child's descriptors (required once
    /// bubblewrap is spawned, so that the status pipe reports its end). Keep the
    /// returned [`BwrapRun`] until bubblewrap was reaped, then call
    /// [`BwrapRun::finish`]. A [`BwrapRun`] dropped without `finish` keeps its
    /// placeholders (locked until this process exits), since bubblewrap may still run.
    pub fn spawned(mut self) -> BwrapRun {
        self.child_fds.clear();
        // The sandbox's processes (and the spawn's hook, until it is dropped) hold the
        // namespace now, or the spawn failed: it is never used again.
        self.network = None;
        BwrapRun {
            status: self.status.take(),
            lease: self.lease.take(),
        }
    }
}

impl Drop for BwrapLaunch {
    fn drop(&mut self) {
        // Never spawned: nothing mounts the placeholders through this sandbox.
        if let Some(lease) = self.lease.take() {
            lease.release();
        }
    }
}

/// A spawned bubblewrap, until it was reaped.
#[derive(Debug)]
pub struct BwrapRun {
    status: Option<OwnedFd>,
    lease: Option<PlaceholderLease>,
}

/// How a bubblewrap run spawned by a host ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BwrapEnd {
    /// Bubblewrap executed the command (or was killed, or succeeded): this is the
    /// command's status (bubblewrap exits with its code, or 128 + its signal).
    Command(ExitStatus),
    /// Bubblewrap failed before it executed the command, so nothing ran; its message
    /// is on the command's stderr. Bubblewrap's own status.
    SetupFailed(ExitStatus),
}

impl BwrapRun {
    /// Call once bubblewrap (`status`) was reaped: reads its status reports, tells
    /// whether the command ran, and removes the placeholders no other sandbox (of any
    /// process) still mounts.
    pub fn finish(mut self, status: ExitStatus) -> BwrapEnd {
        let reports = match self.status.take() {
            Some(reports) => {
                // Nothing blocks here even if something in the sandbox still held the
                // write end.
                // SAFETY: F_SETFL on a descriptor we own.
                unsafe {
                    let flags = libc::fcntl(reports.as_raw_fd(), libc::F_GETFL);
                    libc::fcntl(reports.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
                }
                launcher::read_bounded(std::fs::File::from(reports))
            }
            // The descriptor could not be kept: assume the command ran.
            None => b"{\"exit-code\": 0}".to_vec(),
        };
        if let Some(lease) = self.lease.take() {
            lease.release();
        }
        if launcher::nothing_ran(status, &reports) {
            BwrapEnd::SetupFailed(status)
        } else {
            BwrapEnd::Command(status)
        }
    }
}

/// The bubblewrap filter's programs as bubblewrap reads them, compiled once per process for
/// each network setting (they depend on nothing else).
pub(crate) fn compiled_programs(
    deny_network: bool,
) -> Result<&'static [Vec<u8>], LinuxSandboxError> {
    static WITH_NETWORK: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    static WITHOUT_NETWORK: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    let cell = if deny_network {
        &WITHOUT_NETWORK
    } else {
        &WITH_NETWORK
    };
    if let Some(programs) = cell.get() {
        return Ok(programs);
    }
    let compiled = NetworkFilter::compile(FilterKind::InBubblewrap { deny_network })?;
    Ok(cell.get_or_init(|| compiled.to_bwrap_bytes()))
}

/// A memory file holding `bytes`, positioned at its start, sealed against changes and
/// close-on-exec (see [`crate::inherit_only`]).
pub(crate) fn sealed_memfd(name: &std::ffi::CStr, bytes: &[u8]) -> std::io::Result<OwnedFd> {
    // SAFETY: memfd_create with a NUL-terminated name returns a new descriptor.
    let fd =
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    // Above stderr: a host started without stdin could get descriptor 0 here, which the
    // child's stdio set-up would then replace.
    let mut file =
        std::fs::File::from(launcher::above_stderr(unsafe { OwnedFd::from_raw_fd(fd) })?);
    file.write_all(bytes)?;
    file.rewind()?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: F_ADD_SEALS on the descriptor we own.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(OwnedFd::from(file))
}

/// `args` NUL-terminated in a sealed memory file, for bubblewrap's `--args FD`.
pub(crate) fn args_memfd(args: &[OsString]) -> std::io::Result<OwnedFd> {
    let mut bytes = Vec::new();
    for arg in args {
        bytes.extend_from_slice(arg.as_encoded_bytes());
        bytes.push(0);
    }
    sealed_memfd(c"codex-bwrap-args", &bytes)
}

/// The program bubblewrap would execute for `program` (as `execvp` searches it): a
/// name with a `/` is taken relative to `cwd`; a bare name is looked up in each
/// directory of `path_env` (the command's `$PATH`; `/bin:/usr/bin` when unset; an
/// empty entry is `cwd`). Errors as `execvp` would fail: not found (`ENOENT`), or only
/// non-executable candidates (`EACCES`). It looks at the host's filesystem, so a
/// program the policy hides is found here and then fails inside the sandbox.
pub fn find_program(
    program: &OsStr,
    path_env: Option<&OsStr>,
    cwd: &Path,
) -> std::io::Result<PathBuf> {
    let candidates: Vec<PathBuf> = if program.as_encoded_bytes().contains(&b'/') {
        vec![cwd.join(program)]
    } else {
        let path_env = path_env.unwrap_or(OsStr::new("/bin:/usr/bin"));
        std::env::split_paths(path_env)
            .map(|dir| cwd.join(dir).join(program))
            .collect()
    };
    let mut denied = false;
    for candidate in candidates {
        match std::fs::metadata(&candidate) {
            Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => {
                return Ok(candidate);
            }
            Ok(_) => denied = true,
            Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => denied = true,
            Err(_) => {}
        }
    }
    Err(std::io::Error::from_raw_os_error(if denied {
        libc::EACCES
    } else {
        libc::ENOENT
    }))
}

#[cfg(test)]
#[path = "host_tests.rs"]
mod tests;
