//! Pseudo-terminal allocation with libc, so a `tty: true` process sees a real terminal
//! (`isatty` true) without pulling in a PTY crate that needs a C toolchain.
//!
//! Both ends are created close-on-exec in the same call that creates them: another
//! thread may fork or `posix_spawn` another command at any moment, and a descriptor that
//! is made close-on-exec only afterwards (as `openpty(3)` leaves it) would leak into that
//! command, which could then read and write this command's terminal.

use std::io;
use std::os::fd::AsRawFd;
use std::os::fd::BorrowedFd;
use std::os::fd::FromRawFd;
use std::os::fd::OwnedFd;

use crate::protocol::PtySize;

/// The two ends of a fresh pseudo-terminal.
pub(crate) struct Pty {
    pub(crate) master: OwnedFd,
    pub(crate) slave: OwnedFd,
}

/// `size` as the kernel's `winsize`.
fn winsize(size: PtySize) -> libc::winsize {
    libc::winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// A new terminal pair, both ends close-on-exec from the start, with the window size
/// `size` set on the slave.
pub(crate) fn open_pty(size: PtySize) -> io::Result<Pty> {
    let mut winsize = winsize(size);
    let (master, slave) = open_pair(&mut winsize)?;
    Ok(Pty { master, slave })
}

/// Sets the window size of the terminal whose master is `master` (`TIOCSWINSZ`). When the
/// size changes, the kernel sends `SIGWINCH` to the terminal's foreground process group.
pub(crate) fn set_window_size(master: BorrowedFd<'_>, size: PtySize) -> io::Result<()> {
    let winsize = winsize(size);
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which outlives the call.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &winsize) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `^D`: the end-of-file character of a terminal whose settings cannot be read, or whose
/// `VEOF` is disabled.
const CONTROL_D: u8 = 0x04;

/// What to write to the master of a terminal (`master`) so that the program reading it
/// sees end-of-file, as if a person pressed `^D` at the right place; `last_written` is the
/// last byte written to it so far, if any.
///
/// That is the terminal's `VEOF` character (`^D` if it is disabled or the settings cannot
/// be read): once, or twice when the terminal is in canonical mode (`ICANON`) and the
/// last byte written did not end a line. The first then hands the unfinished line to the
/// reader, and only the second, on an empty line, reads as end-of-file. Outside canonical
/// mode the program gets the character itself and decides (a `readline` prompt ends on it
/// when its line is empty).
pub(crate) fn end_of_input(master: BorrowedFd<'_>, last_written: Option<u8>) -> Vec<u8> {
    // SAFETY: a zeroed termios is a valid value of this plain C struct.
    let mut termios: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: tcgetattr writes one termios into the struct we own. On the master it reports
    // the settings of the terminal (the slave's line discipline).
    if unsafe { libc::tcgetattr(master.as_raw_fd(), &mut termios) } != 0 {
        return vec![CONTROL_D];
    }
    let special = |index: usize| Some(termios.c_cc[index]).filter(|&c| c != libc::_POSIX_VDISABLE);
    let eof = special(libc::VEOF).unwrap_or(CONTROL_D);
    if termios.c_lflag & libc::ICANON == 0 {
        return vec![eof];
    }
    let carriage_return_ends_line =
        termios.c_iflag & libc::ICRNL != 0 && termios.c_iflag & libc::IGNCR == 0;
    let ends_line = |byte: u8| {
        byte == b'\n'
            || byte == eof
            || (byte == b'\r' && carriage_return_ends_line)
            || special(libc::VEOL) == Some(byte)
            || special(libc::VEOL2) == Some(byte)
    };
    match last_written {
        Some(byte) if !ends_line(byte) => vec![eof, eof],
        Some(_) | None => vec![eof],
    }
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
