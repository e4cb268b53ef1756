//! Running bubblewrap from a host that spawns and supervises the sandboxed process
//! itself (the exec-server), with nothing in between: the host spawns `bwrap` with the
//! command's stdio, bubblewrap installs the [`NetworkFilter`] (`--seccomp FD`) right
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
//! - **placeholders**: removed when the last sandbox of this process that mounts them
//!   is gone ([`BwrapLaunch`]), so one sandbox's exit can never unmount another's
//!   protection.

use std::collections::BTreeMap;
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
use std::sync::Mutex;
use std::sync::MutexGuard;

use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;

use crate::BwrapOptions;
use crate::FilterKind;
use crate::LinuxSandboxError;
use crate::NetworkFilter;
use crate::ProcMount;
use crate::build_bwrap_argv;
use crate::launcher;

/// A bubblewrap invocation for a host to spawn: run [`BwrapLaunch::program`] with
/// [`BwrapLaunch::args`], the command's environment and stdio, and
/// [`crate::inherit_only`] of [`BwrapLaunch::child_fds`] in `pre_exec`; then call
/// [`BwrapLaunch::spawned`] (also when the spawn failed, to release what it holds).
///
/// Spawn it from a thread that outlives the command: bubblewrap's `--die-with-parent`
/// (`PR_SET_PDEATHSIG`) fires when the *thread* that forked it exits, which kills the
/// sandbox. Tokio's worker threads qualify; a `spawn_blocking` thread does not.
#[derive(Debug)]
pub struct BwrapLaunch {
    /// The bubblewrap executable.
    pub program: PathBuf,
    /// Its arguments: `--json-status-fd N`, the sandbox (with `--seccomp M` when the
    /// network is off), `--` and the command.
    pub args: Vec<OsString>,
    /// The descriptors bubblewrap must inherit (the status pipe's write end and the
    /// seccomp program), close-on-exec in this process.
    child_fds: Vec<OwnedFd>,
    /// The status pipe's read end.
    status: OwnedFd,
    /// The protected paths this sandbox mounts that are placeholders.
    lease: PlaceholderLease,
}

impl BwrapLaunch {
    /// Builds the invocation that runs `command` in `cwd` under `policy` (see
    /// [`build_bwrap_argv`] for what is checked before anything runs), with `/proc`
    /// as [`crate::probe_proc_mount`] found. `env_tmpdir` is the command's `$TMPDIR`.
    pub fn prepare(
        bwrap: PathBuf,
        policy: &SandboxPolicy,
        cwd: &AbsolutePathBuf,
        command: &[OsString],
        env_tmpdir: Option<AbsolutePathBuf>,
        proc_mount: ProcMount,
    ) -> Result<Self, LinuxSandboxError> {
        let io_error = |source| LinuxSandboxError::BwrapSpawn {
            bwrap: bwrap.clone(),
            source,
        };
        crate::check_inherit_only()?;
        let (status, status_write) = launcher::cloexec_pipe().map_err(io_error)?;
        let mut child_fds = vec![status_write];
        let seccomp_fd = if policy.has_full_network_access() {
            None
        } else {
            let program = NetworkFilter::compile(FilterKind::InBubblewrap)?;
            let memfd = sealed_memfd(&program.to_bwrap_bytes()).map_err(io_error)?;
            let fd = memfd.as_raw_fd();
            child_fds.push(memfd);
            Some(fd)
        };
        let options = BwrapOptions {
            proc_mount,
            env_tmpdir,
            helper: None,
            seccomp_fd,
        };
        // Built under the registry's lock: an existing protected directory may be
        // another sandbox's placeholder, which must not be removed until this one is
        // gone too (see `PlaceholderLease`).
        let mut live = live_placeholders();
        let argv = build_bwrap_argv(policy, cwd, command, &options)?;
        let lease = PlaceholderLease::take(&mut live, &argv.placeholders, &argv.protected);
        drop(live);
        let mut args = vec![
            OsString::from("--json-status-fd"),
            OsString::from(child_fds[0].as_raw_fd().to_string()),
        ];
        args.extend(argv.args);
        Ok(Self {
            program: bwrap,
            args,
            child_fds,
            status,
            lease,
        })
    }

    /// The descriptors to keep open across `exec` in the spawned child.
    pub fn child_fds(&self) -> Vec<RawFd> {
        self.child_fds.iter().map(AsRawFd::as_raw_fd).collect()
    }

    /// Closes this process's copies of the child's descriptors (required once
    /// bubblewrap is spawned, so that the status pipe reports its end). Keep the
    /// returned [`BwrapRun`] until bubblewrap was reaped, then call
    /// [`BwrapRun::finish`]. If the spawn failed, drop the [`BwrapLaunch`] instead (that
    /// releases its placeholders); a [`BwrapRun`] dropped without `finish` leaves them,
    /// since bubblewrap may still be running.
    pub fn spawned(self) -> BwrapRun {
        let Self {
            child_fds,
            status,
            lease,
            ..
        } = self;
        drop(child_fds);
        BwrapRun {
            status,
            lease: HeldLease(Some(lease)),
        }
    }
}

/// A spawned bubblewrap, until it was reaped.
#[derive(Debug)]
pub struct BwrapRun {
    status: OwnedFd,
    lease: HeldLease,
}

/// The lease of a spawned sandbox: released by [`BwrapRun::finish`]. Dropped without
/// that, bubblewrap may still be running (waiting for it failed), so its placeholders
/// stay, as after a crash, rather than being removed under a live sandbox.
#[derive(Debug)]
struct HeldLease(Option<PlaceholderLease>);

impl HeldLease {
    fn release(mut self) {
        drop(self.0.take());
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        if let Some(lease) = self.0.take() {
            std::mem::forget(lease);
        }
    }
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
    /// whether the command ran, and removes the placeholders no other sandbox of this
    /// process still mounts.
    pub fn finish(self, status: ExitStatus) -> BwrapEnd {
        let Self {
            status: reports,
            lease,
        } = self;
        // Nothing blocks here even if something in the sandbox still held the write end.
        // SAFETY: F_SETFL on a descriptor we own.
        unsafe {
            let flags = libc::fcntl(reports.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(reports.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        let reports = launcher::read_bounded(std::fs::File::from(reports));
        lease.release();
        if launcher::nothing_ran(status, &reports) {
            BwrapEnd::SetupFailed(status)
        } else {
            BwrapEnd::Command(status)
        }
    }
}

/// A memory file holding `bytes`, positioned at its start, sealed against changes and
/// close-on-exec (see [`crate::inherit_only`]).
fn sealed_memfd(bytes: &[u8]) -> std::io::Result<OwnedFd> {
    // SAFETY: memfd_create with a static NUL-terminated name returns a new descriptor.
    let fd = unsafe {
        libc::memfd_create(
            c"codex-seccomp".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
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

/// How many live sandboxes of this process mount each placeholder.
static LIVE_PLACEHOLDERS: Mutex<BTreeMap<AbsolutePathBuf, usize>> = Mutex::new(BTreeMap::new());

fn live_placeholders() -> MutexGuard<'static, BTreeMap<AbsolutePathBuf, usize>> {
    LIVE_PLACEHOLDERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The placeholders one sandbox mounts. Bubblewrap creates a missing protected path
/// (`.git` in a writable root) on the host as the mount point of its read-only
/// placeholder, and it must go again afterwards. But removing it while another sandbox
/// mounts it would detach that sandbox's mount (the kernel unmounts mounts on a removed
/// directory in every namespace), and that sandbox could then create the path. So each
/// sandbox holds a lease on the placeholders it mounts (those it creates, and existing
/// ones another live sandbox created), and the last lease removes them.
#[derive(Debug)]
struct PlaceholderLease {
    paths: Vec<AbsolutePathBuf>,
}

impl PlaceholderLease {
    fn take(
        live: &mut BTreeMap<AbsolutePathBuf, usize>,
        placeholders: &[AbsolutePathBuf],
        protected: &[AbsolutePathBuf],
    ) -> Self {
        let paths: Vec<AbsolutePathBuf> = protected
            .iter()
            .filter_map(|path| {
                let key = resolved_parent(path);
                (placeholders.contains(path) || live.contains_key(&key)).then_some(key)
            })
            .collect();
        for path in &paths {
            *live.entry(path.clone()).or_insert(0) += 1;
        }
        Self { paths }
    }
}

/// `path` with its parent resolved (symlinks followed): the key under which sandboxes
/// that reach the same directory by different paths (a symlink and its target) find
/// each other's placeholders. `path` itself if its parent cannot be resolved.
fn resolved_parent(path: &AbsolutePathBuf) -> AbsolutePathBuf {
    let resolved = path
        .parent()
        .and_then(|parent| std::fs::canonicalize(parent.as_path()).ok())
        .zip(path.as_path().file_name())
        .and_then(|(parent, name)| AbsolutePathBuf::try_from_absolute(parent.join(name)).ok());
    resolved.unwrap_or_else(|| path.clone())
}

impl Drop for PlaceholderLease {
    fn drop(&mut self) {
        let mut live = live_placeholders();
        let mut unused = Vec::new();
        for path in self.paths.drain(..) {
            if let Some(count) = live.get_mut(&path) {
                *count -= 1;
                if *count == 0 {
                    live.remove(&path);
                    unused.push(path);
                }
            }
        }
        // Still under the lock, so no new sandbox takes one of them for a plain
        // directory in between.
        launcher::remove_placeholders(&unused);
    }
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
