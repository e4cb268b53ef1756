//! The WebSocket JSON-RPC server: HTTP front door (health, origin and token checks),
//! per-connection dispatch, and the session registry (detach, TTL, resume with takeover).
//!
//! Requests on a connection run concurrently: the reader loop validates and *enqueues* each
//! request (reserving a process id, queueing a stdin write) in arrival order, then the slow
//! part runs in its own task. Responses go to the connection's writer through a queue whose
//! length is bounded by [`MAX_UNWRITTEN_RESPONSES`]: when that many requests of one
//! connection are unanswered or unwritten (a client that sends but never reads), the server
//! stops reading that connection until the writer catches up, so TCP pushes back on the
//! client and the server's memory stays bounded. Notifications go through
//! the session's bounded event queue and are dropped for this connection when it is full, so
//! a stalled client never blocks a process or another client. It recovers with
//! `process/read` (the Rust client does this automatically when it sees a `seq` hole).

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

use futures_util::SinkExt;
use futures_util::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::json;
use tokio::io::AsyncRead;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWrite;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::sync::mpsc;
use tokio::sync::watch;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tracing::debug;
use tracing::info;
use tracing::warn;

use codex_file_system::CopyOptions;
use codex_file_system::CreateDirectoryOptions;
use codex_file_system::ExecutorFileSystem;
use codex_file_system::FileSystemError;
use codex_file_system::LocalFileSystem;
use codex_file_system::LocalFileSystemConfig;
use codex_file_system::RemoveOptions;

use crate::error::ExecError;
use crate::exec_process::ProcessEvents;
use crate::local_process::LocalProcess;
use crate::local_process::LocalProcessConfig;
use crate::protocol::Capabilities;
use crate::protocol::CheckWriteParams;
use crate::protocol::CopyParams;
use crate::protocol::CreateDirectoryParams;
use crate::protocol::EmptyResponse;
use crate::protocol::GetMetadataParams;
use crate::protocol::InitializeParams;
use crate::protocol::InitializeResponse;
use crate::protocol::JSONRPC_VERSION;
use crate::protocol::ReadDirectoryParams;
use crate::protocol::ReadDirectoryResponse;
use crate::protocol::ReadFileParams;
use crate::protocol::ReadFileResponse;
use crate::protocol::RemoveParams;
use crate::protocol::RpcError;
use crate::protocol::WriteFileParams;
use crate::protocol::error_code;
use crate::protocol::method;

/// Default TTL of a detached session.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(30);
/// Default bound on one WebSocket message (and frame).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Room for the JSON around the base64 of one `fs/readFile` / `fs/writeFile` (the path,
/// the policy, the envelope).
const FS_MESSAGE_OVERHEAD: usize = 64 * 1024;
/// Requests of one connection that may be unanswered or answered-but-unwritten before the
/// server stops reading from it (backpressure instead of an unbounded response queue).
pub const MAX_UNWRITTEN_RESPONSES: usize = 1024;
const MAX_HTTP_HEAD: usize = 16 * 1024;
const HTTP_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_HEADERS: usize = 64;
/// Tombstones of expired sessions (so a late resume says "expired", not "unknown").
const EXPIRED_TOMBSTONES: usize = 10_000;
const EXPIRED_TOMBSTONE_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// Default [`ServerConfig::client_timeout`]: 60 s.
pub const DEFAULT_CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// Shortest [`ServerConfig::client_timeout`] (a ping every 100 ms).
pub const MIN_CLIENT_TIMEOUT: Duration = Duration::from_millis(300);
/// Longest [`ServerConfig::client_timeout`]: a day.
pub const MAX_CLIENT_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// Everything the server needs to run.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to bind (port 0 picks a free port).
    pub listen: SocketAddr,
    /// How long a detached session survives.
    pub session_ttl: Duration,
    /// Per-process settings (retention, grace, event queue).
    pub process: LocalProcessConfig,
    /// Largest accepted WebSocket message; bigger ones close the connection with 1009.
    pub max_message_bytes: usize,
    /// Bearer token required on upgrade, if any.
    pub auth_token: Option<String>,
    /// Settings of the `fs/*` methods (size limit of one read/write, `$TMPDIR`).
    pub file_system: LocalFileSystemConfig,
    /// TLS (`wss://`) with this certificate and key (see [`load_tls_config`]); plain
    /// `ws://` when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// A connection that shows no sign of life for this long (no byte from the client, not
    /// even the pong to one of the pings the server sends every third of it, and no
    /// progress writing an answer to it) is taken for gone: it is closed and its session
    /// detached, so the session's TTL starts. Without it, a client that vanished without
    /// closing its TCP connection would keep its session attached, and its processes
    /// running, forever.
    pub client_timeout: Duration,
}

impl ServerConfig {
    /// Defaults for the given address.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            session_ttl: DEFAULT_SESSION_TTL,
            process: LocalProcessConfig::default(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            auth_token: None,
            file_system: LocalFileSystemConfig::default(),
            tls: None,
            client_timeout: DEFAULT_CLIENT_TIMEOUT,
        }
    }
}

/// Start-up errors.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// `--listen` was not `ws://HOST:PORT` or `wss://HOST:PORT`.
    #[error(
        "invalid listen URL `{0}`: expected ws://HOST:PORT or wss://HOST:PORT, e.g. ws://127.0.0.1:0"
    )]
    InvalidListenUrl(String),
    /// The TLS certificate chain could not be read.
    #[error("cannot use TLS certificate chain `{}`: {message}", path.display())]
    TlsCertificate {
        /// The PEM file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The TLS private key could not be read.
    #[error("cannot use TLS private key `{}`: {message}", path.display())]
    TlsKey {
        /// The PEM file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The certificate and key do not make a TLS configuration (say, they do not match).
    #[error("invalid TLS certificate and key: {0}")]
    TlsConfig(String),
    /// Non-loopback address without a token.
    #[error(
        "refusing to listen on non-loopback address {0} without authentication: pass --auth-token-file or set CODEX_EXEC_SERVER_TOKEN"
    )]
    InsecureListen(SocketAddr),
    /// An empty token would accept anyone.
    #[error("the auth token is empty")]
    EmptyToken,
    /// The client timeout is too short to ping in (the server pings every third of it),
    /// or longer than a day.
    #[error(
        "the client timeout {0:?} is out of range: it must be between {MIN_CLIENT_TIMEOUT:?} \
         and {MAX_CLIENT_TIMEOUT:?}"
    )]
    ClientTimeoutOutOfRange(Duration),
    /// `--max-fs-bytes` does not fit in one message as base64.
    #[error(
        "--max-fs-bytes {max_fs_bytes} does not fit in one message: as base64 it needs {needed} bytes, \
         more than --max-message-bytes {max_message_bytes}; lower the first or raise the second"
    )]
    FsLimitTooLarge {
        /// The fs limit.
        max_fs_bytes: usize,
        /// The message size that limit needs.
        needed: usize,
        /// The message limit.
        max_message_bytes: usize,
    },
    /// Binding failed.
    #[error("failed to listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

/// A `--listen` URL: where to bind, and whether clients speak TLS (`wss://`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenUrl {
    /// Address to bind.
    pub addr: SocketAddr,
    /// `wss://`: TLS, which needs a certificate and key.
    pub tls: bool,
}

/// Parse `ws://HOST:PORT` or `wss://HOST:PORT`.
pub fn parse_listen_url(url: &str) -> Result<ListenUrl, ServerError> {
    let (rest, tls) = match (url.strip_prefix("ws://"), url.strip_prefix("wss://")) {
        (Some(rest), _) => (rest, false),
        (None, Some(rest)) => (rest, true),
        (None, None) => return Err(ServerError::InvalidListenUrl(url.to_string())),
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let rest = rest.replace("localhost:", "127.0.0.1:");
    let addr = rest
        .parse()
        .map_err(|_| ServerError::InvalidListenUrl(url.to_string()))?;
    Ok(ListenUrl { addr, tls })
}

/// The TLS configuration of a `wss://` server from PEM files: `cert_path` holds the
/// certificate chain (leaf first), `key_path` its private key (PKCS#8, PKCS#1 or SEC1).
pub fn load_tls_config(
    cert_path: &Path,
    key_path: &Path,
) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    use rustls::pki_types::PrivateKeyDer;
    use rustls::pki_types::pem::PemObject;

    let chain = crate::tls::read_pem_certificates(cert_path).map_err(|message| {
        ServerError::TlsCertificate {
            path: cert_path.to_path_buf(),
            message,
        }
    })?;
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|err| ServerError::TlsKey {
        path: key_path.to_path_buf(),
        message: err.to_string(),
    })?;
    let config = rustls::ServerConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|err| ServerError::TlsConfig(err.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|err| ServerError::TlsConfig(err.to_string()))?;
    Ok(Arc::new(config))
}

/// A bound server; call [`ExecServer::run`] to serve.
pub struct ExecServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    sessions: Arc<Sessions>,
    ws_config: WebSocketConfig,
}

impl ExecServer {
    /// Check the configuration and bind.
    pub async fn bind(config: ServerConfig) -> Result<Self, ServerError> {
        if config.auth_token.as_deref() == Some("") {
            return Err(ServerError::EmptyToken);
        }
        if !(MIN_CLIENT_TIMEOUT..=MAX_CLIENT_TIMEOUT).contains(&config.client_timeout) {
            return Err(ServerError::ClientTimeoutOutOfRange(config.client_timeout));
        }
        if !config.listen.ip().is_loopback() && config.auth_token.is_none() {
            return Err(ServerError::InsecureListen(config.listen));
        }
        if !config.listen.ip().is_loopback() && config.tls.is_none() {
            warn!(
                "listening on {} without TLS: the bearer token and all traffic cross the \
                 network in plain text; use wss:// with --tls-cert and --tls-key",
                config.listen
            );
        }
        let needed = config
            .file_system
            .max_fs_bytes
            .div_ceil(3)
            .saturating_mul(4)
            .saturating_add(FS_MESSAGE_OVERHEAD);
        if needed > config.max_message_bytes {
            return Err(ServerError::FsLimitTooLarge {
                max_fs_bytes: config.file_system.max_fs_bytes,
                needed,
                max_message_bytes: config.max_message_bytes,
            });
        }
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(config.max_message_bytes))
            .max_frame_size(Some(config.max_message_bytes));
        Ok(Self {
            listener,
            local_addr,
            tls: config.tls.clone().map(tokio_rustls::TlsAcceptor::from),
            sessions: Arc::new(Sessions {
                file_system: LocalFileSystem::new(config.file_system.clone()),
                root_pins: Arc::default(),
                config,
                map: Mutex::new(HashMap::new()),
                expired: Mutex::new(HashMap::new()),
            }),
            ws_config,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The URL clients connect to.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "wss" } else { "ws" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// Serve until `shutdown` completes, then kill every process group of every session.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        if let Err(err) = stream.set_nodelay(true) {
                            warn!("TCP_NODELAY on {peer}: {err}");
                        }
                        let sessions = Arc::clone(&self.sessions);
                        let ws_config = self.ws_config;
                        let tls = self.tls.clone();
                        tokio::spawn(async move {
                            let Some(tls) = tls else {
                                handle_socket(stream, peer, sessions, ws_config).await;
                                return;
                            };
                            // Bounded like the HTTP head: a peer that never finishes the
                            // handshake costs a task for a few seconds, not forever.
                            match tokio::time::timeout(HTTP_HEAD_TIMEOUT, tls.accept(stream)).await {
                                Ok(Ok(stream)) => {
                                    handle_socket(stream, peer, sessions, ws_config).await;
                                }
                                Ok(Err(err)) => debug!("{peer}: TLS handshake failed: {err}"),
                                Err(_) => debug!("{peer}: timed out in the TLS handshake"),
                            }
                        });
                    }
                    Err(err) => {
                        // EMFILE and friends: back off briefly instead of spinning.
                        warn!("accept failed: {err}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
        info!("shutting down; killing all process groups");
        self.sessions.kill_all();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct Sessions {
    config: ServerConfig,
    file_system: LocalFileSystem,
    /// What every session granted (see [`codex_sandboxing::RootPins`]): shared by all, so
    /// a link planted under one session's policy is judged in the next session too.
    root_pins: Arc<codex_sandboxing::RootPins>,
    map: Mutex<HashMap<String, Arc<Session>>>,
    expired: Mutex<HashMap<String, Instant>>,
}

struct Session {
    id: String,
    processes: LocalProcess,
    /// The server's filesystem with this session's root pins (shared with `processes`).
    file_system: LocalFileSystem,
    attachment: Mutex<Attachment>,
    /// Current attachment generation; a change wakes (and fails) the previous attachment's
    /// long-polls.
    generation: watch::Sender<u64>,
}

struct Attachment {
    generation: u64,
    attached: bool,
    detached_at: Option<Instant>,
}

impl Sessions {
    fn create(&self) -> (Arc<Session>, u64) {
        let id = uuid::Uuid::new_v4().to_string();
        let (generation, _) = watch::channel(1);
        let processes =
            LocalProcess::with_root_pins(self.config.process.clone(), Arc::clone(&self.root_pins));
        let session = Arc::new(Session {
            id: id.clone(),
            file_system: self.file_system.with_root_pins(processes.root_pins()),
            processes,
            attachment: Mutex::new(Attachment {
                generation: 1,
                attached: true,
                detached_at: None,
            }),
            generation,
        });
        lock(&self.map).insert(id, Arc::clone(&session));
        (session, 1)
    }

    fn resume(&self, id: &str) -> Result<(Arc<Session>, u64), ExecError> {
        let mut map = lock(&self.map);
        let Some(session) = map.get(id).cloned() else {
            return Err(if lock(&self.expired).contains_key(id) {
                ExecError::SessionExpired(id.to_string())
            } else {
                ExecError::UnknownSession(id.to_string())
            });
        };
        let mut attachment = lock(&session.attachment);
        let expired = !attachment.attached
            && attachment
                .detached_at
                .is_some_and(|at| at.elapsed() >= self.config.session_ttl);
        if expired {
            drop(attachment);
            map.remove(id);
            drop(map);
            self.expire(&session);
            return Err(ExecError::SessionExpired(id.to_string()));
        }
        attachment.generation += 1;
        attachment.attached = true;
        attachment.detached_at = None;
        let generation = attachment.generation;
        session.generation.send_replace(generation);
        Ok((Arc::clone(&session), generation))
    }

    fn detach(self: &Arc<Self>, session: &Arc<Session>, generation: u64) {
        {
            let mut attachment = lock(&session.attachment);
            if attachment.generation != generation {
                return;
            }
            attachment.attached = false;
            attachment.detached_at = Some(Instant::now());
        }
        debug!(session_id = session.id, "session detached");
        let sessions = Arc::clone(self);
        let id = session.id.clone();
        let ttl = self.config.session_ttl;
        tokio::spawn(async move {
            let mut wait = ttl;
            loop {
                tokio::time::sleep(wait).await;
                match sessions.expire_if_detached(&id, generation) {
                    Some(remaining) => wait = remaining,
                    None => return,
                }
            }
        });
    }

    /// Expire the session if it is still detached from `generation` and its TTL passed.
    /// Returns the time left when it is detached but not yet due (timer woke early).
    fn expire_if_detached(&self, id: &str, generation: u64) -> Option<Duration> {
        let mut map = lock(&self.map);
        let session = map.get(id).cloned()?;
        {
            let attachment = lock(&session.attachment);
            if attachment.attached || attachment.generation != generation {
                return None;
            }
            let elapsed = attachment.detached_at?.elapsed();
            if elapsed < self.config.session_ttl {
                return Some(self.config.session_ttl - elapsed);
            }
        }
        map.remove(id);
        drop(map);
        self.expire(&session);
        None
    }

    fn expire(&self, session: &Session) {
        info!(
            session_id = session.id,
            "session expired; killing its processes"
        );
        session.processes.kill_all();
        let mut expired = lock(&self.expired);
        expired.retain(|_, at| at.elapsed() < EXPIRED_TOMBSTONE_AGE);
        if expired.len() >= EXPIRED_TOMBSTONES
            && let Some(oldest) = expired
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(id, _)| id.clone())
        {
            expired.remove(&oldest);
        }
        expired.insert(session.id.clone(), Instant::now());
    }

    fn kill_all(&self) {
        let sessions: Vec<_> = lock(&self.map).values().cloned().collect();
        for session in sessions {
            session.processes.kill_all();
        }
    }
}

fn http_response(status: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    )
}

/// What to do with an HTTP request head.
enum FrontDoor {
    Respond(String),
    Upgrade { accept_key: String },
}

fn front_door(head: &[u8], auth_token: Option<&str>) -> FrontDoor {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) | Err(_) => {
            return FrontDoor::Respond(http_response("400 Bad Request", "", "bad request\n"));
        }
    }
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
    };
    let is_upgrade = header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let path = request.path.unwrap_or("/");
    if !is_upgrade {
        return match (request.method, path) {
            (Some("GET"), "/healthz" | "/readyz") => {
                FrontDoor::Respond(http_response("200 OK", "", "ok\n"))
            }
            (Some("GET"), _) => {
                FrontDoor::Respond(http_response("404 Not Found", "", "not found\n"))
            }
            _ => FrontDoor::Respond(http_response(
                "405 Method Not Allowed",
                "",
                "method not allowed\n",
            )),
        };
    }
    // `Sec-WebSocket-Origin` is how browsers spelled `Origin` before RFC 6455.
    if header("origin").is_some() || header("sec-websocket-origin").is_some() {
        return FrontDoor::Respond(http_response(
            "403 Forbidden",
            "",
            "browser origins are not allowed\n",
        ));
    }
    if let Some(token) = auth_token {
        // The bearer header if there is one, else the `token` query parameter (what a
        // client given the URL the server printed sends). A malformed query counts as no
        // token.
        let presented = match header("authorization") {
            Some(value) => value
                .split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token.trim().to_string()),
            None => crate::auth::query_token(path).ok().flatten(),
        }
        .unwrap_or_default();
        if !crate::auth::tokens_match(presented.as_bytes(), token.as_bytes()) {
            return FrontDoor::Respond(http_response(
                "401 Unauthorized",
                "WWW-Authenticate: Bearer\r\n",
                "missing or wrong token: send `Authorization: Bearer TOKEN` or connect to the URL \
                 the server printed (`?token=`)\n",
            ));
        }
    }
    match header("sec-websocket-key") {
        Some(key) if request.method == Some("GET") => FrontDoor::Upgrade {
            accept_key: tungstenite::handshake::derive_accept_key(key.trim().as_bytes()),
        },
        _ => FrontDoor::Respond(http_response(
            "400 Bad Request",
            "",
            "bad websocket upgrade\n",
        )),
    }
}

/// What a connection runs over: TCP, or TLS over TCP.
trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Transport for T {}

/// When a connection last showed that its client is alive, for the client timeout: any
/// byte read from it (a pong, a request, part of a large upload), or progress writing
/// an answer or notification to it (a live client reading a large answer slowly sends
/// nothing meanwhile). Writing pings does not count: a dead peer's socket buffer takes
/// those for a long time.
struct Liveness {
    start: std::time::Instant,
    /// Milliseconds since `start`.
    last_sign_ms: AtomicU64,
    /// Set by the writer while it sends an answer or notification.
    writing_payload: AtomicBool,
}

impl Liveness {
    /// The connection's start counts as its first sign of life.
    fn new() -> Self {
        Self {
            start: std::time::Instant::now(),
            last_sign_ms: AtomicU64::new(0),
            writing_payload: AtomicBool::new(false),
        }
    }

    fn sign_of_life(&self) {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_sign_ms.fetch_max(now, Ordering::Relaxed);
    }

    fn last_sign(&self) -> tokio::time::Instant {
        let since_start = Duration::from_millis(self.last_sign_ms.load(Ordering::Relaxed));
        tokio::time::Instant::from_std(self.start + since_start)
    }
}

/// A transport that reports byte progress to a [`Liveness`].
struct Tracked<S> {
    inner: S,
    liveness: Arc<Liveness>,
}

impl<S: Transport> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, std::task::Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.liveness.sign_of_life();
        }
        result
    }
}

impl<S: Transport> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let result = std::pin::Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(result, std::task::Poll::Ready(Ok(written)) if written > 0)
            && self.liveness.writing_payload.load(Ordering::Relaxed)
        {
            self.liveness.sign_of_life();
        }
        result
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

async fn read_http_head(stream: &mut impl Transport) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            if end + 4 != head.len() {
                // A client must wait for 101 before sending frames.
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "data after the HTTP request head",
                ));
            }
            return Ok(head);
        }
        if head.len() > MAX_HTTP_HEAD {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "HTTP request head too large",
            ));
        }
    }
}

async fn handle_socket<S: Transport>(
    mut stream: S,
    peer: SocketAddr,
    sessions: Arc<Sessions>,
    ws_config: WebSocketConfig,
) {
    let head = match tokio::time::timeout(HTTP_HEAD_TIMEOUT, read_http_head(&mut stream)).await {
        Ok(Ok(head)) => head,
        Ok(Err(err)) => {
            debug!("{peer}: bad HTTP head: {err}");
            let response = http_response("400 Bad Request", "", "bad request\n");
            let _ = stream.write_all(response.as_bytes()).await;
            return;
        }
        Err(_) => {
            debug!("{peer}: timed out waiting for the HTTP head");
            return;
        }
    };
    let accept_key = match front_door(&head, sessions.config.auth_token.as_deref()) {
        FrontDoor::Respond(response) => {
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
            return;
        }
        FrontDoor::Upgrade { accept_key } => accept_key,
    };
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept_key}\r\n\r\n"
    );
    if let Err(err) = stream.write_all(response.as_bytes()).await {
        debug!("{peer}: writing 101: {err}");
        return;
    }
    let liveness = Arc::new(Liveness::new());
    let stream = Tracked {
        inner: stream,
        liveness: Arc::clone(&liveness),
    };
    let ws = WebSocketStream::from_raw_socket(stream, Role::Server, Some(ws_config)).await;
    debug!("{peer}: websocket connected");
    serve_websocket(ws, sessions, liveness).await;
    debug!("{peer}: websocket closed");
}

enum WriterMsg {
    /// The response to one admitted frame (counted off the backlog once written).
    Text(String),
    /// A process notification from the session's event queue.
    Notification(String),
    Events(ProcessEvents),
    Close(CloseFrame),
}

/// Counts the frames of one connection whose response is not yet written. Every text or
/// binary frame gets at most one response; frames that get none (notifications) are
/// counted off at once.
#[derive(Default)]
struct Backlog {
    unwritten: AtomicUsize,
    writer_gone: AtomicBool,
    changed: Notify,
}

impl Backlog {
    /// Waits until another frame may be read; false when the writer has stopped.
    async fn admit(&self) -> bool {
        loop {
            let changed = self.changed.notified();
            if self.writer_gone.load(Ordering::Acquire) {
                return false;
            }
            if self.unwritten.load(Ordering::Acquire) < MAX_UNWRITTEN_RESPONSES {
                self.unwritten.fetch_add(1, Ordering::AcqRel);
                return true;
            }
            changed.await;
        }
    }

    /// One admitted frame is done: its response was written, or it needed none.
    fn done(&self) {
        self.unwritten.fetch_sub(1, Ordering::AcqRel);
        self.changed.notify_waiters();
    }

    fn writer_stopped(&self) {
        self.writer_gone.store(true, Ordering::Release);
        self.changed.notify_waiters();
    }
}

struct Connection {
    sessions: Arc<Sessions>,
    backlog: Arc<Backlog>,
    out: mpsc::UnboundedSender<WriterMsg>,
    attached: Mutex<Option<(Arc<Session>, u64)>>,
    closed: watch::Sender<bool>,
}

async fn serve_websocket<S: Transport>(
    ws: WebSocketStream<Tracked<S>>,
    sessions: Arc<Sessions>,
    liveness: Arc<Liveness>,
) {
    let client_timeout = sessions.config.client_timeout;
    let (sink, mut stream) = ws.split();
    let (out, out_rx) = mpsc::unbounded_channel();
    let (closed, _) = watch::channel(false);
    let backlog = Arc::new(Backlog::default());
    let conn = Arc::new(Connection {
        sessions,
        backlog: Arc::clone(&backlog),
        out,
        attached: Mutex::new(None),
        closed,
    });
    let mut writer = tokio::spawn(write_loop(
        sink,
        out_rx,
        Arc::clone(&backlog),
        Arc::clone(&liveness),
        client_timeout / 3,
    ));
    loop {
        // The timeout covers waiting to be allowed to read (answers the client does not
        // take) and the read itself; any sign of life meanwhile (see `Liveness`) moves the
        // deadline on. While the backlog is full, pongs cannot be read, so a client that
        // keeps more than `MAX_UNWRITTEN_RESPONSES` requests unanswered (long-polls) for
        // longer than the timeout is closed too.
        let next = async {
            if backlog.admit().await {
                stream.next().await
            } else {
                None
            }
        };
        tokio::pin!(next);
        let message = loop {
            let deadline = liveness.last_sign() + client_timeout;
            match tokio::time::timeout_at(deadline, &mut next).await {
                Ok(message) => break Ok(message),
                Err(_) if liveness.last_sign() + client_timeout > tokio::time::Instant::now() => {}
                Err(timed_out) => break Err(timed_out),
            }
        };
        let message = match message {
            Ok(Some(message)) => message,
            Ok(None) => break,
            Err(_) => {
                warn!(
                    "no sign of life from the client for {client_timeout:?} (not even a \
                     pong); closing the connection and detaching its session"
                );
                break;
            }
        };
        if !matches!(message, Ok(Message::Text(_) | Message::Binary(_))) {
            // Only text and binary frames are answered.
            backlog.done();
        }
        match message {
            Ok(Message::Text(text)) => conn.handle_text(text.as_str()),
            Ok(Message::Binary(_)) => conn.send_error(
                Value::Null,
                error_code::INVALID_REQUEST,
                "binary frames are not supported; send JSON-RPC as text frames".to_string(),
                None,
            ),
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
            Ok(Message::Close(_)) => break,
            Err(tungstenite::Error::Capacity(err)) => {
                warn!("closing connection: {err}");
                let _ = conn.out.send(WriterMsg::Close(CloseFrame {
                    code: CloseCode::Size,
                    reason: format!("message too large: {err}").into(),
                }));
                break;
            }
            Err(err) => {
                debug!("websocket read error: {err}");
                break;
            }
        }
    }
    conn.closed.send_replace(true);
    if let Some((session, generation)) = lock(&conn.attached).take() {
        conn.sessions.detach(&session, generation);
    }
    let _ = conn.out.send(WriterMsg::Close(CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    }));
    // A peer that stopped reading would keep the writer (and what it still holds) forever.
    if tokio::time::timeout(client_timeout, &mut writer)
        .await
        .is_err()
    {
        warn!(
            "the client took no answer for {client_timeout:?} after the connection ended; \
             dropping the connection and what was still queued for it"
        );
        writer.abort();
    }
}

async fn next_event(events: &mut Option<ProcessEvents>) -> Option<crate::protocol::ProcessEvent> {
    match events {
        Some(events) => events.recv().await,
        None => std::future::pending().await,
    }
}

async fn write_loop<S: Transport>(
    sink: futures_util::stream::SplitSink<WebSocketStream<Tracked<S>>, Message>,
    rx: mpsc::UnboundedReceiver<WriterMsg>,
    backlog: Arc<Backlog>,
    liveness: Arc<Liveness>,
    ping_every: Duration,
) {
    write_messages(sink, rx, &backlog, &liveness, ping_every).await;
    backlog.writer_stopped();
}

/// Sends an answer or notification; its byte progress counts as the client's sign of life
/// (see [`Liveness`]).
async fn send_payload<S: Transport>(
    sink: &mut futures_util::stream::SplitSink<WebSocketStream<Tracked<S>>, Message>,
    text: String,
    liveness: &Liveness,
) -> Result<(), tungstenite::Error> {
    liveness.writing_payload.store(true, Ordering::Relaxed);
    let sent = sink.send(Message::text(text)).await;
    liveness.writing_payload.store(false, Ordering::Relaxed);
    sent
}

async fn write_messages<S: Transport>(
    mut sink: futures_util::stream::SplitSink<WebSocketStream<Tracked<S>>, Message>,
    mut rx: mpsc::UnboundedReceiver<WriterMsg>,
    backlog: &Backlog,
    liveness: &Liveness,
    ping_every: Duration,
) {
    let mut events: Option<ProcessEvents> = None;
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let msg = tokio::select! {
            biased;
            // First, so that a busy stream of answers and notifications cannot starve it.
            _ = pings.tick() => {
                // A live client answers with a pong, which the reader counts as heard.
                if let Err(err) = sink.send(Message::Ping(Default::default())).await {
                    debug!("websocket ping failed: {err}");
                    break;
                }
                continue;
            }
            msg = rx.recv() => match msg {
                Some(msg) => msg,
                None => break,
            },
            event = next_event(&mut events) => match event {
                Some(event) => match event.to_notification_text() {
                    Some(notification) => WriterMsg::Notification(notification),
                    None => continue,
                },
                None => {
                    events = None;
                    continue;
                }
            },
        };
        match msg {
            WriterMsg::Text(text) => {
                let sent = send_payload(&mut sink, text, liveness).await;
                backlog.done();
                if let Err(err) = sent {
                    debug!("websocket write failed: {err}");
                    break;
                }
            }
            WriterMsg::Notification(text) => {
                if let Err(err) = send_payload(&mut sink, text, liveness).await {
                    debug!("websocket write failed: {err}");
                    break;
                }
            }
            WriterMsg::Events(new_events) => events = Some(new_events),
            WriterMsg::Close(frame) => {
                let _ = sink.send(Message::Close(Some(frame))).await;
                break;
            }
        }
    }
    let _ = sink.close().await;
}

/// A validated incoming message.
enum Incoming {
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
    },
}

fn validate(value: Value) -> Result<Incoming, (Value, String)> {
    let Value::Object(mut object) = value else {
        return Err((Value::Null, "a request must be a JSON object".to_string()));
    };
    let id = object.remove("id");
    let id_for_error = match &id {
        Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
        _ => Value::Null,
    };
    let invalid = |message: String| Err((id_for_error.clone(), message));
    match object.remove("jsonrpc") {
        None => {}
        Some(Value::String(version)) if version == JSONRPC_VERSION => {}
        Some(other) => return invalid(format!("unsupported jsonrpc version {other}")),
    }
    let method = match object.remove("method") {
        Some(Value::String(method)) => method,
        Some(_) => return invalid("`method` must be a string".to_string()),
        None => return invalid("missing `method`".to_string()),
    };
    let params = object.remove("params").unwrap_or(Value::Null);
    if let Some(extra) = object.keys().next() {
        return invalid(format!("unknown member `{extra}` in request"));
    }
    match id {
        None => Ok(Incoming::Notification { method }),
        Some(Value::String(_) | Value::Number(_)) => Ok(Incoming::Request {
            id: id_for_error,
            method,
            params,
        }),
        Some(_) => invalid("`id` must be a string or a number".to_string()),
    }
}

fn parse_params<T: DeserializeOwned>(params: Value) -> Result<T, RpcError> {
    let params = match params {
        Value::Null => Value::Object(serde_json::Map::new()),
        Value::Object(_) => params,
        _ => {
            return Err(RpcError {
                code: error_code::INVALID_PARAMS,
                message: "params must be an object".to_string(),
                data: None,
            });
        }
    };
    serde_json::from_value(params).map_err(|err| RpcError {
        code: error_code::INVALID_PARAMS,
        message: format!("invalid params: {err}"),
        data: None,
    })
}

impl Connection {
    fn send_json(&self, value: Value) {
        let _ = self.out.send(WriterMsg::Text(value.to_string()));
    }

    fn send_error(&self, id: Value, code: i64, message: String, data: Option<Value>) {
        self.send_rpc_error(
            id,
            RpcError {
                code,
                message,
                data,
            },
        );
    }

    fn send_rpc_error(&self, id: Value, error: RpcError) {
        self.send_json(json!({"jsonrpc": JSONRPC_VERSION, "id": id, "error": error}));
    }

    fn send_result<T: Serialize>(&self, id: Value, result: Result<T, ExecError>) {
        #[derive(Serialize)]
        struct Response<'a, T> {
            jsonrpc: &'static str,
            id: &'a Value,
            result: &'a T,
        }
        // Serialized in one pass (read replies carry up to megabytes of base64).
        let text = result.map(|result| {
            serde_json::to_string(&Response {
                jsonrpc: JSONRPC_VERSION,
                id: &id,
                result: &result,
            })
        });
        match text {
            Ok(Ok(text)) => {
                let _ = self.out.send(WriterMsg::Text(text));
            }
            Ok(Err(err)) => self.send_rpc_error(
                id,
                ExecError::Internal(format!("serializing result: {err}")).to_rpc_error(),
            ),
            Err(err) => self.send_rpc_error(id, err.to_rpc_error()),
        }
    }

    fn handle_text(self: &Arc<Self>, text: &str) {
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(err) => {
                return self.send_error(
                    Value::Null,
                    error_code::PARSE_ERROR,
                    format!("parse error: {err}"),
                    None,
                );
            }
        };
        match validate(value) {
            Err((id, message)) => self.send_error(id, error_code::INVALID_REQUEST, message, None),
            Ok(Incoming::Notification { method }) => {
                // Notifications get no response: nothing to wait for.
                self.backlog.done();
                if method != method::INITIALIZED {
                    debug!("ignoring notification `{method}`");
                }
            }
            Ok(Incoming::Request { id, method, params }) => self.dispatch(id, &method, params),
        }
    }

    /// Run `future` in its own task and answer `id` with its result, unless the connection
    /// closes first or (with `generation`) the session is taken over by another connection.
    fn reply_later<T, F>(self: &Arc<Self>, id: Value, session: &Session, generation: u64, future: F)
    where
        T: Serialize + Send + 'static,
        F: Future<Output = Result<T, ExecError>> + Send + 'static,
    {
        let conn = Arc::clone(self);
        let mut closed = self.closed.subscribe();
        let mut current = session.generation.subscribe();
        tokio::spawn(async move {
            let result = tokio::select! {
                result = future => result,
                _ = current.wait_for(|g| *g != generation) => Err(ExecError::SessionTakenOver),
                _ = closed.wait_for(|closed| *closed) => return,
            };
            conn.send_result(id, result);
        });
    }

    fn dispatch(self: &Arc<Self>, id: Value, method_name: &str, params: Value) {
        if method_name == method::INITIALIZE {
            let result = self.initialize(params);
            return match result {
                Ok(response) => self.send_result(id, Ok(response)),
                Err(error) => self.send_rpc_error(id, error),
            };
        }
        let Some((session, generation)) = lock(&self.attached).clone() else {
            return self.send_error(
                id,
                error_code::INVALID_REQUEST,
                "send `initialize` before any other request".to_string(),
                None,
            );
        };
        if *session.generation.borrow() != generation {
            return self.send_result::<()>(id, Err(ExecError::SessionTakenOver));
        }
        let processes = &session.processes;
        macro_rules! params {
            ($ty:ty) => {
                match parse_params::<$ty>(params) {
                    Ok(params) => params,
                    Err(error) => return self.send_rpc_error(id, error),
                }
            };
        }
        match method_name {
            method::PROCESS_START => {
                let future = processes.start(params!(crate::protocol::StartParams));
                self.reply_later(id, &session, generation, future);
            }
            method::PROCESS_READ => {
                let future = processes.read(params!(crate::protocol::ReadParams));
                self.reply_later(id, &session, generation, future);
            }
            method::PROCESS_WRITE => {
                let future = processes.write(params!(crate::protocol::WriteParams));
                self.reply_later(id, &session, generation, future);
            }
            method::PROCESS_SIGNAL => {
                let future = processes.signal(params!(crate::protocol::SignalParams));
                self.reply_later(id, &session, generation, future);
            }
            method::PROCESS_TERMINATE => {
                let future = processes.terminate(params!(crate::protocol::TerminateParams));
                self.reply_later(id, &session, generation, future);
            }
            method::FS_READ_FILE => {
                let params = params!(ReadFileParams);
                let fs = session.file_system.clone();
                let future = async move {
                    let data = fs
                        .read_file(&params.path, params.sandbox_policy.as_ref())
                        .await;
                    fs_result(data.map(|data| ReadFileResponse {
                        data_base64: data.into(),
                    }))
                };
                self.reply_later(id, &session, generation, future);
            }
            method::FS_WRITE_FILE => {
                let params = params!(WriteFileParams);
                let fs = session.file_system.clone();
                let future = async move {
                    let WriteFileParams {
                        path,
                        data_base64,
                        sandbox_policy,
                    } = params;
                    let result = fs
                        .write_file(&path, data_base64.0.to_vec(), sandbox_policy.as_ref())
                        .await;
                    fs_result(result.map(|()| EmptyResponse {}))
                };
                self.reply_later(id, &session, generation, future);
            }
            method::FS_CREATE_DIRECTORY => {
                let params = params!(CreateDirectoryParams);
                let fs = session.file_system.clone();
                let future = async move {
                    let options = CreateDirectoryOptions {
                        recursive: params.recursive.unwrap_or(false),
                    };
                    let result = fs
                        .create_directory(&params.path, options, params.sandbox_policy.as_ref())
                        .await;
                    fs_result(result.map(|()| EmptyResponse {}))
                };
                self.reply_later(id, &session, generation, future);
            }
            method::FS_GET_METADATA => {
                let params = params!(GetMetadataParams);
                let fs = session.file_system.clone();
                let future = async move {
                    fs_result(
                        fs.get_metadata(&params.path, params.sandbox_policy.as_ref())
                            .await,
                    )
                };
                self.reply_later(id, &session, generation, future);
            }
            method::FS_READ_DIRECTORY => {
                let params = params!(ReadDirectoryParams);
                let fs = session.file_system.clone();
                let future = async move {
                    let entries = fs
                        .read_directory(&params.path, params.sandbox_policy.as_ref())
                        .await;
                    fs_result(entries.map(|entries| ReadDirectoryResponse { entries }))
                };
                self.reply_later(id, &session, generation, future);
            }
            method::FS_REMOVE => {
                let params = params!(RemoveParams);
                let fs = session.file_system.clone();
                let future = async move {
                    let options = RemoveOptions {
                        recursive: params.recursive.unwrap_or(false),
                        force: params.force.unwrap_or(false),
                    };
                    let result = fs
                        .remove(&params.path, options, params.sandbox_policy.as_ref())
                        .await;
                    fs_result(result.map(|()| EmptyResponse {}))
                };
                self.reply_later(id, &session, generation, future);
            }
            method::FS_CHECK_WRITE => {
                let params = params!(CheckWriteParams);
                let fs = session.file_system.clone();
                let future = async move {
                    let result = fs
                        .check_write(&params.path, params.sandbox_policy.as_ref())
                        .await;
                    fs_result(result.map(|()| EmptyResponse {}))
                };
                self.reply_later(id, &session, generation, future);
            }
            method::FS_COPY => {
                let params = params!(CopyParams);
                let fs = session.file_system.clone();
                let future = async move {
                    let options = CopyOptions {
                        recursive: params.recursive.unwrap_or(false),
                    };
                    let result = fs
                        .copy(
                            &params.source_path,
                            &params.destination_path,
                            options,
                            params.sandbox_policy.as_ref(),
                        )
                        .await;
                    fs_result(result.map(|()| EmptyResponse {}))
                };
                self.reply_later(id, &session, generation, future);
            }
            _ => self.send_error(
                id,
                error_code::METHOD_NOT_FOUND,
                format!("unknown method `{method_name}`"),
                None,
            ),
        }
    }

    fn initialize(&self, params: Value) -> Result<InitializeResponse, RpcError> {
        let mut attached = lock(&self.attached);
        if attached.is_some() {
            return Err(RpcError {
                code: error_code::INVALID_REQUEST,
                message: "already initialized".to_string(),
                data: None,
            });
        }
        let params: InitializeParams = parse_params(params)?;
        let (session, generation) = match &params.resume_session_id {
            None => self.sessions.create(),
            Some(id) => self.sessions.resume(id).map_err(|err| err.to_rpc_error())?,
        };
        debug!(
            session_id = session.id,
            client_name = params.client_name,
            resumed = params.resume_session_id.is_some(),
            "initialize"
        );
        let events = if params.output_notifications {
            session.processes.events()
        } else {
            session.processes.lifecycle_events()
        };
        let _ = self.out.send(WriterMsg::Events(events));
        let response = InitializeResponse {
            session_id: session.id.clone(),
            capabilities: Capabilities {
                exec: true,
                filesystem: true,
            },
        };
        *attached = Some((session, generation));
        Ok(response)
    }
}

/// An `fs/*` result in the shape [`Connection::reply_later`] sends: the typed error becomes
/// its exact wire error.
fn fs_result<T>(result: Result<T, FileSystemError>) -> Result<T, ExecError> {
    result.map_err(|err| ExecError::Rpc(crate::fs_error::fs_error_to_rpc(&err)))
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
