use std::os::fd::AsFd;
use std::os::fd::AsRawFd;

use pretty_assertions::assert_eq;

use super::*;

#[test]
fn socketpair_ends_are_close_on_exec() {
    let (a, b) = socketpair(libc::SOCK_STREAM).unwrap();
    for fd in [&a, &b] {
        // SAFETY: F_GETFD on a descriptor we own.
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    }
    clear_cloexec(a.as_raw_fd()).unwrap();
    // SAFETY: as above.
    let flags = unsafe { libc::fcntl(a.as_raw_fd(), libc::F_GETFD) };
    assert_eq!(flags & libc::FD_CLOEXEC, 0);
}

#[test]
fn fd_kind_tells_sockets_files_and_closed_descriptors_apart() {
    let (stream, _peer) = socketpair(libc::SOCK_STREAM).unwrap();
    let (packet, _packet_peer) = socketpair(libc::SOCK_SEQPACKET).unwrap();
    let file: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();

    assert_eq!(
        fd_kind(stream.as_raw_fd()).unwrap(),
        FdKind::Socket {
            domain: libc::AF_UNIX,
            kind: libc::SOCK_STREAM
        }
    );
    assert!(is_unix_socket(packet.as_fd(), libc::SOCK_SEQPACKET));
    assert!(!is_unix_socket(packet.as_fd(), libc::SOCK_STREAM));
    assert_eq!(fd_kind(file.as_raw_fd()).unwrap(), FdKind::NotSocket);
    assert!(!is_unix_socket(file.as_fd(), libc::SOCK_STREAM));
    let closed = file.as_raw_fd();
    drop(file);
    assert_eq!(fd_kind(closed).unwrap(), FdKind::Closed);
    assert!(!fd_is_open(closed));
}

#[test]
fn descriptors_travel_with_a_packet() {
    let (a, b) = socketpair(libc::SOCK_SEQPACKET).unwrap();
    let (x, y) = socketpair(libc::SOCK_STREAM).unwrap();

    assert_eq!(
        send_with_fds(
            a.as_fd(),
            b"CXE1",
            &[x.as_fd(), y.as_fd()],
            /*flags*/ 0
        )
        .unwrap(),
        4
    );
    let mut buf = [0u8; 8];
    let received = recv_with_fds(b.as_fd(), &mut buf, /*flags*/ 0).unwrap();

    assert_eq!(&buf[..received.len], b"CXE1");
    assert_eq!(received.fds.len(), 2);
    assert!(!received.truncated && !received.fds_truncated);
    // The received copies are new descriptors for the same sockets, close-on-exec.
    for fd in &received.fds {
        assert!(is_unix_socket(fd.as_fd(), libc::SOCK_STREAM));
        // SAFETY: F_GETFD on a descriptor we own.
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    }
}

#[test]
fn a_long_packet_is_reported_truncated_and_too_many_descriptors_refused() {
    let (a, b) = socketpair(libc::SOCK_SEQPACKET).unwrap();
    send_with_fds(a.as_fd(), b"longer than the buffer", &[], /*flags*/ 0).unwrap();
    let mut buf = [0u8; 4];
    let received = recv_with_fds(b.as_fd(), &mut buf, /*flags*/ 0).unwrap();
    assert!(received.truncated);

    let fds: Vec<OwnedFd> = (0..=MAX_FDS_PER_MESSAGE)
        .map(|_| std::fs::File::open("/dev/null").unwrap().into())
        .collect();
    let borrowed: Vec<_> = fds.iter().map(AsFd::as_fd).collect();
    let err = send_with_fds(a.as_fd(), b"x", &borrowed, /*flags*/ 0).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn a_closed_peer_is_a_hang_up_and_an_error_to_send_to() {
    let (a, b) = socketpair(libc::SOCK_SEQPACKET).unwrap();
    assert!(!peer_hung_up(a.as_fd()));
    drop(b);
    assert!(peer_hung_up(a.as_fd()));
    let err = send_with_fds(a.as_fd(), b"CXE1", &[], /*flags*/ 0).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPIPE));
}

#[test]
fn send_all_writes_everything_a_stream_takes() {
    let (a, b) = socketpair(libc::SOCK_STREAM).unwrap();
    let data = vec![7u8; 300_000];
    let writer = std::thread::spawn(move || send_all(a.as_fd(), &data));
    let mut read = Vec::new();
    std::io::Read::read_to_end(&mut std::fs::File::from(b), &mut read).unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(read.len(), 300_000);
}
