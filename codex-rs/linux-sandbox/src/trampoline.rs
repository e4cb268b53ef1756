//! The exec trampoline: how a host that is not root starts bubblewrap in a mount
//! namespace whose mounts are private, so that a mount the host makes while a sandbox
//! runs (an automounted disk, a bind mount, a FUSE file system) never appears inside it.
//!
//! Bubblewrap makes the sandbox's mounts slaves of the namespace it starts in. On a host
//! whose mounts propagate (`shared:` in `mountinfo`, as on every systemd host), every
//! later host mount would then appear in a running sandbox with the host's own
//! options, writable where the policy says read-only. Root makes a private namespace in
//! the forked child ([`crate::PrivateMounts::MountNamespace`]). Anyone else needs a user
//! namespace for that, and writing its uid map needs a dumpable process; the forked child
//! of a server still holds a copy of the server's memory (its token), which a same-user
//! process could read from a dumpable one. So the child executes a fresh program first:
//! this one, the running executable (`/proc/self/exe`) under the name
//! [`TRAMPOLINE_ARG0`], which [`crate::arg0_dispatch`] sends here. It holds nothing but
//! its arguments, makes the user and mount namespaces, makes every mount private and
//! executes bubblewrap in its place, with the descriptors and the (empty) environment
//! it was given.
//!
//! A host whose executable never calls [`crate::arg0_dispatch`] cannot use it, and its
//! sandboxed starts are refused where they would need it.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;

/// The `argv[0]` under which an executable that calls [`crate::arg0_dispatch`] acts as the
/// trampoline: `codex-bwrap-trampoline BWRAP ARGS...` runs `BWRAP ARGS...` in a private
/// mount namespace.
pub(crate) const TRAMPOLINE_ARG0: &str = "codex-bwrap-trampoline";

/// The program a host executes to run the trampoline: the running executable itself.
pub(crate) const SELF_EXE: &str = "/proc/self/exe";

/// The trampoline's first argument, before bubblewrap's path: a path nothing can be
/// opened at. Should `/proc/self/exe` not be the executable that dispatches after all (the
/// dynamic loader, or a binfmt interpreter, that started the host), that program takes
/// this for the program to run and fails, rather than running bubblewrap without private
/// mounts (or a file of this name in the command's cwd, were it a relative name).
pub(crate) const TRAMPOLINE_MARKER: &str = "/dev/null/codex-bwrap-trampoline";

/// Whether this process's `main` called [`crate::arg0_dispatch`], so that its executable
/// can act as the trampoline.
static DISPATCHES: AtomicBool = AtomicBool::new(false);

/// Records that this executable dispatches on `argv[0]` (called by
/// [`crate::arg0_dispatch`]).
pub(crate) fn mark_dispatching() {
    DISPATCHES.store(/*val*/ true, Ordering::SeqCst);
}

/// Whether the running executable can act as the trampoline: it dispatches, and
/// `/proc/self/exe` is the file its code runs from (not the dynamic loader that started
/// it, say). Checked once.
pub(crate) fn available() -> bool {
    static SELF_EXE_IS_THIS_BINARY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    DISPATCHES.load(Ordering::SeqCst)
        && *SELF_EXE_IS_THIS_BINARY.get_or_init(self_exe_is_this_binary)
}

/// Whether `/proc/self/exe` is the file mapped where this function's code is (device and
/// inode as `/proc/self/maps` shows them).
fn self_exe_is_this_binary() -> bool {
    use std::os::unix::fs::MetadataExt;

    let Ok(exe) = std::fs::metadata(SELF_EXE) else {
        return false;
    };
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return false;
    };
    let here = self_exe_is_this_binary as *const () as usize;
    maps.lines()
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            let (start, end) = fields.next()?.split_once('-')?;
            let (start, end) = (
                usize::from_str_radix(start, /*radix*/ 16).ok()?,
                usize::from_str_radix(end, /*radix*/ 16).ok()?,
            );
            if !(start..end).contains(&here) {
                return None;
            }
            let (_perms, _offset) = (fields.next()?, fields.next()?);
            let (major, minor) = fields.next()?.split_once(':')?;
            let inode: u64 = fields.next()?.parse().ok()?;
            let device = libc::makedev(
                u32::from_str_radix(major, /*radix*/ 16).ok()?,
                u32::from_str_radix(minor, /*radix*/ 16).ok()?,
            );
            Some(device == exe.dev() && inode == exe.ino())
        })
        .unwrap_or(false)
}

/// The trampoline's `main`: `args` are what follows `argv[0]` (the bubblewrap to run,
/// then its arguments). Never returns: it executes bubblewrap, or exits with
/// [`crate::SETUP_FAILED_EXIT_CODE`] and a message on stderr (which a host reads as a
/// set-up failure: nothing ran).
pub(crate) fn run(mut args: impl Iterator<Item = OsString>) -> ! {
    if args.next().as_deref() != Some(std::ffi::OsStr::new(TRAMPOLINE_MARKER)) {
        fail("started without its marker: not run by a host".to_string());
    }
    let Some(bwrap) = args.next().map(PathBuf::from) else {
        fail("no bubblewrap to run was given".to_string());
    };
    if !bwrap.is_absolute() {
        fail(format!("`{}` is not an absolute path", bwrap.display()));
    }
    if let Err(err) = private_mount_namespace() {
        fail(err);
    }
    // The host gave an empty environment; whatever ran before this in `main` keeps its
    // hands off bubblewrap's.
    let err = std::process::Command::new(&bwrap)
        .args(args)
        .env_clear()
        .exec();
    fail(format!("cannot execute {}: {err}", bwrap.display()));
}

fn fail(message: String) -> ! {
    eprintln!("{TRAMPOLINE_ARG0}: {message}");
    std::process::exit(crate::SETUP_FAILED_EXIT_CODE);
}

/// Moves this (single-threaded) process into a new user namespace that maps its own user
/// and group to themselves, and a new mount namespace whose mounts are all private.
fn private_mount_namespace() -> Result<(), String> {
    // SAFETY: these calls cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    // SAFETY: unshare takes plain flags.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) } != 0 {
        return Err(format!(
            "cannot make a user and mount namespace: {}",
            std::io::Error::last_os_error()
        ));
    }
    // Writing `deny` first is what allows an unprivileged gid map (absent before 3.19).
    match std::fs::write("/proc/self/setgroups", "deny") {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(format!("writing /proc/self/setgroups: {err}")),
    }
    std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1\n"))
        .map_err(|err| format!("writing /proc/self/uid_map: {err}"))?;
    std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1\n"))
        .map_err(|err| format!("writing /proc/self/gid_map: {err}"))?;
    if let Err(err) = crate::private_mounts::make_every_mount_private() {
        return Err(format!(
            "cannot make the sandbox's mounts private, so mounts this host makes later \
             would appear in it: {err}; if AppArmor restricts unprivileged user namespaces \
             (Ubuntu >= 23.10), allow them for this executable with an AppArmor profile \
             (`profile codex /path/to/this/executable flags=(unconfined) {{ userns, }}`) \
             or `sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`"
        ));
    }
    Ok(())
}
