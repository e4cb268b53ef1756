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
mod server_requests;
mod state;

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tokio::sync::watch;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use codex_file_system::FileSystemError;

use crate::error::ExecError;
use crate::event_router::AckFn;
use crate::event_router::Backend as RouterBackend;
use crate::event_router::NotifyFn;
use crate::event_router::ROUTER_QUEUE;
use crate::event_router::ReadFn;
use crate::event_router::RouterMsg;
use crate::event_router::run_router;
use crate::event_router::subscription;
use crate::exec_process::BoxFuture;
use crate::exec_process::ExecFuture;
use crate::exec_process::ExecProcess;
use crate::process_stream::ProcessStream;
use crate::protocol::AckParams;
use crate::protocol::AckResponse;
use crate::protocol::ByteChunk;
use crate::protocol::Capabilities;
use crate::protocol::OutputNotificationsParams;
use crate::protocol::OutputNotificationsResponse;
use crate::protocol::ReadParams;
use crate::protocol::ReadResponse;
use crate::protocol::ResizeParams;
use crate::protocol::ResizeResponse;
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

pub use config::ApprovalHandler;
pub use config::ClientConfig;
pub use state::ConnectionState;

use connection::connection_task;
use handshake::open;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
/// A reply's raw `result` JSON, parsed once by the caller into its typed struct.
type Reply = Result<RawResult, ReplyError>;
/// What the connection task hands the event router.
type TrackerMsg = RouterMsg;

/// The `result` of a reply as it arrived.
enum RawResult {
    /// A JSON text reply: where its `result` is in the frame's text, which is kept rather
    /// than copied (a `process/read` result carries up to megabytes of base64).
    Json {
        frame: Utf8Bytes,
        range: std::ops::Range<usize>,
    },
    /// A `process/read` reply that came as a binary frame, already decoded: its chunks are
    /// slices of the frame.
    Read(ReadResponse),
}

impl RawResult {
    /// The result's JSON text (empty for a binary reply).
    fn json(&self) -> &str {
        match self {
            RawResult::Json { frame, range } => {
                frame.as_str().get(range.clone()).unwrap_or_default()
            }
            RawResult::Read(_) => "",
        }
    }

    /// Parse the result into its typed struct (the only pass over its text). A binary
    /// reply is only ever a `process/read` result: for anything else it is an error.
    fn parse<R: DeserializeOwned>(&self) -> serde_json::Result<R> {
        match self {
            RawResult::Json { .. } => serde_json::from_str(self.json()),
            RawResult::Read(_) => Err(serde::de::Error::custom(
                "a binary frame answered a request other than `process/read`",
            )),
        }
    }

    /// A `process/read` result whose chunks share one buffer (the reply's): read in one
    /// pass by [`ReadResponse::from_result_text`], or as the binary frame decoded it.
    fn into_read_response(self) -> serde_json::Result<ReadResponse> {
        match self {
            RawResult::Json { .. } => ReadResponse::from_result_text(self.json()),
            RawResult::Read(response) => Ok(response),
        }
    }

    /// A `process/read` result whose chunks each have a buffer of their own, so that
    /// keeping one of them keeps nothing else of the reply alive.
    fn into_separate_read_response(self) -> serde_json::Result<ReadResponse> {
        match self {
            RawResult::Json { .. } => self.parse(),
            RawResult::Read(mut response) => {
                for chunk in &mut response.chunks {
                    chunk.chunk = ByteChunk::from(chunk.chunk.as_bytes());
                }
                Ok(response)
            }
        }
    }
}

enum ReplyError {
    /// The server answered with an error.
    Rpc(RpcError),
    /// The client could not get an answer (timeout, session lost, reply too large, ...).
    Client(ExecError),
}

struct Pending {
    method: &'static str,
    params: Value,
    retryable: bool,
    reply: oneshot::Sender<Reply>,
}

/// A connected client. Cloning shares the connection; dropping the last clone closes it.
#[derive(Clone)]
pub struct ExecServerClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    requests: Requests,
    router: mpsc::Sender<RouterMsg>,
    session_id: String,
    capabilities: Capabilities,
    binary_output: bool,
    config: ClientConfig,
}

/// The way to the connection task, with what a request needs to fail with the right error.
#[derive(Clone)]
struct Requests {
    tx: mpsc::WeakUnboundedSender<Pending>,
    /// Keeps the connection task alive; `None` in the router's copy (which must not).
    _strong: Option<mpsc::UnboundedSender<Pending>>,
    state: watch::Receiver<ConnectionState>,
    session_id: Arc<str>,
    timeout: std::time::Duration,
}

impl ExecServerClient {
    /// Connect, `initialize` a new session and send `initialized`.
    pub async fn connect(config: ClientConfig) -> Result<Self, ExecError> {
        let config = config.with_token_from_url()?;
        let (ws, init) = open(&config, /*resume_session_id*/ None).await?;
        let (requests_tx, requests_rx) = mpsc::unbounded_channel();
        let (router, router_rx) = mpsc::channel(ROUTER_QUEUE);
        let (state_tx, state) = watch::channel(ConnectionState::Connected);
        let session_id: Arc<str> = Arc::from(init.session_id.as_str());
        let requests = Requests {
            tx: requests_tx.downgrade(),
            _strong: Some(requests_tx),
            state: state.clone(),
            session_id: Arc::clone(&session_id),
            timeout: config.request_timeout,
        };
        tokio::spawn(connection_task(
            config.clone(),
            init.session_id.clone(),
            ws,
            requests_rx,
            router.clone(),
            state_tx,
        ));
        let reader = Requests {
            _strong: None,
            ..requests.clone()
        };
        let notifier = reader.clone();
        let notifier_for_acks = reader.clone();
        let read: ReadFn = Arc::new(move |params: ReadParams| {
            let reader = reader.clone();
            // A buffer per chunk: the stream's consumer may keep any of them for a while,
            // which must not keep the rest of the reply (see
            // `ReadResponse::from_result_text`).
            Box::pin(async move {
                reader.read(&params, /*separate_chunks*/ true).await
            })
        });
        let notify: NotifyFn = Arc::new(move |params: OutputNotificationsParams| {
            let notifier = notifier.clone();
            Box::pin(async move {
                let process_id = params.process_id.clone();
                notifier
                    .typed::<_, OutputNotificationsResponse>(
                        method::PROCESS_OUTPUT_NOTIFICATIONS,
                        &params,
                        &process_id,
                        /*retryable*/ true,
                    )
                    .await
                    .map(|_| ())
            })
        });
        // Acknowledgements go to a server that agreed to count delivery by them.
        let ack: Option<AckFn> = init.acknowledge_output.then(|| {
            let acker = notifier_for_acks.clone();
            let ack: AckFn = Arc::new(move |params: AckParams| {
                let acker = acker.clone();
                Box::pin(async move {
                    let process_id = params.process_id.clone();
                    acker
                        .typed::<_, AckResponse>(
                            method::PROCESS_ACK,
                            &params,
                            &process_id,
                            /*retryable*/ false,
                        )
                        .await
                        .map(|_| ())
                })
            });
            ack
        });
        let backend = RouterBackend { read, notify, ack };
        // The router and the watcher below must not keep the connection alive.
        let weak = Requests {
            _strong: None,
            ..requests.clone()
        };
        let lost = weak.clone();
        tokio::spawn(run_router(
            router_rx,
            backend,
            Box::new(move || Some(lost.gone_error())),
        ));
        // Once the session is lost, every stream ends with the reason (the router itself
        // lives as long as a client handle does).
        let mut changes = state;
        let watcher = weak;
        let lost_router = router.downgrade();
        tokio::spawn(async move {
            let lost = changes
                .wait_for(|state| matches!(state, ConnectionState::Lost(_)))
                .await
                .is_ok();
            if let (true, Some(router)) = (lost, lost_router.upgrade()) {
                let _ = router.send(RouterMsg::Lost(watcher.gone_error())).await;
            }
        });
        Ok(Self {
            inner: Arc::new(ClientInner {
                requests,
                router,
                session_id: init.session_id,
                capabilities: init.capabilities,
                binary_output: init.binary_output,
                config,
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

    /// Whether the server sends this client's output as binary frames (it asked, with
    /// [`ClientConfig::binary_output`], and the server offered them at `initialize`), as
    /// agreed on the first connection. A connection after a reconnect agrees again, and
    /// the client reads either framing whatever this says.
    pub fn binary_output(&self) -> bool {
        self.inner.binary_output
    }

    /// Where the connection stands now (see [`ConnectionState`]).
    pub fn state(&self) -> ConnectionState {
        self.inner.requests.state.borrow().clone()
    }

    /// A receiver of [`ConnectionState`] changes, to wait for `Connected` again or for
    /// the session to be lost.
    pub fn state_changes(&self) -> watch::Receiver<ConnectionState> {
        self.inner.requests.state.clone()
    }

    /// A new client with a new session on the same server, with the same configuration:
    /// what to do after [`ExecError::SessionLost`]. Processes of the old session are not
    /// reachable from the new one.
    pub async fn new_session(&self) -> Result<ExecServerClient, ExecError> {
        Self::connect(self.inner.config.clone()).await
    }

    /// A `process/*` request. `process/start` is not re-sent after a reconnect: one that
    /// was in flight fails with [`ExecError::OutcomeUnknown`] (a re-sent start whose first
    /// try ran would be refused as a duplicate).
    async fn request<P: Serialize, R: DeserializeOwned>(
        &self,
        method_name: &'static str,
        params: &P,
        process_id: &str,
    ) -> Result<R, ExecError> {
        let retryable = method_name != method::PROCESS_START;
        self.inner
            .requests
            .typed(method_name, params, process_id, retryable)
            .await
    }

    /// An `fs/*` request; errors come back as the typed [`FileSystemError`] the server
    /// reported. Requests that change the disk are not re-sent after a reconnect (a retried
    /// `fs/remove` would report `notFound` for its own success): their outcome is unknown.
    pub(crate) async fn fs_request<P: Serialize, R: DeserializeOwned>(
        &self,
        method_name: &'static str,
        params: &P,
    ) -> Result<R, FileSystemError> {
        let retryable = matches!(
            method_name,
            method::FS_READ_FILE
                | method::FS_GET_METADATA
                | method::FS_READ_DIRECTORY
                | method::FS_CHECK_WRITE
        );
        let raw = self
            .inner
            .requests
            .call(method_name, params, retryable)
            .await
            .map_err(|err| match err {
                ReplyError::Rpc(err) => crate::fs_error::fs_error_from_rpc(err),
                ReplyError::Client(err) => FileSystemError::Transport(err.to_string()),
            })?;
        raw.parse().map_err(|err| {
            FileSystemError::Transport(format!("unexpected {method_name} result: {err}"))
        })
    }

    /// `process/start`. Output that comes before a [`ExecServerClient::subscribe`] is
    /// caught up by reading; [`ExecServerClient::start_streaming`] subscribes first.
    pub async fn start(&self, params: StartParams) -> Result<StartResponse, ExecError> {
        let process_id = params.process_id.clone();
        self.request(method::PROCESS_START, &params, &process_id)
            .await
    }

    /// Subscribe to the events of `params.process_id`, then `process/start` it: the
    /// stream has every event from the first.
    pub async fn start_streaming(
        &self,
        params: StartParams,
    ) -> Result<(StartResponse, ProcessStream), ExecError> {
        let (stream, subscribe) = subscription(&params.process_id, /*catch_up*/ false);
        self.inner
            .router
            .send(subscribe)
            .await
            .map_err(|_| self.inner.requests.gone_error())?;
        let response = self.start(params).await?;
        Ok((response, stream))
    }

    /// The events of a process this session already started, from its first retained
    /// event (read back), then live. A second subscription to the same process replaces
    /// the first (whose stream then ends).
    pub async fn subscribe(&self, process_id: &str) -> ProcessStream {
        let (stream, subscribe) = subscription(process_id, /*catch_up*/ true);
        match self.inner.router.send(subscribe).await {
            Ok(()) => stream,
            Err(_) => {
                ProcessStream::failed(process_id.to_string(), self.inner.requests.gone_error())
            }
        }
    }

    /// `process/read`. The chunks of the reply share one buffer, freed once the last of
    /// them is dropped.
    pub async fn read(&self, params: ReadParams) -> Result<ReadResponse, ExecError> {
        self.inner
            .requests
            .read(&params, /*separate_chunks*/ false)
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

    /// `process/resize`.
    pub async fn resize(&self, params: ResizeParams) -> Result<ResizeResponse, ExecError> {
        self.request(method::PROCESS_RESIZE, &params, &params.process_id)
            .await
    }
}

impl ReplyError {
    fn into_exec_error(self, process_id: &str) -> ExecError {
        match self {
            ReplyError::Rpc(err) => ExecError::from_rpc_error(err, Some(process_id)),
            ReplyError::Client(err) => err,
        }
    }
}

impl Requests {
    /// The error for a request that cannot be sent or answered because the connection
    /// task is gone.
    fn gone_error(&self) -> ExecError {
        let cause = match &*self.state.borrow() {
            ConnectionState::Lost(cause) => cause.clone(),
            ConnectionState::Connected | ConnectionState::Reconnecting { .. } => {
                crate::error::SessionLoss::Closed
            }
        };
        ExecError::SessionLost {
            session_id: self.session_id.to_string(),
            cause,
        }
    }

    /// Send a request and parse its result.
    async fn typed<P: Serialize, R: DeserializeOwned>(
        &self,
        method_name: &'static str,
        params: &P,
        process_id: &str,
        retryable: bool,
    ) -> Result<R, ExecError> {
        let raw = self
            .call(method_name, params, retryable)
            .await
            .map_err(|err| err.into_exec_error(process_id))?;
        raw.parse()
            .map_err(|err| ExecError::Transport(format!("unexpected {method_name} result: {err}")))
    }

    /// `process/read`: its result, up to megabytes of output, with the chunks in one
    /// buffer ([`RawResult::into_read_response`]) or, with `separate_chunks`, in one each
    /// ([`RawResult::into_separate_read_response`]).
    async fn read(
        &self,
        params: &ReadParams,
        separate_chunks: bool,
    ) -> Result<ReadResponse, ExecError> {
        let raw = self
            .call(method::PROCESS_READ, params, /*retryable*/ true)
            .await
            .map_err(|err| err.into_exec_error(&params.process_id))?;
        let response = if separate_chunks {
            raw.into_separate_read_response()
        } else {
            raw.into_read_response()
        };
        response.map_err(|err| {
            ExecError::Transport(format!("unexpected {} result: {err}", method::PROCESS_READ))
        })
    }

    /// Send a request and wait for its raw result, at most the request deadline.
    async fn call<P: Serialize>(
        &self,
        method_name: &'static str,
        params: &P,
        retryable: bool,
    ) -> Reply {
        let params = serde_json::to_value(params).map_err(|err| {
            ReplyError::Client(ExecError::InvalidParams(format!(
                "serializing {method_name} params: {err}"
            )))
        })?;
        if let ConnectionState::Lost(_) = &*self.state.borrow() {
            return Err(ReplyError::Client(self.gone_error()));
        }
        let (reply, rx) = oneshot::channel();
        let pending = Pending {
            method: method_name,
            params,
            retryable,
            reply,
        };
        let sent = self.tx.upgrade().is_some_and(|tx| tx.send(pending).is_ok());
        if !sent {
            return Err(ReplyError::Client(self.gone_error()));
        }
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => Err(ReplyError::Client(self.gone_error())),
            Err(_) => Err(ReplyError::Client(ExecError::Timeout {
                method: method_name.to_string(),
                timeout: self.timeout,
            })),
        }
    }
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
    fn start(&self, params: StartParams) -> ExecFuture<'_, StartResponse> {
        Box::pin(self.client.start(params))
    }

    fn start_streaming(
        &self,
        params: StartParams,
    ) -> ExecFuture<'_, (StartResponse, ProcessStream)> {
        Box::pin(self.client.start_streaming(params))
    }

    fn subscribe<'a>(&'a self, process_id: &'a str) -> BoxFuture<'a, ProcessStream> {
        Box::pin(self.client.subscribe(process_id))
    }

    fn read(&self, params: ReadParams) -> ExecFuture<'_, ReadResponse> {
        Box::pin(self.client.read(params))
    }

    fn write(&self, params: WriteParams) -> ExecFuture<'_, WriteResponse> {
        Box::pin(self.client.write(params))
    }

    fn signal(&self, params: SignalParams) -> ExecFuture<'_, SignalResponse> {
        Box::pin(self.client.signal(params))
    }

    fn terminate(&self, params: TerminateParams) -> ExecFuture<'_, TerminateResponse> {
        Box::pin(self.client.terminate(params))
    }

    fn resize(&self, params: ResizeParams) -> ExecFuture<'_, ResizeResponse> {
        Box::pin(self.client.resize(params))
    }
}
