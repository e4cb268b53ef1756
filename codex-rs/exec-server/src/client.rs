//! `ExecServerClient`: a JSON-RPC client for the exec-server that survives disconnects.
//!
//! Two tasks do the work. The *connection task* owns the WebSocket: it sends requests,
//! routes responses by id, and on a lost connection reconnects with backoff and resumes the
//! session (`initialize {resumeSessionId}`), re-sending requests that are safe to repeat
//! (everything but `process/start`; writes always carry a `writeId`). The *tracker task*
//! turns notifications into the caller's event stream: it remembers the last `seq` seen per
//! process, and whenever a notification skips ahead (the server dropped notifications for a
//! slow client) or the session was resumed, it re-reads with `process/read {afterSeq}` and
//! fills the hole, so the caller sees every retained byte once, in order, and any output the
//! server no longer retained as an explicit [`ProcessEvent::Gap`].
//!
//! The modules: [`config`] ([`ClientConfig`]), [`handshake`] (opening a connection),
//! [`connection`] (the connection task and reconnect) and [`tracker`] (the tracker task).

mod config;
mod connection;
mod handshake;
mod tracker;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::WebSocketStream;

use codex_file_system::FileSystemError;

use crate::error::ExecError;
use crate::exec_process::ExecProcess;
use crate::exec_process::ProcessEvents;
use crate::protocol::Capabilities;
use crate::protocol::ProcessEvent;
use crate::protocol::ReadParams;
use crate::protocol::ReadResponse;
use crate::protocol::RpcError;
use crate::protocol::SignalParams;
use crate::protocol::SignalResponse;
use crate::protocol::StartParams;
use crate::protocol::StartResponse;
use crate::protocol::TerminateParams;
use crate::protocol::TerminateResponse;
use crate::protocol::WriteParams;
use crate::protocol::WriteResponse;
use crate::protocol::method;

pub use config::ClientConfig;

use connection::connection_task;
use handshake::open;
use tracker::tracker_task;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
/// A reply's raw `result` JSON, parsed once by the caller into its typed struct.
type Reply = Result<String, ReplyError>;

enum ReplyError {
    Rpc(RpcError),
    Transport(String),
}

struct Pending {
    method: &'static str,
    params: Value,
    retryable: bool,
    reply: oneshot::Sender<Reply>,
}

enum TrackerMsg {
    Register(String),
    Event(ProcessEvent),
    Resumed,
}

type Subscriber = Arc<Mutex<Option<mpsc::UnboundedSender<ProcessEvent>>>>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A connected client. Cloning shares the connection; dropping the last clone closes it.
#[derive(Clone)]
pub struct ExecServerClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    requests: mpsc::UnboundedSender<Pending>,
    tracker: mpsc::UnboundedSender<TrackerMsg>,
    subscriber: Subscriber,
    session_id: String,
    capabilities: Capabilities,
}

impl ExecServerClient {
    /// Connect, `initialize` a new session and send `initialized`.
    pub async fn connect(config: ClientConfig) -> Result<Self, ExecError> {
        let config = config.with_token_from_url()?;
        let (ws, init) = open(&config, /*resume_session_id*/ None).await?;
        let (requests, requests_rx) = mpsc::unbounded_channel();
        let (tracker, tracker_rx) = mpsc::unbounded_channel();
        let subscriber: Subscriber = Arc::new(Mutex::new(None));
        tokio::spawn(connection_task(
            config,
            init.session_id.clone(),
            ws,
            requests_rx,
            tracker.clone(),
        ));
        tokio::spawn(tracker_task(
            requests.downgrade(),
            tracker_rx,
            Arc::clone(&subscriber),
        ));
        Ok(Self {
            inner: Arc::new(ClientInner {
                requests,
                tracker,
                subscriber,
                session_id: init.session_id,
                capabilities: init.capabilities,
            }),
        })
    }

    /// The session this client owns (kept across reconnects).
    pub fn session_id(&self) -> &str {
        &self.inner.session_id
    }

    /// What the server offers.
    pub fn capabilities(&self) -> Capabilities {
        self.inner.capabilities
    }

    async fn request<P: Serialize, R: DeserializeOwned>(
        &self,
        method_name: &'static str,
        params: &P,
        process_id: &str,
    ) -> Result<R, ExecError> {
        let params = serde_json::to_value(params)
            .map_err(|err| ExecError::Internal(format!("serializing params: {err}")))?;
        let raw = send_request(
            &self.inner.requests,
            method_name,
            params,
            /*retryable*/ method_name != method::PROCESS_START,
        )
        .await
        .map_err(|err| match err {
            ReplyError::Rpc(err) => ExecError::from_rpc_error(err, Some(process_id)),
            ReplyError::Transport(message) => ExecError::Transport(message),
        })?;
        serde_json::from_str(&raw)
            .map_err(|err| ExecError::Transport(format!("unexpected {method_name} result: {err}")))
    }

    /// An `fs/*` request; errors come back as the typed [`FileSystemError`] the server
    /// reported. Requests that change the disk are not re-sent after a reconnect (a retried
    /// `fs/remove` would report `notFound` for its own success): their outcome is unknown.
    pub(crate) async fn fs_request<P: Serialize, R: DeserializeOwned>(
        &self,
        method_name: &'static str,
        params: &P,
    ) -> Result<R, FileSystemError> {
        let params = serde_json::to_value(params)
            .map_err(|err| FileSystemError::InvalidParams(format!("serializing params: {err}")))?;
        let retryable = matches!(
            method_name,
            method::FS_READ_FILE
                | method::FS_GET_METADATA
                | method::FS_READ_DIRECTORY
                | method::FS_CHECK_WRITE
        );
        let raw = send_request(&self.inner.requests, method_name, params, retryable)
            .await
            .map_err(|err| match err {
                ReplyError::Rpc(err) => crate::fs_error::fs_error_from_rpc(err),
                ReplyError::Transport(message) => FileSystemError::Transport(message),
            })?;
        serde_json::from_str(&raw).map_err(|err| {
            FileSystemError::Transport(format!("unexpected {method_name} result: {err}"))
        })
    }

    /// `process/start`.
    pub async fn start(&self, params: StartParams) -> Result<StartResponse, ExecError> {
        let _ = self
            .inner
            .tracker
            .send(TrackerMsg::Register(params.process_id.clone()));
        let process_id = params.process_id.clone();
        self.request(method::PROCESS_START, &params, &process_id)
            .await
    }

    /// `process/read`.
    pub async fn read(&self, params: ReadParams) -> Result<ReadResponse, ExecError> {
        self.request(method::PROCESS_READ, &params, &params.process_id)
            .await
    }

    /// `process/write`. A missing `writeId` is filled in, so a write retried after a
    /// reconnect is never applied twice.
    pub async fn write(&self, mut params: WriteParams) -> Result<WriteResponse, ExecError> {
        params
            .write_id
            .get_or_insert_with(|| uuid::Uuid::new_v4().to_string());
        self.request(method::PROCESS_WRITE, &params, &params.process_id)
            .await
    }

    /// `process/signal`.
    pub async fn signal(&self, params: SignalParams) -> Result<SignalResponse, ExecError> {
        self.request(method::PROCESS_SIGNAL, &params, &params.process_id)
            .await
    }

    /// `process/terminate`.
    pub async fn terminate(&self, params: TerminateParams) -> Result<TerminateResponse, ExecError> {
        self.request(method::PROCESS_TERMINATE, &params, &params.process_id)
            .await
    }

    /// Events of this session's processes, gap-filled across dropped notifications and
    /// reconnects. Replaces any previous subscription; events before the first subscription
    /// are not buffered, so subscribe before starting processes. The stream ends when the
    /// session is lost (expired, or the server unreachable past the reconnect timeout).
    pub fn events(&self) -> ProcessEvents {
        let (tx, rx) = mpsc::unbounded_channel();
        *lock(&self.inner.subscriber) = Some(tx);
        ProcessEvents::unbounded(rx)
    }
}

async fn send_request(
    requests: &mpsc::UnboundedSender<Pending>,
    method_name: &'static str,
    params: Value,
    retryable: bool,
) -> Reply {
    let (reply, rx) = oneshot::channel();
    requests
        .send(Pending {
            method: method_name,
            params,
            retryable,
            reply,
        })
        .map_err(|_| ReplyError::Transport("the client is closed".to_string()))?;
    rx.await
        .map_err(|_| ReplyError::Transport("the session was lost".to_string()))?
}

/// [`ExecProcess`] over an [`ExecServerClient`]: processes run where the server runs.
/// Nothing (not even `cwd`) is checked or read on this machine.
#[derive(Clone)]
pub struct RemoteProcess {
    client: ExecServerClient,
}

impl RemoteProcess {
    /// Wrap a connected client.
    pub fn new(client: ExecServerClient) -> Self {
        Self { client }
    }

    /// The underlying client.
    pub fn client(&self) -> &ExecServerClient {
        &self.client
    }
}

impl ExecProcess for RemoteProcess {
    async fn start(&self, params: StartParams) -> Result<StartResponse, ExecError> {
        self.client.start(params).await
    }

    async fn read(&self, params: ReadParams) -> Result<ReadResponse, ExecError> {
        self.client.read(params).await
    }

    async fn write(&self, params: WriteParams) -> Result<WriteResponse, ExecError> {
        self.client.write(params).await
    }

    async fn signal(&self, params: SignalParams) -> Result<SignalResponse, ExecError> {
        self.client.signal(params).await
    }

    async fn terminate(&self, params: TerminateParams) -> Result<TerminateResponse, ExecError> {
        self.client.terminate(params).await
    }

    fn events(&self) -> ProcessEvents {
        self.client.events()
    }
}
