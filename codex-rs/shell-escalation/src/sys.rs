//! The few system calls the protocol needs, over `libc`: socket pairs, `SCM_RIGHTS`
//! messages, descriptor checks. Shared by the synchronous wrapper and the server (which
//! calls the same functions on non-blocking sockets from `try_io`).

use std::io;
use std::os::fd::AsRawFd;
use std::os::fd::BorrowedFd;
use std::os::fd::FromRawFd;
use std::os::fd::OwnedFd;
use std::os::fd::RawFd;

/// The most descriptors one message may carry; a message with more is cut short by the
/// kernel (`MSG_CTRUNC`), and is refused.
pub(crate) const MAX_FDS_PER_MESSAGE: usize = 4;

/// `socketpair(AF_UNIX, kind | SOCK_CLOEXEC)`: both ends close-on-exec, so that no
/// process spawned meanwhile inherits either.
pub(crate) fn socketpair(kind: libc::c_int) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [-1 as libc::c_int; 2];
    // SAFETY: socketpair writes two new descriptors into the array we own.
    let result = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            kind | libc::SOCK_CLOEXEC,
            /*protocol*/ 0,
            fds.as_mut_ptr(),
        )
    };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and belong to nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// What a descriptor is, for the checks on the escalation socket and on the private
/// channel a wrapper sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FdKind {
    /// Not an open descriptor (`EBADF`).
    Closed,
    /// Open, but not a socket (`ENOTSOCK`).
    NotSocket,
    /// A socket of this domain and type (`SOCK_STREAM`, `SOCK_SEQPACKET`, ...).
    Socket {
        domain: libc::c_int,
        kind: libc::c_int,
    },
}

/// What descriptor number `fd` is in this process (it may be anything: the wrapper
/// reads the number from its environment).
pub(crate) fn fd_kind(fd: RawFd) -> io::Result<FdKind> {
    let kind = match socket_option(fd, libc::SO_TYPE) {
        Ok(kind) => kind,
        Err(err) => {
            return match err.raw_os_error() {
                Some(libc::EBADF) => Ok(FdKind::Closed),
                Some(libc::ENOTSOCK) => Ok(FdKind::NotSocket),
                _ => Err(err),
            };
        }
    };
    let domain = socket_option(fd, libc::SO_DOMAIN)?;
    Ok(FdKind::Socket { domain, kind })
}

/// Whether `fd` is an `AF_UNIX` socket of type `kind`.
pub(crate) fn is_unix_socket(fd: BorrowedFd<'_>, kind: libc::c_int) -> bool {
    matches!(
        fd_kind(fd.as_raw_fd()),
        Ok(FdKind::Socket { domain, kind: actual }) if domain == libc::AF_UNIX && actual == kind
    )
}

fn socket_option(fd: RawFd, option: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `value`, which we own.
    let result = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value)
}

/// Whether descriptor number `fd` is open in this process.
pub(crate) fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD on a descriptor number; no memory is involved.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// Clears close-on-exec on `fd`, so that it survives the coming `execve`.
///
/// Only an `fcntl` call: async-signal-safe, so it may run in a `pre_exec` hook.
pub fn clear_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFD/F_SETFD on a descriptor number; no memory is involved.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One `sendmsg` of `data` with `fds` attached (`SCM_RIGHTS`), `MSG_NOSIGNAL` (a peer
/// that is gone is `EPIPE`, not a signal that kills the sender). Returns the bytes sent,
/// which for a stream socket may be fewer than `data.len()`; the descriptors travel
/// with the first of them.
pub(crate) fn send_with_fds(
    socket: BorrowedFd<'_>,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
    flags: libc::c_int,
) -> io::Result<usize> {
    if fds.len() > MAX_FDS_PER_MESSAGE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "too many descriptors for one message",
        ));
    }
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    let mut control = ControlBuffer::new();
    // SAFETY: an all-zero msghdr is a valid empty header; the fields set below point
    // into `iov` and `control`, which outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        let payload = std::mem::size_of_val(fds) as libc::c_uint;
        // SAFETY: CMSG_SPACE is a pure computation.
        let space = unsafe { libc::CMSG_SPACE(payload) } as usize;
        msg.msg_control = control.bytes.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: the control buffer holds CMSG_SPACE(MAX_FDS_PER_MESSAGE ints) >=
        // `space` bytes, aligned for cmsghdr, so the first header and its data fit.
        unsafe {
            let header = libc::CMSG_FIRSTHDR(&msg);
            (*header).cmsg_level = libc::SOL_SOCKET;
            (*header).cmsg_type = libc::SCM_RIGHTS;
            (*header).cmsg_len = libc::CMSG_LEN(payload) as _;
            let data = libc::CMSG_DATA(header).cast::<libc::c_int>();
            for (index, fd) in fds.iter().enumerate() {
                data.add(index).write_unaligned(fd.as_raw_fd());
            }
        }
    }
    loop {
        // SAFETY: `msg` and everything it points to are valid for the call.
        let sent = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, flags | libc::MSG_NOSIGNAL) };
        if sent >= 0 {
            return Ok(sent as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Writes all of `data` with `send(MSG_NOSIGNAL)`, retrying short writes (blocking
/// sockets only).
pub(crate) fn send_all(socket: BorrowedFd<'_>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let sent = send_with_fds(socket, data, &[], /*flags*/ 0)?;
        if sent == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        data = &data[sent..];
    }
    Ok(())
}

/// What one `recvmsg` got.
#[derive(Debug)]
pub(crate) struct Received {
    /// Bytes read; 0 with no descriptors is end of file (or, on a packet socket, an
    /// empty packet).
    pub len: usize,
    /// Descriptors that came with them (close-on-exec), in order.
    pub fds: Vec<OwnedFd>,
    /// The packet was longer than the buffer (`MSG_TRUNC`).
    pub truncated: bool,
    /// More descriptors came than fit (`MSG_CTRUNC`); those are closed by the kernel.
    pub fds_truncated: bool,
}

/// One `recvmsg` into `buf`, accepting up to [`MAX_FDS_PER_MESSAGE`] descriptors
/// (received close-on-exec). Every descriptor received is owned by the result, so
/// none leaks whatever the caller then decides.
pub(crate) fn recv_with_fds(
    socket: BorrowedFd<'_>,
    buf: &mut [u8],
    flags: libc::c_int,
) -> io::Result<Received> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let mut control = ControlBuffer::new();
    // SAFETY: an all-zero msghdr is a valid empty header; the fields set below point
    // into `iov` and `control`, which outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE is a pure computation.
    msg.msg_controllen = unsafe {
        libc::CMSG_SPACE((MAX_FDS_PER_MESSAGE * std::mem::size_of::<libc::c_int>()) as _)
    } as _;
    let len = loop {
        // SAFETY: `msg` and everything it points to are valid for the call.
        let len =
            unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, flags | libc::MSG_CMSG_CLOEXEC) };
        if len >= 0 {
            break len as usize;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    };
    let mut fds = Vec::new();
    // SAFETY: the kernel filled `msg_control`/`msg_controllen`; CMSG_FIRSTHDR and
    // CMSG_NXTHDR walk only within them, and each SCM_RIGHTS payload holds
    // `(cmsg_len - CMSG_LEN(0)) / sizeof(int)` descriptors now owned by this process.
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(&msg);
        while !header.is_null() {
            if (*header).cmsg_level == libc::SOL_SOCKET && (*header).cmsg_type == libc::SCM_RIGHTS {
                let payload = (*header).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let count = payload / std::mem::size_of::<libc::c_int>();
                let data = libc::CMSG_DATA(header).cast::<libc::c_int>();
                for index in 0..count {
                    fds.push(OwnedFd::from_raw_fd(data.add(index).read_unaligned()));
                }
            }
            header = libc::CMSG_NXTHDR(&msg, header);
        }
    }
    Ok(Received {
        len,
        fds,
        truncated: msg.msg_flags & libc::MSG_TRUNC != 0,
        fds_truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
    })
}

/// Whether the peer of `socket` has gone (`POLLHUP`/`POLLRDHUP` with nothing left to
/// read decides it; used to tell end of file from an empty packet).
pub(crate) fn peer_hung_up(socket: BorrowedFd<'_>) -> bool {
    let mut poll = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLIN | libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: poll reads and writes the one pollfd we own; a zero timeout never blocks.
    let ready = unsafe {
        libc::poll(&mut poll, /*nfds*/ 1, /*timeout*/ 0)
    };
    ready > 0 && poll.revents & (libc::POLLHUP | libc::POLLRDHUP) != 0
}

/// Blocks until `socket` can be written to (or has failed: the next write says how).
pub(crate) fn wait_writable(socket: BorrowedFd<'_>) -> io::Result<()> {
    let mut poll = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    loop {
        // SAFETY: poll reads and writes the one pollfd we own.
        if unsafe {
            libc::poll(&mut poll, /*nfds*/ 1, /*timeout*/ -1)
        } >= 0
        {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// A control-message buffer for up to [`MAX_FDS_PER_MESSAGE`] descriptors, aligned for
/// `cmsghdr`.
#[repr(C, align(8))]
struct ControlBuffer {
    bytes: [u8; 64],
}

impl ControlBuffer {
    fn new() -> Self {
        const {
            // CMSG_SPACE(4 ints) is 16 + 16 on 64-bit Linux; keep room to spare.
            assert!(
                std::mem::size_of::<libc::cmsghdr>() + MAX_FDS_PER_MESSAGE * 4 + 8 <= 64,
                "control buffer too small"
            );
        }
        Self { bytes: [0; 64] }
    }
}

#[cfg(test)]
#[path = "sys_tests.rs"]
mod tests;
