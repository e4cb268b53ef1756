//! The WebSocket JSON-RPC server: HTTP front door (health, origin and token checks),
//! per-connection dispatch, and the session registry (detach, TTL, resume with takeover).
//!
//! Requests on a connection run concurrently: the reader loop validates and *enqueues* each
//! request (reserving a process id, queueing a stdin write) in arrival order, then the slow
//! part runs in its own task. Responses go to the connection's writer through a queue whose
//! length is bounded by [`MAX_UNWRITTEN_RESPONSES`]: when that many requests of one
//! connection are unanswered or unwritten (a client that sends but never reads), the server
//! stops reading that connection until the writer catches up, so TCP pushes back on the
//! client and the server's memory stays bounded. Notifications go through the session's
//! event queue. A process with `outputMode: "pace"` (the default) is paused while its client
//! does not take its output (see `local_process`), so nothing is dropped and a stalled
//! client slows only its own processes; with `"drop"`, its notifications are dropped for
//! this connection when the queue is full, and the client recovers them with
//! `process/read` (the Rust client does this automatically when it sees a `seq` hole).
//!
//! The modules: [`config`] (configuration, `--listen`, TLS, start-up errors), [`http`]
//! (the HTTP front door), [`connection`] (a connection's reader loop, client timeout and
//! backlog), [`approvals`] (the server's `approval/request`s and the client's answers), [`liveness`] (signs of life of the client), [`writer`] (a connection's
//! writer), [`rpc`] (JSON-RPC framing and replies), [`router`] (the method table),
//! [`process_handlers`] and [`fs_handlers`] (the methods), [`sessions`] (the registry).

mod approvals;
mod config;
mod connection;
mod fs_handlers;
mod http;
mod liveness;
mod process_handlers;
mod router;
mod rpc;
mod sessions;
mod writer;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::time::Duration;

use tokio::io::AsyncRead;
use tokio::io::AsyncWrite;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::debug;
use tracing::info;
use tracing::warn;

pub use config::DEFAULT_CLIENT_TIMEOUT;
pub use config::DEFAULT_MAX_MESSAGE_BYTES;
pub use config::DEFAULT_SESSION_TTL;
pub use config::ListenUrl;
pub use config::ServerConfig;
pub use config::ServerError;
pub use config::load_tls_config;
pub use config::parse_listen_url;
pub use connection::MAX_UNWRITTEN_RESPONSES;

use http::HTTP_HEAD_TIMEOUT;
use http::handle_socket;
use sessions::Sessions;

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
        config.validate()?;
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
            sessions: Arc::new(Sessions::new(config)),
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
        // Every connection's task: aborted at shutdown, so no client is served afterwards.
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        if let Err(err) = stream.set_nodelay(true) {
                            warn!("TCP_NODELAY on {peer}: {err}");
                        }
                        let sessions = Arc::clone(&self.sessions);
                        let ws_config = self.ws_config;
                        let tls = self.tls.clone();
                        connections.spawn(async move {
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
        info!("shutting down; closing every connection and killing all process groups");
        connections.abort_all();
        while connections.join_next().await.is_some() {}
        self.sessions.kill_all();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What a connection runs over: TCP, or TLS over TCP.
trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Transport for T {}

/// A server running in this process on a free loopback port, without auth, until this
/// handle is dropped (or [`LoopbackServer::shutdown`]): for embedding the exec-server in a
/// program or a test that wants a real remote [`crate::Environment`] next to a local one.
/// Stopping it closes every connection and kills every process, as a server exit does.
pub struct LoopbackServer {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl LoopbackServer {
    /// Binds `127.0.0.1:0` with the default configuration and serves in a task of the
    /// current runtime.
    pub async fn start() -> Result<Self, ServerError> {
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let server = ExecServer::bind(ServerConfig::new(listen)).await?;
        let url = server.url();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Ok(Self {
            url,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Stop the server and wait until every connection is closed and every process
    /// killed.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// The URL to connect to (`ws://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
