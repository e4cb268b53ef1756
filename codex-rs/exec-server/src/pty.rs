//! Pseudo-terminal allocation with libc, so a `tty: true` process sees a real terminal
//! (`isatty` true) without pulling in a PTY crate that needs a C toolchain.
//!
//! Both ends are created close-on-exec in the same call that creates them: another
//! thread may fork or `posix_spawn` another command at any moment, and a descriptor that
//! is made close-on-exec only afterwards (as `openpty(3)` leaves it) would leak into that
//! command, which could then read and write this command's terminal.

use std::io;
use std::os::fd::AsRawFd;
use std::os::fd::FromRawFd;
use std::os::fd::OwnedFd;

/// The two ends of a fresh pseudo-terminal.
pub(crate) struct Pty {
    pub(crate) master: OwnedFd,
    pub(crate) slave: OwnedFd,
}

const DEFAULT_ROWS: u16 = 24;
const DEFAULT_COLS: u16 = 80;

/// A new terminal pair, both ends close-on-exec from the start, with the default window
/// size set on the slave.
pub(crate) fn open_pty() -> io::Result<Pty> {
    let mut winsize = libc::winsize {
        ws_row: DEFAULT_ROWS,
        ws_col: DEFAULT_COLS,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let (master, slave) = open_pair(&mut winsize)?;
    Ok(Pty { master, slave })
}

/// Flags of both ends: read-write, not our controlling terminal, close-on-exec.
#[cfg(target_os = "linux")]
const PTY_FLAGS: libc::c_int = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;

/// `posix_openpt`, `grantpt`, `unlockpt`, then the peer with `TIOCGPTPEER` (Linux 4.13),
/// or by its name where that ioctl is unknown; every descriptor close-on-exec when created.
/// Then `winsize` is set on the slave, as `openpty(3)` does.
#[cfg(target_os = "linux")]
fn open_pair(winsize: &mut libc::winsize) -> io::Result<(OwnedFd, OwnedFd)> {
    let (master, slave) = open_pair_cloexec()?;
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which outlives the call.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &*winsize) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((master, slave))
}

/// The pair of [`open_pair`], without the window size.
#[cfg(target_os = "linux")]
fn open_pair_cloexec() -> io::Result<(OwnedFd, OwnedFd)> {
    // SAFETY: posix_openpt returns a new descriptor or -1; no memory is involved.
    let master = unsafe { libc::posix_openpt(PTY_FLAGS) };
    if master < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    // SAFETY: grantpt and unlockpt take a descriptor we own; no memory is involved.
    unsafe {
        if libc::grantpt(master.as_raw_fd()) != 0 || libc::unlockpt(master.as_raw_fd()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: TIOCGPTPEER takes the flags as an integer and returns a new descriptor.
    let slave = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, PTY_FLAGS) };
    if slave >= 0 {
        // SAFETY: a fresh descriptor owned by nobody else.
        return Ok((master, unsafe { OwnedFd::from_raw_fd(slave) }));
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EINVAL | libc::ENOTTY) => {
            let slave = open_peer_by_name(&master)?;
            Ok((master, slave))
        }
        _ => Err(err),
    }
}

/// The slave of `master`, opened by its `/dev/pts/N` name (kernels before 4.13).
#[cfg(target_os = "linux")]
fn open_peer_by_name(master: &OwnedFd) -> io::Result<OwnedFd> {
    let mut name = [0 as libc::c_char; 64];
    // SAFETY: ptsname_r writes a NUL-terminated name of at most `name.len()` bytes.
    let rc = unsafe { libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    // SAFETY: ptsname_r succeeded, so `name` holds a NUL-terminated path.
    let slave = unsafe { libc::open(name.as_ptr(), PTY_FLAGS) };
    if slave < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(slave) })
}

/// Elsewhere `openpty(3)` (which also sets `winsize`), then close-on-exec: not atomic,
/// so a command spawned by another thread at that moment may inherit the pair.
#[cfg(not(target_os = "linux"))]
fn open_pair(winsize: &mut libc::winsize) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut master: libc::c_int = -1;
    let mut slave: libc::c_int = -1;
    // SAFETY: openpty writes two fds into the out-params and reads the winsize; a null
    // name and termios are allowed. (`*mut` where some libcs declare `*const`.)
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            winsize,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just returned by openpty and are owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    for fd in [&master, &slave] {
        // SAFETY: fcntl on a valid fd we own.
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
        // SAFETY: as above.
        if flags < 0
            || unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok((master, slave))
}

/// What a terminal child runs between `fork` and `exec` (async-signal-safe: `setsid`,
/// `ioctl`, `close_range`, `fcntl`; nothing allocated): a new session with the slave
/// (already on fd 0) as its controlling terminal, and then, as the child is forked
/// anyway, every descriptor above stderr marked close-on-exec, so it passes on its stdio
/// and nothing else should one have been opened without close-on-exec. That needs
/// `close_range(CLOSE_RANGE_CLOEXEC)` (Linux 5.11), checked here, before the spawn;
/// without it (and off Linux) only the terminal is set up.
pub(crate) fn terminal_child_setup() -> impl FnMut() -> io::Result<()> + Send + Sync + 'static {
    #[cfg(target_os = "linux")]
    let pass_only_stdio = codex_linux_sandbox::check_inherit_only().is_ok();
    move || {
        make_controlling_terminal()?;
        #[cfg(target_os = "linux")]
        if pass_only_stdio {
            codex_linux_sandbox::inherit_only(&[])?;
        }
        Ok(())
    }
}

/// New session, and make the slave (already on fd 0) the controlling terminal.
fn make_controlling_terminal() -> io::Result<()> {
    // SAFETY: async-signal-safe calls between fork and exec.
    unsafe {
        if libc::setsid() < 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::ioctl(/*fd*/ 0, libc::TIOCSCTTY as _, /*steal*/ 0) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "pty_tests.rs"]
mod tests;
