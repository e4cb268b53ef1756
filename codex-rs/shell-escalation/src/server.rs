//! [`EscalationServer`]: the host side of the protocol (see [`crate::protocol`]). It
//! receives private channels on the escalation socket, reads one request from each,
//! asks the session's [`EscalationPolicy`], and answers — running the program itself
//! for [`EscalationDecision::Escalate`].

use std::ffi::OsString;
use std::io;
use std::os::fd::AsFd;
use std::os::fd::AsRawFd;
use std::os::fd::BorrowedFd;
use std::os::fd::OwnedFd;
use std::os::fd::RawFd;
use std::path::Path;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::net::UnixStream;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::task::JoinSet;
use tracing::debug;
use tracing::warn;

use crate::policy::EscalationDecision;
use crate::policy::EscalationPolicy;
use crate::protocol::ESCALATE_SOCKET_ENV_VAR;
use crate::protocol::EXEC_WRAPPER_ENV_VAR;
use crate::protocol::EXECVE_WRAPPER_NAME;
use crate::protocol::ExecRequest;
use crate::protocol::ExitStatus;
use crate::protocol::HANDSHAKE;
use crate::protocol::MAX_ARGS;
use crate::protocol::MAX_REQUEST_BYTES;
use crate::protocol::REFUSED_EXIT_CODE;
use crate::protocol::Reply;
use crate::protocol::frame_header;
use crate::sys;

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum EscalationError {
    /// [`ServerOptions::locate`] found no `codex-execve-wrapper` next to this program.
    #[error("no executable {EXECVE_WRAPPER_NAME} at {path}: {reason}")]
    WrapperNotFound {
        /// Where it was looked for.
        path: PathBuf,
        /// What is wrong with that path.
        reason: String,
    },
    /// The socket pair could not be made or registered with the runtime.
    #[error("the escalation socket could not be set up: {0}")]
    Socket(#[source] io::Error),
    /// [`EscalationServer::start`] was called outside a Tokio runtime.
    #[error("the escalation server must be started inside a Tokio runtime")]
    NoRuntime,
}

/// The bounds a server enforces on each request; see [`crate::protocol`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest request JSON, in bytes ([`MAX_REQUEST_BYTES`]).
    pub max_request_bytes: usize,
    /// The most `argv` entries ([`MAX_ARGS`]).
    pub max_args: usize,
    /// The most requests handled at once (deciding or running escalated); the next one
    /// is answered with an error straight away.
    pub max_in_flight: usize,
    /// How long a wrapper has to deliver its request once its channel arrived.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_bytes: MAX_REQUEST_BYTES,
            max_args: MAX_ARGS,
            max_in_flight: 256,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// How to start a server: the wrapper the shell is told to run, the limits, and what
/// the environment of escalated programs is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerOptions {
    /// The `codex-execve-wrapper` executable (absolute), exported as `EXEC_WRAPPER`. For
    /// a shell in a sandbox whose filesystem differs from the host's, the path inside
    /// the sandbox.
    pub execve_wrapper: PathBuf,
    /// The bounds on requests.
    pub limits: Limits,
    /// What an escalated program's environment is made of (see [`EscalatedEnv`]).
    pub escalated_env: EscalatedEnv,
}

impl ServerOptions {
    /// Options with `execve_wrapper`, the default [`Limits`], and escalated programs
    /// getting nothing of the request's environment ([`EscalatedEnv::default`]).
    pub fn new(execve_wrapper: impl Into<PathBuf>) -> Self {
        Self {
            execve_wrapper: execve_wrapper.into(),
            limits: Limits::default(),
            escalated_env: EscalatedEnv::default(),
        }
    }

    /// Options with the `codex-execve-wrapper` installed next to the running
    /// executable (how the Codex binaries ship), checked to be an executable file.
    pub fn locate() -> Result<Self, EscalationError> {
        let exe = std::env::current_exe().map_err(|err| EscalationError::WrapperNotFound {
            path: PathBuf::from(EXECVE_WRAPPER_NAME),
            reason: format!("the running executable is unknown: {err}"),
        })?;
        let path = exe
            .parent()
            .unwrap_or_else(|| Path::new("/"))
            .join(EXECVE_WRAPPER_NAME);
        check_executable(&path)?;
        Ok(Self::new(path))
    }
}

/// The environment of an escalated program. The request's environment is the wrapper's,
/// written by whatever runs in the sandbox: any variable of it may make an approved
/// program run other code outside the sandbox (`BASH_ENV`, `LD_PRELOAD`, `PYTHONPATH`,
/// `OPENSSL_CONF`, `KUBECONFIG`, `RUSTC_WRAPPER`, …, a list that has no end), and the
/// person who approves sees only the program and its arguments. So nothing of it is
/// taken unless named here: the variables named in [`EscalatedEnv::keep`] or starting
/// with one of [`EscalatedEnv::keep_prefixes`], and only with a value that names no path
/// (no `/`); then [`EscalatedEnv::set`], the trusted values, on top.
/// [`ESCALATE_SOCKET_ENV_VAR`] and [`EXEC_WRAPPER_ENV_VAR`] are never kept. The default
/// keeps nothing and sets nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EscalatedEnv {
    /// Names kept from the request.
    pub keep: Vec<String>,
    /// Prefixes: every variable of the request whose name starts with one is kept.
    pub keep_prefixes: Vec<String>,
    /// Variables set after (overriding the request's): the host's trusted values.
    pub set: std::collections::BTreeMap<String, String>,
}

impl EscalatedEnv {
    /// Whether the request's `name=value` is kept.
    pub fn keeps(&self, name: &str, value: &str) -> bool {
        name != ESCALATE_SOCKET_ENV_VAR
            && name != EXEC_WRAPPER_ENV_VAR
            && !value.contains('/')
            && (self.keep.iter().any(|kept| kept == name)
                || self
                    .keep_prefixes
                    .iter()
                    .any(|prefix| name.starts_with(prefix.as_str())))
    }

    /// The environment an escalated program gets for a request's `env`.
    pub fn apply(
        &self,
        env: &std::collections::BTreeMap<String, String>,
    ) -> std::collections::BTreeMap<String, String> {
        let mut result: std::collections::BTreeMap<String, String> = env
            .iter()
            .filter(|(name, value)| self.keeps(name, value))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        result.extend(
            self.set
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        result
    }
}

fn check_executable(path: &Path) -> Result<(), EscalationError> {
    use std::os::unix::fs::PermissionsExt as _;
    let not_found = |reason: String| EscalationError::WrapperNotFound {
        path: path.to_path_buf(),
        reason,
    };
    let metadata = std::fs::metadata(path).map_err(|err| not_found(err.to_string()))?;
    if !metadata.is_file() || metadata.permissions().mode() & 0o111 == 0 {
        return Err(not_found("not an executable file".to_string()));
    }
    Ok(())
}

/// What the sandboxed shell needs: the escalation socket's end it must inherit, and the
/// environment that points the patched shell and the wrapper at it.
///
/// The descriptor is close-on-exec in this process (no other child inherits it); the
/// shell's spawn clears that flag in the child only — [`ShellSide::configure`] does it
/// for a `std::process::Command` (or `tokio::process::Command::as_std_mut`), and
/// [`ShellSide::inherit_in_child`] is the hook for a spawn that builds its own
/// `pre_exec`. A launcher that closes or marks close-on-exec every inherited descriptor
/// (`codex-linux-sandbox`'s `inherit_only`) must list [`ShellSide::raw_fd`] among those
/// it keeps: the wrapper finds the socket by that number.
///
/// Drop this once the shell is spawned: the server stops accepting (and wrappers
/// started later refuse) when every copy of this end is closed.
#[derive(Debug)]
pub struct ShellSide {
    fd: OwnedFd,
    execve_wrapper: PathBuf,
}

impl ShellSide {
    /// The descriptor the shell must inherit, under the same number.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// [`ShellSide::fd`]'s number, as written in [`ESCALATE_SOCKET_ENV_VAR`].
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The variables the shell needs: [`ESCALATE_SOCKET_ENV_VAR`]`=<fd>` and
    /// [`EXEC_WRAPPER_ENV_VAR`]`=<wrapper path>`.
    pub fn env(&self) -> Vec<(&'static str, OsString)> {
        vec![
            (
                ESCALATE_SOCKET_ENV_VAR,
                OsString::from(self.raw_fd().to_string()),
            ),
            (
                EXEC_WRAPPER_ENV_VAR,
                self.execve_wrapper.clone().into_os_string(),
            ),
        ]
    }

    /// A `pre_exec` hook that makes the descriptor survive the child's `execve` (only
    /// an `fcntl` call: async-signal-safe).
    pub fn inherit_in_child(&self) -> impl FnMut() -> io::Result<()> + Send + Sync + 'static {
        let fd = self.raw_fd();
        move || sys::clear_cloexec(fd)
    }

    /// Sets [`ShellSide::env`] on `command` and adds [`ShellSide::inherit_in_child`] as
    /// a `pre_exec` hook. Spawn before dropping `self`.
    pub fn configure(&self, command: &mut std::process::Command) {
        use std::os::unix::process::CommandExt as _;
        command.envs(self.env());
        // SAFETY: the hook only calls fcntl on a descriptor number (async-signal-safe,
        // no allocation).
        unsafe {
            command.pre_exec(self.inherit_in_child());
        }
    }

    /// The descriptor itself, for a launcher that manages it by hand.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }
}

/// A running escalation server for one session. Dropping it stops it: no new request
/// is accepted (wrappers then refuse), pending decisions are dropped, and programs it
/// runs escalated are killed with their process groups.
#[derive(Debug)]
pub struct EscalationServer {
    task: JoinHandle<()>,
}

impl EscalationServer {
    /// Starts a server deciding with `policy`, with the wrapper found next to the
    /// running executable ([`ServerOptions::locate`]).
    pub fn start(
        policy: Arc<dyn EscalationPolicy>,
    ) -> Result<(EscalationServer, ShellSide), EscalationError> {
        Self::start_with(policy, ServerOptions::locate()?)
    }

    /// Starts a server deciding with `policy`, and returns it with the [`ShellSide`] for
    /// the shell's spawn. Must be called inside a Tokio runtime, which must have I/O
    /// enabled (Tokio panics otherwise); [`EscalationError::NoRuntime`] outside one.
    pub fn start_with(
        policy: Arc<dyn EscalationPolicy>,
        options: ServerOptions,
    ) -> Result<(EscalationServer, ShellSide), EscalationError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| EscalationError::NoRuntime)?;
        let (server_end, shell_end) =
            sys::socketpair(libc::SOCK_SEQPACKET).map_err(EscalationError::Socket)?;
        set_nonblocking(&server_end).map_err(EscalationError::Socket)?;
        let listener = {
            let _entered = runtime.enter();
            // SAFETY: the OwnedFd is a valid open descriptor, owned by the AsyncFd for
            // its whole life and never replaced.
            unsafe { AsyncFd::register_with_interest(server_end, Interest::READABLE) }
                .map_err(|err| EscalationError::Socket(err.into()))?
        };
        let escalated_env = Arc::new(options.escalated_env);
        let task = runtime.spawn(accept_loop(listener, policy, options.limits, escalated_env));
        Ok((
            EscalationServer { task },
            ShellSide {
                fd: shell_end,
                execve_wrapper: options.execve_wrapper,
            },
        ))
    }

    /// Whether the server has stopped by itself: every copy of the shell's end is
    /// closed and every request it had is finished.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl Drop for EscalationServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: F_GETFL/F_SETFL on a descriptor we own; no memory is involved.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// What arrived on the escalation socket.
enum Handshake {
    /// A well-formed handshake: the server's end of a private channel.
    Channel(OwnedFd),
    /// Anything else, dropped (with any descriptors it carried).
    Invalid(&'static str),
    /// Every copy of the shell's end is closed.
    Closed,
}

async fn accept_loop(
    listener: AsyncFd<OwnedFd>,
    policy: Arc<dyn EscalationPolicy>,
    limits: Limits,
    escalated_env: Arc<EscalatedEnv>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_in_flight));
    // Owning the request tasks here means dropping (aborting) this loop drops them
    // all, and with them any escalated program (see `KillGroupOnDrop`).
    let mut requests = JoinSet::new();
    loop {
        let handshake = tokio::select! {
            Some(_) = requests.join_next(), if !requests.is_empty() => continue,
            handshake = next_handshake(&listener) => handshake,
        };
        match handshake {
            Handshake::Channel(channel) => {
                let policy = Arc::clone(&policy);
                let escalated_env = Arc::clone(&escalated_env);
                let permit = Arc::clone(&permits).try_acquire_owned().ok();
                requests.spawn(async move {
                    if let Err(err) =
                        serve_channel(channel, policy, limits, &escalated_env, permit).await
                    {
                        debug!("escalation request ended early: {err}");
                    }
                });
            }
            // Debug only: anything in the sandbox can send these.
            Handshake::Invalid(what) => debug!("ignored a malformed escalation handshake: {what}"),
            Handshake::Closed => break,
        }
    }
    while requests.join_next().await.is_some() {}
}

async fn next_handshake(listener: &AsyncFd<OwnedFd>) -> Handshake {
    let mut buf = [0u8; HANDSHAKE.len() + 1];
    loop {
        let mut guard = match listener.readable().await {
            Ok(guard) => guard,
            Err(err) => {
                warn!("the escalation socket failed: {err}");
                return Handshake::Closed;
            }
        };
        let received =
            match guard.try_io(|fd| sys::recv_with_fds(fd.as_fd(), &mut buf, libc::MSG_DONTWAIT)) {
                Ok(Ok(received)) => received,
                Ok(Err(err)) => {
                    warn!("the escalation socket failed: {err}");
                    return Handshake::Closed;
                }
                Err(_would_block) => continue,
            };
        if received.len == 0
            && received.fds.is_empty()
            && sys::peer_hung_up(listener.get_ref().as_fd())
        {
            return Handshake::Closed;
        }
        return classify_handshake(&buf, received);
    }
}

fn classify_handshake(buf: &[u8], mut received: sys::Received) -> Handshake {
    if received.truncated || received.len != HANDSHAKE.len() || buf[..received.len] != HANDSHAKE {
        return Handshake::Invalid("not the handshake packet");
    }
    if received.fds_truncated || received.fds.len() != 1 {
        return Handshake::Invalid("not exactly one descriptor");
    }
    let channel = received.fds.remove(0);
    if !sys::is_unix_socket(channel.as_fd(), libc::SOCK_STREAM) {
        return Handshake::Invalid("the descriptor is not a Unix stream socket");
    }
    Handshake::Channel(channel)
}

/// Why a request got no decision. Each is answered with [`Reply::Error`] when the
/// wrapper can still hear it.
#[derive(Debug, thiserror::Error)]
enum RequestError {
    #[error("the wrapper closed its channel")]
    Closed,
    #[error("the channel failed: {0}")]
    Io(#[from] io::Error),
    #[error("refused: {0}")]
    Refused(String),
}

/// A request and the wrapper's stdin, stdout and stderr.
struct Received {
    request: ExecRequest,
    stdio: [OwnedFd; 3],
}

async fn serve_channel(
    channel: OwnedFd,
    policy: Arc<dyn EscalationPolicy>,
    limits: Limits,
    escalated_env: &EscalatedEnv,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
) -> Result<(), RequestError> {
    let stream = std::os::unix::net::UnixStream::from(channel);
    stream.set_nonblocking(/*nonblocking*/ true)?;
    let stream = UnixStream::from_std(stream)?;
    let Some(_permit) = permit else {
        let message = format!(
            "refused: {} requests are already in flight, the most this server handles at once",
            limits.max_in_flight
        );
        return send_reply(&stream, &refusal(message)).await;
    };
    let received =
        match tokio::time::timeout(limits.request_timeout, read_request(&stream, limits)).await {
            Ok(Ok(received)) => received,
            Ok(Err(RequestError::Refused(message))) => {
                return send_reply(&stream, &refusal(format!("refused: {message}"))).await;
            }
            Ok(Err(err)) => return Err(err),
            Err(_elapsed) => {
                let message = format!(
                    "refused: the request did not arrive within {:?}",
                    limits.request_timeout
                );
                return send_reply(&stream, &refusal(message)).await;
            }
        };
    let Received { request, stdio } = received;
    if let Some(message) = special_file(&request.file) {
        return send_reply(&stream, &refusal(format!("refused: {message}"))).await;
    }
    // What the file is while it is decided about: an escalated start runs it only if it
    // is still that file (a command in the sandbox may write it while a person looks).
    let identity = file_identity(&request.file);
    let decision = tokio::select! {
        decision = policy.decide(request.clone()) => decision,
        () = peer_gone(&stream) => return Err(RequestError::Closed),
    };
    debug!(?decision, file = %request.file.display(), argv = ?request.argv, "escalation decision");
    match decision {
        EscalationDecision::Run => {
            drop(stdio);
            send_reply(&stream, &Reply::Run).await
        }
        EscalationDecision::Deny { reason } => {
            drop(stdio);
            send_reply(&stream, &Reply::Deny { reason }).await
        }
        EscalationDecision::Escalate => {
            match run_escalated(&stream, request, identity, stdio, escalated_env).await? {
                Some(reply) => send_reply(&stream, &reply).await,
                None => Err(RequestError::Closed),
            }
        }
    }
}

/// A file as it is: device, inode, size and change time (a write to it changes the
/// change time, which no one but the kernel sets).
pub(crate) type FileIdentity = (u64, u64, u64, i64, i64);

/// The identity of the file `path` leads to, if it can be read.
pub(crate) fn file_identity(path: &Path) -> Option<FileIdentity> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).ok().map(|metadata| {
        (
            metadata.dev(),
            metadata.ino(),
            metadata.size(),
            metadata.ctime(),
            metadata.ctime_nsec(),
        )
    })
}

/// Why `file` is refused as a program, if it is: one under `/proc` or `/dev` (after
/// resolving symlinks) is a descriptor or a device, whatever its name (`/proc/self/fd/0`
/// runs the bytes of the wrapper's stdin), and rules and the person approving see only
/// that name.
fn special_file(file: &Path) -> Option<String> {
    let resolved = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    (in_special_dir(file) || in_special_dir(&resolved)).then(|| {
        format!(
            "`{}` is under /proc or /dev: not a program file",
            file.display()
        )
    })
}

/// Whether `path` (as written) is under `/proc` or `/dev`.
fn in_special_dir(path: &Path) -> bool {
    path.starts_with("/proc") || path.starts_with("/dev")
}

fn refusal(message: String) -> Reply {
    Reply::Error {
        message,
        exit_code: REFUSED_EXIT_CODE,
    }
}

async fn read_request(stream: &UnixStream, limits: Limits) -> Result<Received, RequestError> {
    // The length, with the descriptors attached to its first byte.
    let mut header = [0u8; 4];
    let first = loop {
        stream.readable().await?;
        match stream.try_io(Interest::READABLE, || {
            sys::recv_with_fds(stream.as_fd(), &mut header, libc::MSG_DONTWAIT)
        }) {
            Ok(received) => break received,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
            Err(err) => return Err(err.into()),
        }
    };
    if first.len == 0 && first.fds.is_empty() {
        return Err(RequestError::Closed);
    }
    if first.len < header.len() {
        read_exact(stream, &mut header[first.len..]).await?;
    }
    let count = first.fds.len();
    let stdio: [OwnedFd; 3] = match (first.fds_truncated, <[OwnedFd; 3]>::try_from(first.fds)) {
        (false, Ok(stdio)) => stdio,
        _ => {
            return Err(RequestError::Refused(format!(
                "a request carries 3 descriptors (stdin, stdout, stderr), this one {}{count}",
                if first.fds_truncated {
                    "more than "
                } else {
                    ""
                }
            )));
        }
    };
    let len = u32::from_le_bytes(header) as usize;
    if len > limits.max_request_bytes {
        return Err(RequestError::Refused(format!(
            "the request is {len} bytes, more than the limit of {} bytes",
            limits.max_request_bytes
        )));
    }
    let mut body = vec![0u8; len];
    read_exact(stream, &mut body).await?;
    let request: ExecRequest = serde_json::from_slice(&body)
        .map_err(|err| RequestError::Refused(format!("malformed request: {err}")))?;
    validate(&request, limits).map_err(RequestError::Refused)?;
    Ok(Received { request, stdio })
}

async fn read_exact(stream: &UnixStream, mut buf: &mut [u8]) -> Result<(), RequestError> {
    while !buf.is_empty() {
        stream.readable().await?;
        match stream.try_read(buf) {
            Ok(0) => return Err(RequestError::Closed),
            Ok(read) => buf = &mut buf[read..],
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

/// The checks on a parsed request, as the message for the wrapper.
fn validate(request: &ExecRequest, limits: Limits) -> Result<(), String> {
    if request.argv.len() > limits.max_args {
        return Err(format!(
            "the command has {} arguments, more than the limit of {}",
            request.argv.len(),
            limits.max_args
        ));
    }
    if request.argv.is_empty() {
        return Err("the command has no arguments (argv[0] is required)".to_string());
    }
    if !request.file.is_absolute() {
        return Err(format!(
            "the program path `{}` is relative; an absolute path is required",
            request.file.display()
        ));
    }
    if !request.cwd.is_absolute() {
        return Err(format!(
            "the working directory `{}` is relative; an absolute path is required",
            request.cwd.display()
        ));
    }
    // A name with `=` would smuggle another variable in (`BASH_ENV=/x` as a name is the
    // variable `BASH_ENV` once written out); NUL cuts a C string short.
    if let Some((name, _)) = request.env.iter().find(|(name, value)| {
        name.is_empty() || name.contains('=') || name.contains('\0') || value.contains('\0')
    }) {
        return Err(format!(
            "the environment variable name `{}` is not valid (empty, or with `=` or NUL)",
            name.escape_debug()
        ));
    }
    if request.argv.iter().any(|arg| arg.contains('\0')) {
        return Err("an argument contains NUL".to_string());
    }
    Ok(())
}

/// Resolves when the wrapper is gone: its end is closed, or it sent something after
/// its request, which the protocol does not allow.
async fn peer_gone(stream: &UnixStream) {
    let mut buf = [0u8; 64];
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        match stream.try_read(&mut buf) {
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
            Ok(_) | Err(_) => return,
        }
    }
}

/// Kills the process group of an escalated program that has not been waited for,
/// whoever drops it (the wrapper went away, the server was dropped).
struct KillGroupOnDrop(Option<libc::pid_t>);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            // SAFETY: kill with a negative pid signals the group the unreaped child
            // leads (its pid, and so the group id, cannot have been reused yet).
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

/// Runs `request` outside the sandbox on the wrapper's descriptors, in a process group
/// of its own; `None` if the wrapper went away first (the group is then killed).
async fn run_escalated(
    stream: &UnixStream,
    request: ExecRequest,
    identity: Option<FileIdentity>,
    stdio: [OwnedFd; 3],
    escalated_env: &EscalatedEnv,
) -> Result<Option<Reply>, RequestError> {
    let [stdin, stdout, stderr] = stdio;
    // The program that runs is the file the path leads to now, which must be a regular
    // file (and not under /proc or /dev: see `special_file`).
    let program = match std::fs::canonicalize(&request.file) {
        Ok(program) if identity.is_some() && file_identity(&program) != identity => {
            return Ok(Some(refusal(format!(
                "refused: {} changed while it was being decided about; run it again to be \
                 asked about what it is now",
                request.file.display()
            ))));
        }
        // `program` is resolved already: only its place is checked again.
        Ok(program) if program.is_file() && !in_special_dir(&program) => program,
        Ok(_) => {
            return Ok(Some(refusal(format!(
                "cannot run {} outside the sandbox: not a regular file",
                request.file.display()
            ))));
        }
        Err(err) => {
            return Ok(Some(Reply::Error {
                message: format!(
                    "cannot run {} outside the sandbox: {err}",
                    request.file.display()
                ),
                exit_code: if err.kind() == io::ErrorKind::NotFound {
                    127
                } else {
                    REFUSED_EXIT_CODE
                },
            }));
        }
    };
    let mut command = tokio::process::Command::new(&program);
    command
        .arg0(&request.argv[0])
        .args(&request.argv[1..])
        .env_clear()
        .envs(escalated_env.apply(&request.env))
        .current_dir(&request.cwd)
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .process_group(/*pgroup*/ 0)
        .kill_on_drop(/*kill_on_drop*/ true);
    let spawned = command.spawn();
    // The command holds our copies of the wrapper's descriptors: they must go now, or
    // a reader of the program's output would wait for them after the program ended.
    drop(command);
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => {
            let exit_code = if err.kind() == io::ErrorKind::NotFound {
                127
            } else {
                REFUSED_EXIT_CODE
            };
            return Ok(Some(Reply::Error {
                message: format!(
                    "cannot run {} outside the sandbox: {err}",
                    request.file.display()
                ),
                exit_code,
            }));
        }
    };
    let mut group = KillGroupOnDrop(child.id().and_then(|pid| libc::pid_t::try_from(pid).ok()));
    let status = tokio::select! {
        status = child.wait() => status,
        () = peer_gone(stream) => {
            drop(group);
            let _ = child.wait().await;
            return Ok(None);
        }
    };
    // Reaped: the pid may be reused from here on.
    group.0 = None;
    Ok(Some(Reply::Escalated {
        status: ExitStatus::from_std(status?),
    }))
}

async fn send_reply(stream: &UnixStream, reply: &Reply) -> Result<(), RequestError> {
    let json = serde_json::to_vec(reply).map_err(|err| RequestError::Io(io::Error::other(err)))?;
    let mut frame = frame_header(json.len())?.to_vec();
    frame.extend_from_slice(&json);
    let mut rest = frame.as_slice();
    while !rest.is_empty() {
        stream.writable().await?;
        match stream.try_io(Interest::WRITABLE, || {
            sys::send_with_fds(stream.as_fd(), rest, &[], libc::MSG_DONTWAIT)
        }) {
            Ok(sent) => rest = &rest[sent..],
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
