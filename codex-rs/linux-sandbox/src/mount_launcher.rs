//! The mount launcher: the sandbox bubblewrap builds, built with the kernel's descriptor
//! based mount calls (`mount_api.rs`). It reads the same options
//! ([`crate::build_bwrap_argv`], parsed by `launch_plan.rs`), so there is one description
//! of a sandbox and two programs that carry it out, and builds the same sandbox (the
//! exec-server's tests compare the two, mount by mount). It exists because it does so in
//! well under half of bubblewrap's time: bubblewrap makes each bind with a remount of
//! every mount below it, reading `mountinfo` each time, and its `--dev` alone takes six
//! such binds; here a tree is cloned and given its options in two calls, whatever is in
//! it. Like bubblewrap, it needs no privilege beyond making a user namespace.
//!
//! The process layout is bubblewrap's:
//!
//! - the **monitor** (the process the host spawned): clones the sandbox's first process
//!   into new user, mount and PID namespaces (and a network namespace, unless the host's
//!   child joined one made ahead), maps the caller's ids into them, reports the child's
//!   pid on `--json-status-fd`, waits, and reports the command's exit code there once the
//!   command ran; it exits with that code (or 128 + its signal);
//! - **PID 1** of the sandbox (`mount_launcher_root.rs`): makes its copy of the host's
//!   mounts private, clones every source into a detached tree with its final options
//!   (read-only where asked, `nosuid`, `nodev` unless a device), checking that a source
//!   the host pinned by descriptor is still the pinned directory, attaches the trees and
//!   new file systems (`/dev`, `/proc`, tmpfs) in order under the new root, never
//!   following a symlink to a destination, pivots into it and detaches the host's root;
//!   then moves into a nested user namespace with the requested ids (as bubblewrap does
//!   where it mounts a `devpts`), gives up every capability and sets
//!   no-new-privileges, forks the command and reaps until the command ends (its end ends
//!   the sandbox, as bubblewrap's does);
//! - the **command** (`mount_launcher_exec.rs`): a new session, the cwd, the seccomp
//!   programs, then `execve`. It inherits what the host passed on, as under bubblewrap;
//!   the launcher's own descriptors (reports, arguments, pinned sources, seccomp
//!   programs) are closed or close-on-exec.
//!
//! Any failure before the command runs ends the launch with a message on stderr (worded
//! as bubblewrap's) and exit status 1 and no `exit-code` report, as bubblewrap does, so a
//! host tells the two apart the same way.

use std::ffi::OsString;
use std::io::Read;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::fd::FromRawFd;
use std::os::fd::OwnedFd;
use std::os::fd::RawFd;

use crate::launch_plan::LaunchPlan;
use crate::launch_plan::MountOp;
use crate::mount_api;

/// The launcher's executable name: a host finds it next to its own executable.
pub const MOUNT_LAUNCHER_NAME: &str = "codex-sandbox-launcher";

/// The launcher's `main`: runs the launch its arguments describe; never returns.
pub fn run_mount_launcher() -> ! {
    // Rust's runtime ignores SIGPIPE; the command must get the default, as under
    // bubblewrap (an ignored signal stays ignored across `execve`).
    // SAFETY: signal with a plain disposition, before any other thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let plan = match crate::launch_plan::parse(argv, &mut read_fd) {
        Ok(plan) => plan,
        Err(message) => die(&message),
    };
    let own = crate::launcher_build::launcher_build();
    if plan.build.as_deref() != Some(std::ffi::OsStr::new(&own)) {
        die(&format!(
            "built from other sources than the host that started it (this launcher is build \
             {own}, the host asked for {}): install both from the same build",
            plan.build
                .as_deref()
                .map_or("none".into(), |build| build.to_string_lossy())
        ));
    }
    if plan.seccomp_fds.is_empty() {
        // The filter is what refuses a nested user namespace, among others.
        die("every sandbox needs a seccomp program (--add-seccomp-fd)");
    }
    match monitor(plan) {
        Ok(never) => match never {},
        Err(message) => die(&message),
    }
}

fn monitor(mut plan: LaunchPlan) -> Result<std::convert::Infallible, String> {
    let (uid, gid) = requested_ids(&plan);
    (plan.uid, plan.gid) = (Some(uid), Some(gid));
    if plan.die_with_parent {
        // SAFETY: prctl with plain integer arguments.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    }
    // The reports' descriptor is the monitor's alone: close-on-exec, so that the command
    // never holds it (everything else the host passed on reaches the command, as with
    // bubblewrap).
    let status_fd = match plan.status_fd {
        // SAFETY: F_SETFD on a descriptor number; a bad one fails with EBADF.
        Some(fd) if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } != 0 => {
            return Err(format!(
                "--json-status-fd {fd}: {}",
                std::io::Error::last_os_error()
            ));
        }
        other => other,
    };
    let (sync_read, sync_write) =
        crate::launcher::cloexec_pipe().map_err(|err| format!("pipe: {err}"))?;
    let (result_read, result_write) =
        crate::launcher::cloexec_pipe().map_err(|err| format!("pipe: {err}"))?;
    let mut flags = libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWIPC
        | libc::SIGCHLD;
    if plan.unshare_net {
        flags |= libc::CLONE_NEWNET;
    }
    // SAFETY: clone without CLONE_VM and without a stack of its own behaves as fork; this
    // process has one thread, so the child may allocate.
    let child = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags,
            /*stack*/ 0usize,
            /*parent_tid*/ 0usize,
            /*child_tid*/ 0usize,
            /*tls*/ 0usize,
        )
    };
    if child < 0 {
        return Err(format!("clone: {}", std::io::Error::last_os_error()));
    }
    if child == 0 {
        drop((sync_write, result_read));
        if let Some(fd) = status_fd {
            // The reports are the monitor's alone.
            // SAFETY: this process's copy of a descriptor it inherited and never uses.
            unsafe { libc::close(fd) };
        }
        sandbox_init(&plan, sync_read, result_write);
    }
    let child = child as libc::pid_t;
    drop((sync_read, result_write));
    if let Err(message) = map_ids(child, &plan) {
        // SAFETY: kill of the child we just made.
        unsafe { libc::kill(child, libc::SIGKILL) };
        return Err(message);
    }
    let mut status_out = status_fd.map(|fd| {
        // SAFETY: the host handed this descriptor over for the reports.
        std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) })
    });
    if let Some(out) = status_out.as_mut() {
        let _ = writeln!(out, "{{ \"child-pid\": {child} }}");
    }
    // Go: the ids are mapped. The pipe then stays open as long as this process lives:
    // PID 1 sees it close if this process died before PID 1's death signal was armed.
    let mut lifeline = std::fs::File::from(sync_write);
    lifeline
        .write_all(b"x")
        .map_err(|err| format!("cannot start the sandbox: {err}"))?;
    let status = wait_for(child);
    let mut result = [0u8; 4];
    let ran = std::fs::File::from(result_read)
        .read_exact(&mut result)
        .is_ok();
    if ran {
        let code = i32::from_ne_bytes(result);
        if let Some(out) = status_out.as_mut() {
            let _ = writeln!(out, "{{ \"exit-code\": {code} }}");
        }
        std::process::exit(code);
    }
    std::process::exit(exit_code(status));
}

/// The ids the sandbox's first user namespace maps the caller's ids to, as bubblewrap
/// chooses them: root where the sandbox mounts a `devpts` (which wants root mapped; the
/// requested ids then come with a nested user namespace, see [`enter_requested_ids`]),
/// else the requested ids (by default the caller's).
fn first_ids(plan: &LaunchPlan) -> (u32, u32) {
    if plan
        .mounts
        .iter()
        .any(|op| matches!(op, MountOp::Dev { .. }))
    {
        (0, 0)
    } else {
        requested_ids(plan)
    }
}

/// The ids the command runs with: `--uid` and `--gid`, by default the caller's (filled
/// in by the monitor, before the sandbox's namespaces change what `getuid` says).
fn requested_ids(plan: &LaunchPlan) -> (u32, u32) {
    // SAFETY: getuid and getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    (plan.uid.unwrap_or(uid), plan.gid.unwrap_or(gid))
}

/// Writes the maps of the user namespace of the process whose `/proc/PID` directory is
/// `process`: `inside` to `outside`, one id each, and `setgroups` denied.
fn write_maps(
    process: &OwnedFd,
    (uid, gid): (u32, u32),
    (outside_uid, outside_gid): (u32, u32),
) -> Result<(), String> {
    let write = |file: &std::ffi::CStr, text: String| {
        let fail = |err: std::io::Error| format!("cannot write {}: {err}", file.to_string_lossy());
        // SAFETY: openat with a descriptor we own and a static name.
        let fd = unsafe {
            libc::openat(
                process.as_raw_fd(),
                file.as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(fail(std::io::Error::last_os_error()));
        }
        // SAFETY: a fresh descriptor owned by nobody else.
        std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) })
            .write_all(text.as_bytes())
            .map_err(fail)
    };
    write(c"uid_map", format!("{uid} {outside_uid} 1"))?;
    write(c"setgroups", "deny".to_string())?;
    write(c"gid_map", format!("{gid} {outside_gid} 1"))
}

fn map_ids(child: libc::pid_t, plan: &LaunchPlan) -> Result<(), String> {
    // SAFETY: getuid and getgid cannot fail.
    let caller = unsafe { (libc::getuid(), libc::getgid()) };
    let process =
        mount_api::c_path(format!("/proc/{child}").as_bytes()).map_err(|err| err.to_string())?;
    let process = crate::mount_launcher_root::open_path(&process)?;
    write_maps(&process, first_ids(plan), caller)
}

/// Once the file system is built (no mount permission is needed any more), moves into a
/// nested user namespace with the requested ids if the first one mapped others, as
/// bubblewrap does: the command's user namespace then does not own its mounts either.
fn enter_requested_ids(plan: &LaunchPlan, this_process: &OwnedFd) -> Result<(), String> {
    let first = first_ids(plan);
    let requested = requested_ids(plan);
    if requested == first {
        return Ok(());
    }
    // SAFETY: unshare takes plain flags; this process has one thread.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        return Err(format!(
            "cannot make a user namespace: {}",
            std::io::Error::last_os_error()
        ));
    }
    write_maps(this_process, requested, first)
}

fn wait_for(pid: libc::pid_t) -> libc::c_int {
    let mut status = 0;
    // SAFETY: waitpid writes the status into the integer we own.
    while unsafe {
        libc::waitpid(pid, &mut status, /*options*/ 0)
    } < 0
    {
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 1 << 8;
        }
    }
    status
}

fn exit_code(status: libc::c_int) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        1
    }
}

/// PID 1 of the sandbox.
fn sandbox_init(plan: &LaunchPlan, sync: OwnedFd, result: OwnedFd) -> ! {
    if plan.die_with_parent {
        // First: the monitor may die at any moment from here on.
        // SAFETY: prctl with plain integer arguments.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    }
    let mut sync = std::fs::File::from(sync);
    let mut go = [0u8; 1];
    if sync.read_exact(&mut go).is_err() || monitor_gone(&sync) {
        // The monitor is gone (perhaps before the death signal was armed, which then
        // never comes), or could not map the ids.
        // SAFETY: _exit ends this process only.
        unsafe { libc::_exit(1) };
    }
    drop(sync);
    let built = crate::mount_launcher_root::build_root(plan)
        .and_then(|this_process| enter_requested_ids(plan, &this_process))
        .and_then(|()| crate::mount_launcher_exec::drop_privileges());
    if let Err(message) = built {
        die(&message);
    }
    crate::mount_launcher_exec::run_command(plan, result)
}

/// Whether the monitor's end of `lifeline` is closed (it exited): checked once PID 1's
/// death signal is armed, which covers everything after.
fn monitor_gone(lifeline: &std::fs::File) -> bool {
    let mut poll = libc::pollfd {
        fd: lifeline.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll reads and writes the one pollfd we pass.
    let ready = unsafe {
        libc::poll(&mut poll, /*nfds*/ 1, /*timeout*/ 0)
    };
    ready != 0 && poll.revents & (libc::POLLHUP | libc::POLLERR) != 0
}

/// Reads an `--args` descriptor to its end.
fn read_fd(fd: RawFd) -> std::io::Result<Vec<u8>> {
    // SAFETY: the host handed this descriptor over for the arguments; it is ours now.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Ends the launch before the command ran: the message on stderr, worded as
/// bubblewrap's (`NAME: what: strerror`), and exit status 1.
pub(crate) fn die(message: &str) -> ! {
    say(message);
    // SAFETY: _exit ends this process without running anything else.
    unsafe { libc::_exit(1) }
}

/// Whether this process starts sandboxes with the mount launcher (see
/// [`enable_mount_launcher`]).
static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes later sandboxes of this process start with [`MOUNT_LAUNCHER_NAME`] next to its
/// executable, where it is usable (see `mount_launcher_for_this_process`), rather than
/// with bubblewrap. A host opts in (the exec-server does, unless told
/// `--sandbox-launcher bubblewrap`): the launcher must come from the same build as the
/// host, which only the host's installation can promise.
pub fn enable_mount_launcher() {
    ENABLED.store(/*val*/ true, std::sync::atomic::Ordering::Relaxed);
}

/// The mount launcher for this process's sandboxes, if it was enabled: found once,
/// as [`MOUNT_LAUNCHER_NAME`] next to this process's executable, if the kernel has the
/// calls it makes (Linux 5.12), only root can change it or any directory above it
/// (checked as bubblewrap is; see [`crate::TrustedBwrap`]), and it builds a sandbox here
/// ([`trial_run`]: where user namespaces may not mount, as under Ubuntu's AppArmor
/// restriction, bubblewrap may still, by a profile of its own). Otherwise sandboxes start with
/// bubblewrap, which builds the same sandbox, more slowly.
pub(crate) fn mount_launcher_for_this_process() -> Option<&'static crate::TrustedBwrap> {
    use std::sync::atomic::Ordering;
    /// The launcher once its trial run succeeded.
    static USABLE: std::sync::OnceLock<crate::TrustedBwrap> = std::sync::OnceLock::new();
    /// Set for good once the launcher cannot be used here (missing, untrusted, refused
    /// by the kernel).
    static REFUSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !ENABLED.load(Ordering::Relaxed) {
        return None;
    }
    if let Some(launcher) = USABLE.get() {
        return Some(launcher);
    }
    if REFUSED.load(Ordering::Relaxed) {
        return None;
    }
    let refuse = |message: String| {
        tracing::warn!("{message}; sandboxes start with bubblewrap");
        REFUSED.store(/*val*/ true, Ordering::Relaxed);
        None
    };
    if let Err(err) = mount_api::check_kernel() {
        return refuse(format!(
            "this kernel lacks the mount calls {MOUNT_LAUNCHER_NAME} needs ({err})"
        ));
    }
    let Some(path) = std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name(MOUNT_LAUNCHER_NAME))
        .filter(|path| path.exists())
    else {
        tracing::debug!(
            "no {MOUNT_LAUNCHER_NAME} next to this executable: sandboxes start with bubblewrap"
        );
        REFUSED.store(/*val*/ true, Ordering::Relaxed);
        return None;
    };
    let trusted = match crate::TrustedBwrap::locate(Some(&path), /*path_env*/ None) {
        Ok(trusted) => trusted,
        Err(err) => return refuse(format!("not using {}: {err}", path.display())),
    };
    match trial_run(trusted.path()) {
        Ok(()) => Some(USABLE.get_or_init(|| trusted)),
        // The kernel refused what every sandbox needs (mounting in a user namespace, as
        // under Ubuntu's AppArmor restriction): for good.
        Err(TrialFailure::Refused(message)) => {
            refuse(format!("not using {}: {message}", path.display()))
        }
        // Anything else (no process id left, say) may pass: this start takes bubblewrap,
        // the next tries again, so no command can switch the launcher off for good.
        Err(TrialFailure::Other(message)) => {
            tracing::warn!(
                "{} failed its trial run ({message}); this sandbox starts with bubblewrap",
                path.display()
            );
            None
        }
    }
}

/// Why a trial run failed.
enum TrialFailure {
    /// The kernel refused a namespace or a mount (`EPERM`, `EACCES`).
    Refused(String),
    Other(String),
}

/// Writes `message` on stderr as bubblewrap words its own (`NAME: what: strerror`).
pub(crate) fn say(message: &str) {
    let message = without_os_error_numbers(message);
    let _ = writeln!(std::io::stderr(), "{MOUNT_LAUNCHER_NAME}: {message}");
}

/// `message` without the ` (os error N)` that Rust adds to each system error.
fn without_os_error_numbers(message: &str) -> String {
    let mut rest = message;
    let mut out = String::with_capacity(message.len());
    while let Some(start) = rest.find(" (os error ") {
        let Some(len) = rest[start..].find(')') else {
            break;
        };
        out.push_str(&rest[..start]);
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

/// Runs the launcher once with the namespaces and mounts every sandbox has, to see that it
/// can build one on this host; its message if not.
fn trial_run(launcher: &std::path::Path) -> Result<(), TrialFailure> {
    use std::os::unix::process::CommandExt;

    let other = TrialFailure::Other;
    let programs = crate::host::compiled_programs(/*deny_network*/ true)
        .map_err(|err| other(err.to_string()))?;
    let program = programs
        .first()
        .ok_or_else(|| other("no seccomp program".to_string()))?;
    let memfd = crate::host::sealed_memfd(c"codex-seccomp", program)
        .map_err(|err| other(err.to_string()))?;
    let fd = memfd.as_raw_fd();
    let build = crate::launcher_build::launcher_build();
    let fd_text = fd.to_string();
    let mut command = std::process::Command::new(launcher);
    command
        .args(["--codex-launcher-build", &build])
        .args([
            "--unshare-user",
            "--cap-drop",
            "ALL",
            "--unshare-pid",
            "--unshare-ipc",
        ])
        .args([
            "--unshare-net",
            "--die-with-parent",
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
        ])
        .args(["--add-seccomp-fd", &fd_text, "--", "/bin/sh", "-c", ":"])
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    // SAFETY: inherit_only only calls fcntl and close_range (async-signal-safe).
    unsafe {
        command.pre_exec(move || crate::inherit_only(&[fd]));
    }
    let output = command
        .output()
        .map_err(|err| other(format!("cannot run it: {err}")))?;
    drop(memfd);
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    let message = format!("its trial run failed ({}): {stderr}", output.status);
    if stderr.ends_with("Operation not permitted") || stderr.ends_with("Permission denied") {
        Err(TrialFailure::Refused(message))
    } else {
        Err(TrialFailure::Other(message))
    }
}

#[cfg(test)]
#[path = "mount_launcher_tests.rs"]
mod tests;
