//! Hand-made protocol traffic (with `libc`), for what the real wrapper never sends:
//! malformed handshakes and requests.

use std::io::Read as _;
use std::os::fd::AsRawFd;
use std::os::fd::BorrowedFd;
use std::os::fd::FromRawFd;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

/// A `socketpair(AF_UNIX, SOCK_SEQPACKET)`, both ends close-on-exec.
pub fn seqpacket_pair() -> (OwnedFd, OwnedFd) {
    let mut fds = [-1; 2];
    let result = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            /*protocol*/ 0,
            fds.as_mut_ptr(),
        )
    };
    assert_eq!(result, 0, "socketpair: {}", std::io::Error::last_os_error());
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// One `sendmsg` of `data` with `fds` attached; the bytes sent.
pub fn send_with_fds(
    socket: BorrowedFd<'_>,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
) -> std::io::Result<usize> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    let mut control = [0u64; 16];
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        let payload = (fds.len() * std::mem::size_of::<libc::c_int>()) as libc::c_uint;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(payload) } as _;
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
    let sent = unsafe { libc::sendmsg(socket.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    if sent < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(sent as usize)
}

/// Sends a well-formed handshake on `socket` and returns the wrapper's end of the new
/// private channel.
pub fn open_channel(socket: BorrowedFd<'_>) -> UnixStream {
    let (mine, theirs) = UnixStream::pair().unwrap();
    send_with_fds(socket, b"CXE1", &[std::os::fd::AsFd::as_fd(&theirs)]).unwrap();
    mine
}

/// Sends a request frame: the length (with `stdio` attached) and `body` (as much of it
/// as the server reads).
pub fn send_request(channel: &UnixStream, body: &[u8], stdio: &[BorrowedFd<'_>]) {
    let header = (body.len() as u32).to_le_bytes();
    let fd = std::os::fd::AsFd::as_fd(channel);
    assert_eq!(send_with_fds(fd, &header, stdio).unwrap(), 4);
    let mut rest = body;
    while !rest.is_empty() {
        match send_with_fds(fd, rest, &[]) {
            Ok(sent) => rest = &rest[sent..],
            // The server refused from the header alone and closed; its reply is there.
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => return,
            Err(err) => panic!("send the request: {err}"),
        }
    }
}

/// The reply on `channel`: its JSON, or `None` if the server closed it without one.
pub fn read_reply(mut channel: &UnixStream) -> Option<serde_json::Value> {
    let mut header = [0u8; 4];
    if channel.read_exact(&mut header).is_err() {
        return None;
    }
    let mut body = vec![0u8; u32::from_le_bytes(header) as usize];
    channel.read_exact(&mut body).unwrap();
    Some(serde_json::from_slice(&body).unwrap())
}

/// Three descriptors to pass as a request's stdio: `/dev/null`.
pub fn null_stdio() -> [OwnedFd; 3] {
    let open = || -> OwnedFd {
        std::fs::OpenOptions::new()
            .read(/*read*/ true)
            .write(/*write*/ true)
            .open("/dev/null")
            .unwrap()
            .into()
    };
    [open(), open(), open()]
}
