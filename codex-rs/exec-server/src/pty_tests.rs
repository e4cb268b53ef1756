use std::os::fd::AsFd;
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

/// The window size the terminal reports on `fd` (`TIOCGWINSZ`), as `(rows, cols)`.
fn window_size(fd: &OwnedFd) -> (u16, u16) {
    let mut winsize = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we own.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut winsize) };
    assert_eq!(rc, 0, "TIOCGWINSZ: {}", std::io::Error::last_os_error());
    (winsize.ws_row, winsize.ws_col)
}

#[test]
fn both_ends_are_close_on_exec_terminals_of_the_default_size() {
    let pty = open_pty(PtySize::DEFAULT).unwrap();

    assert_eq!(
        (
            describe(&pty.master),
            describe(&pty.slave),
            window_size(&pty.slave),
        ),
        ((true, true), (true, true), (24, 80))
    );
}

#[test]
fn the_size_is_set_at_open_and_changed_through_the_master() {
    let pty = open_pty(PtySize {
        rows: 30,
        cols: 100,
    })
    .unwrap();
    let opened = window_size(&pty.slave);

    set_window_size(
        pty.master.as_fd(),
        PtySize {
            rows: 40,
            cols: 120,
        },
    )
    .unwrap();

    assert_eq!((opened, window_size(&pty.slave)), ((30, 100), (40, 120)));
}

/// A fresh terminal is in canonical mode with `^D` as `VEOF`: one `^D` after a finished
/// line (or nothing), two after an unfinished one; in raw mode always one.
#[test]
fn end_of_input_is_one_veof_on_an_empty_line_and_two_after_unfinished_input() {
    let pty = open_pty(PtySize::DEFAULT).unwrap();
    let canonical = [None, Some(b'\n'), Some(b'\r'), Some(b'x'), Some(0x04)]
        .map(|last| end_of_input(pty.master.as_fd(), last));
    // SAFETY: a zeroed termios is a valid value; tcgetattr and tcsetattr read and write
    // the one we own, on a descriptor we own.
    unsafe {
        let mut termios: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(pty.slave.as_raw_fd(), &mut termios), 0);
        libc::cfmakeraw(&mut termios);
        assert_eq!(
            libc::tcsetattr(pty.slave.as_raw_fd(), libc::TCSANOW, &termios),
            0
        );
    }
    let raw = end_of_input(pty.master.as_fd(), Some(b'x'));

    assert_eq!(
        (canonical.to_vec(), raw),
        (
            vec![
                vec![0x04],
                vec![0x04],
                vec![0x04],
                vec![0x04, 0x04],
                vec![0x04],
            ],
            vec![0x04]
        )
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
