//! The wrapper's side of the protocol, synchronous and std-only (plus `libc`): find the
//! escalation socket, send one request on a private channel, read the reply. See
//! [`crate::protocol`] for the wire format.

use std::io;
use std::io::Read as _;
use std::os::fd::AsFd;
use std::os::fd::BorrowedFd;
use std::os::fd::RawFd;

use crate::protocol::ESCALATE_SOCKET_ENV_VAR;
use crate::protocol::ExecRequest;
use crate::protocol::HANDSHAKE;
use crate::protocol::MAX_REPLY_BYTES;
use crate::protocol::Reply;
use crate::protocol::frame_header;
use crate::sys;
use crate::sys::FdKind;

/// Why the escalation socket named by the environment cannot be used. Each means the
/// wrapper must refuse: nothing can vouch for the program.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The variable is not set (or not valid UTF-8).
    #[error("{ESCALATE_SOCKET_ENV_VAR} is not set")]
    Unset,
    /// The variable is not a descriptor number.
    #[error("{ESCALATE_SOCKET_ENV_VAR}={0:?} is not a descriptor number")]
    NotANumber(String),
    /// No such descriptor is open.
    #[error("descriptor {0} ({ESCALATE_SOCKET_ENV_VAR}) is not open")]
    NotOpen(RawFd),
    /// The descriptor is not a socket.
    #[error("descriptor {0} ({ESCALATE_SOCKET_ENV_VAR}) is not a socket")]
    NotASocket(RawFd),
    /// The descriptor is a socket of another kind than the escalation socket's.
    #[error("descriptor {0} ({ESCALATE_SOCKET_ENV_VAR}) is not a Unix SOCK_SEQPACKET socket")]
    WrongKind(RawFd),
    /// The descriptor could not be examined.
    #[error("descriptor {0} ({ESCALATE_SOCKET_ENV_VAR}) cannot be examined: {1}")]
    Check(RawFd, #[source] io::Error),
}

/// Why a request got no reply.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request could not be encoded.
    #[error("the request cannot be encoded: {0}")]
    Encode(#[source] serde_json::Error),
    /// The private channel could not be made.
    #[error("cannot create a socket pair: {0}")]
    SocketPair(#[source] io::Error),
    /// The handshake could not be sent: no server holds the other end.
    #[error("no escalation server is listening: {0}")]
    NoServer(#[source] io::Error),
    /// The private channel failed.
    #[error("the escalation channel failed: {0}")]
    Channel(#[source] io::Error),
    /// The server closed the channel without replying (it is gone, or refused the
    /// handshake).
    #[error("the escalation server closed the channel without a decision")]
    NoReply,
    /// The reply is larger than [`MAX_REPLY_BYTES`].
    #[error("the escalation server's reply is {0} bytes, more than the limit of {MAX_REPLY_BYTES}")]
    ReplyTooLarge(usize),
    /// The reply is not a [`Reply`].
    #[error("the escalation server's reply is malformed: {0}")]
    MalformedReply(#[source] serde_json::Error),
}

/// The escalation socket named by [`ESCALATE_SOCKET_ENV_VAR`], checked to be an open
/// Unix `SOCK_SEQPACKET` socket.
pub fn socket_from_env() -> Result<BorrowedFd<'static>, SocketError> {
    let value = std::env::var(ESCALATE_SOCKET_ENV_VAR).map_err(|_| SocketError::Unset)?;
    // Digits only: no sign, no spaces, no leading `+`.
    let fd = if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        value.parse::<RawFd>().ok()
    } else {
        None
    };
    let fd = fd.ok_or(SocketError::NotANumber(value))?;
    match sys::fd_kind(fd) {
        Ok(FdKind::Closed) => Err(SocketError::NotOpen(fd)),
        Ok(FdKind::NotSocket) => Err(SocketError::NotASocket(fd)),
        Ok(FdKind::Socket { domain, kind })
            if domain == libc::AF_UNIX && kind == libc::SOCK_SEQPACKET =>
        {
            // SAFETY: the descriptor is open (just checked) and, inherited by this
            // process for its whole life, is never closed by it.
            Ok(unsafe { BorrowedFd::borrow_raw(fd) })
        }
        Ok(FdKind::Socket { .. }) => Err(SocketError::WrongKind(fd)),
        Err(err) => Err(SocketError::Check(fd, err)),
    }
}

/// Sends `request` with `stdio` (stdin, stdout, stderr) over a new private channel
/// handed to the server on `socket`, and waits for the reply (for an escalated program,
/// until it has ended).
pub fn request(
    socket: BorrowedFd<'_>,
    request: &ExecRequest,
    stdio: [BorrowedFd<'_>; 3],
) -> Result<Reply, ClientError> {
    // The frame in one buffer: one `sendmsg` usually carries all of it, so the server
    // finds the whole request on its first read.
    let mut frame = vec![0u8; 4];
    serde_json::to_writer(&mut frame, request).map_err(ClientError::Encode)?;
    let header = frame_header(frame.len() - 4).map_err(ClientError::Channel)?;
    frame[..4].copy_from_slice(&header);
    let (mine, theirs) = sys::socketpair(libc::SOCK_STREAM).map_err(ClientError::SocketPair)?;
    send_handshake(socket, theirs.as_fd()).map_err(ClientError::NoServer)?;
    drop(theirs);
    match send_request(mine.as_fd(), &frame, stdio) {
        Ok(()) => {}
        // The server may have answered (a refusal) and closed before reading it all;
        // the reply is still there to read.
        Err(err)
            if matches!(
                err.raw_os_error(),
                Some(libc::EPIPE) | Some(libc::ECONNRESET)
            ) => {}
        Err(err) => return Err(ClientError::Channel(err)),
    }
    read_reply(std::os::unix::net::UnixStream::from(mine))
}

fn send_handshake(socket: BorrowedFd<'_>, channel: BorrowedFd<'_>) -> io::Result<()> {
    loop {
        match sys::send_with_fds(socket, &HANDSHAKE, &[channel], /*flags*/ 0) {
            Ok(_) => return Ok(()),
            // Someone made the shared socket non-blocking; wait for room.
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => sys::wait_writable(socket)?,
            Err(err) => return Err(err),
        }
    }
}

/// Sends `frame` with `stdio` attached to its first bytes.
fn send_request(
    channel: BorrowedFd<'_>,
    frame: &[u8],
    stdio: [BorrowedFd<'_>; 3],
) -> io::Result<()> {
    let sent = sys::send_with_fds(channel, frame, &stdio, /*flags*/ 0)?;
    sys::send_all(channel, &frame[sent..])
}

fn read_reply(mut channel: std::os::unix::net::UnixStream) -> Result<Reply, ClientError> {
    let mut header = [0u8; 4];
    read_exact(&mut channel, &mut header)?;
    let len = u32::from_le_bytes(header) as usize;
    if len > MAX_REPLY_BYTES {
        return Err(ClientError::ReplyTooLarge(len));
    }
    let mut body = vec![0u8; len];
    read_exact(&mut channel, &mut body)?;
    serde_json::from_slice(&body).map_err(ClientError::MalformedReply)
}

fn read_exact(
    channel: &mut std::os::unix::net::UnixStream,
    buf: &mut [u8],
) -> Result<(), ClientError> {
    channel.read_exact(buf).map_err(|err| match err.kind() {
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => ClientError::NoReply,
        _ => ClientError::Channel(err),
    })
}
