use std::os::fd::AsRawFd;
use std::os::fd::OwnedFd;

use pretty_assertions::assert_eq;

use super::*;

/// `(close-on-exec, is a terminal)` of `fd`.
fn describe(fd: &OwnedFd) -> (bool, bool) {
    // SAFETY: F_GETFD and isatty on a descriptor we own; no memory is involved.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFD);
        (
            flags >= 0 && flags & libc::FD_CLOEXEC != 0,
            libc::isatty(fd.as_raw_fd()) == 1,
        )
    }
}

#[test]
fn both_ends_are_close_on_exec_terminals_of_the_default_size() {
    let pty = open_pty().unwrap();
    let mut winsize = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we own.
    let rc = unsafe { libc::ioctl(pty.slave.as_raw_fd(), libc::TIOCGWINSZ, &mut winsize) };

    assert_eq!(
        (
            describe(&pty.master),
            describe(&pty.slave),
            rc,
            winsize.ws_row,
            winsize.ws_col
        ),
        ((true, true), (true, true), 0, DEFAULT_ROWS, DEFAULT_COLS)
    );
}

/// The fallback for kernels without `TIOCGPTPEER` (before 4.13), which cannot be provoked
/// on a newer one: called directly.
#[cfg(target_os = "linux")]
#[test]
fn the_peer_opened_by_name_is_a_close_on_exec_terminal() {
    let (master, _) = open_pair_cloexec().unwrap();

    let slave = open_peer_by_name(&master).unwrap();

    assert_eq!(describe(&slave), (true, true));
}
