//! Where bubblewrap starts ([`PrivateMounts`]): a mount namespace of its own with private
//! mounts wherever the host's mounts propagate, made by root in the forked child or by the
//! trampoline (see `trampoline.rs`) for anyone else.

use std::ffi::OsString;
use std::path::Path;
use std::path::PathBuf;

use crate::LinuxSandboxError;

/// Whether a mount the host makes while a sandbox runs could reach it: some mount of this
/// process's namespace takes part in propagation (`shared:` or `master:` in
/// `/proc/self/mountinfo`, as on systemd hosts; bubblewrap makes the sandbox's mounts
/// slaves of the namespace it starts in). When `mountinfo` cannot be read, yes.
fn host_mounts_propagate() -> bool {
    match read_mountinfo() {
        Ok(mountinfo) => mountinfo.lines().any(|line| {
            line.split(' ')
                .skip(6)
                .take_while(|field| *field != "-")
                .any(|field| field.starts_with("shared:") || field.starts_with("master:"))
        }),
        Err(_) => true,
    }
}

/// This process's `mountinfo`, read into a buffer large enough for most hosts at once
/// (`std::fs::read_to_string` starts with 32 bytes for a file whose size shows as 0, and
/// takes a `read` call for each doubling).
fn read_mountinfo() -> std::io::Result<String> {
    use std::io::Read;

    let mut mountinfo = String::with_capacity(64 * 1024);
    std::fs::File::open("/proc/self/mountinfo")?.read_to_string(&mut mountinfo)?;
    Ok(mountinfo)
}

/// Where bubblewrap starts, so that a mount the host makes while the sandbox runs (an
/// automounted `/boot/efi`, a container's root, a USB stick) does not appear inside it
/// with its own, writable options: a mount namespace of its own whose mounts are private.
/// Decide in the parent ([`PrivateMounts::for_this_process`]); execute
/// [`PrivateMounts::launcher`] rather than bubblewrap, and apply
/// [`PrivateMounts::apply`] in its `pre_exec`.
///
/// Only root can make that namespace without a user namespace of its own, so root does
/// it in the forked child. Anyone else executes the trampoline first (see
/// `trampoline.rs`): the forked child of a server holds a copy of the server's memory and
/// must not become dumpable, which writing a user namespace's maps needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivateMounts {
    /// Nothing to do: no mount of this namespace propagates.
    NotNeeded,
    /// Root with `CAP_SYS_ADMIN`: a new mount namespace, its mounts made private, in
    /// `pre_exec`.
    MountNamespace,
    /// Not root (or root without `CAP_SYS_ADMIN`): bubblewrap is started by the trampoline
    /// (this executable under another name), which makes a user and mount namespace and
    /// the mounts private first. The child dies with `parent` (this process), also before
    /// bubblewrap takes that over (`--die-with-parent`).
    Trampoline {
        /// This process's pid.
        parent: libc::pid_t,
    },
}

impl PrivateMounts {
    /// What this process must do before running bubblewrap (reads `mountinfo`: call it
    /// before the spawn). Refused ([`LinuxSandboxError::MountsPropagate`]) when mounts
    /// propagate here, this process may not make a mount namespace itself (not root, or
    /// root without `CAP_SYS_ADMIN`), and its executable cannot act as the trampoline (its
    /// `main` did not call [`crate::arg0_dispatch`], or `/proc/self/exe` is not the file it
    /// runs from, as when started through the dynamic loader).
    pub fn for_this_process() -> Result<Self, LinuxSandboxError> {
        if !host_mounts_propagate() {
            return Ok(PrivateMounts::NotNeeded);
        }
        if root_with_cap_sys_admin() {
            Ok(PrivateMounts::MountNamespace)
        } else if crate::trampoline::available() {
            Ok(PrivateMounts::Trampoline {
                // SAFETY: getpid cannot fail and touches no memory.
                parent: unsafe { libc::getpid() },
            })
        } else {
            Err(LinuxSandboxError::MountsPropagate)
        }
    }

    /// The program to execute in bubblewrap's place, its `argv[0]` if it is not the
    /// program, and the arguments that go before bubblewrap's own.
    pub fn launcher(&self, bwrap: &Path) -> (PathBuf, Option<OsString>, Vec<OsString>) {
        match self {
            PrivateMounts::NotNeeded | PrivateMounts::MountNamespace => {
                (bwrap.to_path_buf(), None, Vec::new())
            }
            PrivateMounts::Trampoline { .. } => (
                PathBuf::from(crate::trampoline::SELF_EXE),
                Some(OsString::from(crate::trampoline::TRAMPOLINE_ARG0)),
                vec![
                    OsString::from(crate::trampoline::TRAMPOLINE_MARKER),
                    bwrap.as_os_str().to_owned(),
                ],
            ),
        }
    }

    /// In the `pre_exec` of [`PrivateMounts::launcher`] (async-signal-safe: `unshare`,
    /// `mount`, `prctl` and `getppid` calls only): the root namespace's mounts made
    /// private, or, before the trampoline, death with the parent armed (it survives the
    /// two executions, as no credentials change) and the parent checked still there.
    pub fn apply(&self) -> std::io::Result<()> {
        match *self {
            PrivateMounts::NotNeeded => Ok(()),
            PrivateMounts::Trampoline { parent } => die_with(parent),
            PrivateMounts::MountNamespace => {
                // SAFETY: unshare takes plain flags.
                if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                make_every_mount_private()
            }
        }
    }
}

/// In a forked child's `pre_exec` (async-signal-safe: `prctl` and `getppid` only): death
/// with the parent armed (it survives the `exec`, as no credentials change), and the
/// parent checked to be still `parent`.
pub(crate) fn die_with(parent: libc::pid_t) -> std::io::Result<()> {
    // SAFETY: prctl with plain integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: getppid cannot fail and touches no memory.
    if unsafe { libc::getppid() } != parent {
        return Err(std::io::Error::other("the server is gone"));
    }
    Ok(())
}

/// Whether this process runs as root with `CAP_SYS_ADMIN` in its effective set (what
/// making a mount or network namespace without a user namespace takes). Read once: a
/// server never gives up capabilities while it runs (and if it did, `unshare` would fail
/// and the start with it, nothing would run unprotected).
pub(crate) fn root_with_cap_sys_admin() -> bool {
    static ROOT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    // SAFETY: geteuid cannot fail and touches no memory.
    *ROOT.get_or_init(|| unsafe { libc::geteuid() } == 0 && has_cap_sys_admin())
}

/// Whether this process has `CAP_SYS_ADMIN` in its effective set.
fn has_cap_sys_admin() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), /*radix*/ 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_SYS_ADMIN) != 0)
}

/// The capability's number (`linux/capability.h`).
const CAP_SYS_ADMIN: u32 = 21;

/// `mount --make-rprivate /` in this process's mount namespace (one `mount` call:
/// async-signal-safe).
pub(crate) fn make_every_mount_private() -> std::io::Result<()> {
    // SAFETY: mount with a static path and null pointers for what it ignores.
    let made_private = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    if made_private != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
