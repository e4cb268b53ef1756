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

use std::collections::HashMap;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::time::Duration;

use futures_util::SinkExt;
use futures_util::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tracing::debug;
use tracing::warn;

use codex_file_system::FileSystemError;

use crate::error::ExecError;
use crate::exec_process::ExecProcess;
use crate::exec_process::ProcessEvents;
use crate::protocol::Capabilities;
use crate::protocol::ClosedNotification;
use crate::protocol::ExitedNotification;
use crate::protocol::InitializeParams;
use crate::protocol::InitializeResponse;
use crate::protocol::JSONRPC_VERSION;
use crate::protocol::OutputNotification;
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

/// Bytes per catch-up read.
const CATCH_UP_READ_BYTES: usize = 4 * 1024 * 1024;
const INITIAL_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How to reach a server.
#[derive(Clone)]
pub struct ClientConfig {
    /// `ws://HOST:PORT`, or `wss://HOST:PORT` for TLS. It may carry the token as its
    /// `token` query parameter, as in the first line the server prints
    /// (`ws://127.0.0.1:PORT/?token=HEX`): the client takes it out of the URL and sends it
    /// only as the bearer header, never in the request line.
    pub url: String,
    /// Bearer token, if the server requires one. Setting it and a *different* `token` in
    /// [`ClientConfig::url`] is an error when connecting.
    pub auth_token: Option<String>,
    /// Name sent in `initialize`, for the server's logs.
    pub client_name: String,
    /// How long to keep trying to reconnect after a connection is lost.
    pub reconnect_timeout: Duration,
    /// A connection on which nothing arrives from the server for this long (the client
    /// pings every third of it, and a live server answers) is taken for lost, and the
    /// client reconnects. Without it, a server that vanished without closing the
    /// connection would leave every request waiting forever.
    pub server_timeout: Duration,
    /// For `wss://`: a PEM file of the certificate authorities to trust *instead of* the
    /// built-in web PKI roots (Mozilla's, from `webpki-roots`), for a server whose
    /// certificate a private CA (or the server itself) signed.
    pub tls_ca_file: Option<PathBuf>,
    /// Ask for `process/output` notifications (default `true`): the event stream
    /// ([`ExecServerClient::events`]) then carries output. Set `false` for a client that
    /// reads output with `read` only: paced processes (`outputMode: "pace"`) then go on as
    /// its reads go past their output, and the stream carries only `exited` and `closed`.
    pub output_notifications: bool,
}

impl std::fmt::Debug for ClientConfig {
    /// Like a derived `Debug`, with the token (as a field or in the URL) redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = match crate::auth::split_url_token(&self.url) {
            Ok((url, Some(_))) => format!("{url} (with a token)"),
            Ok((url, None)) => url,
            Err(_) => "<a URL with a malformed token>".to_string(),
        };
        f.debug_struct("ClientConfig")
            .field("url", &url)
            .field(
                "auth_token",
                &self.auth_token.as_ref().map(|_| "<redacted>"),
            )
            .field("client_name", &self.client_name)
            .field("reconnect_timeout", &self.reconnect_timeout)
            .field("server_timeout", &self.server_timeout)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("output_notifications", &self.output_notifications)
            .finish()
    }
}

impl ClientConfig {
    /// This configuration with the `token` query parameter moved out of
    /// [`ClientConfig::url`] into [`ClientConfig::auth_token`]: the form every connection
    /// attempt uses, so the token travels only in the `Authorization` header (and no error
    /// message or log line repeats it). A malformed `token` parameter, or one that differs
    /// from an `auth_token` set explicitly, is an error.
    pub fn with_token_from_url(mut self) -> Result<Self, ExecError> {
        let (url, url_token) = crate::auth::split_url_token(&self.url)
            .map_err(|err| ExecError::Transport(format!("{err}")))?;
        let explicit = self.auth_token.take().filter(|token| !token.is_empty());
        self.auth_token = match (explicit, url_token) {
            (Some(explicit), Some(in_url)) if explicit != in_url => {
                return Err(ExecError::Transport(
                    "the URL's `token` query parameter differs from the auth token given \
                     explicitly (CODEX_EXEC_SERVER_TOKEN or ClientConfig::auth_token); \
                     pass one of them"
                        .to_string(),
                ));
            }
            (Some(token), _) | (None, Some(token)) => Some(token),
            (None, None) => None,
        };
        self.url = url;
        Ok(self)
    }

    /// Defaults for `url`: no token (unless `url` carries one), reconnect for up to 30 s.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            auth_token: None,
            client_name: "codex-exec-server-client".to_string(),
            reconnect_timeout: Duration::from_secs(30),
            server_timeout: Duration::from_secs(60),
            tls_ca_file: None,
            output_notifications: true,
        }
    }
}

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
        let (ws, init) = open(&config, None).await?;
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

/// How long one attempt to connect (TCP, TLS, WebSocket upgrade and `initialize`) may
/// take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Requests one connection keeps unanswered at most; more wait in the client. Below the
/// server's `MAX_UNWRITTEN_RESPONSES` (1024), so the server never stops reading this
/// connection, and sending a request can never block on a server that is itself blocked
/// writing answers this client is not reading.
const MAX_IN_FLIGHT: usize = 512;

/// The TLS connector for `wss://`: rustls on *ring* (named, not left to crate features),
/// trusting exactly the certificates in the PEM file `ca_file`, or else Mozilla's roots.
fn tls_connector(ca_file: Option<&Path>) -> Result<tokio_tungstenite::Connector, ExecError> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let error = |message: String| {
                ExecError::Transport(format!("TLS CA file `{}`: {message}", path.display()))
            };
            for certificate in crate::tls::read_pem_certificates(path).map_err(error)? {
                roots
                    .add(certificate)
                    .map_err(|err| error(err.to_string()))?;
            }
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|err| ExecError::Transport(format!("TLS set-up: {err}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_tungstenite::Connector::Rustls(Arc::new(config)))
}

/// Connect and run the handshake.
async fn open(
    config: &ClientConfig,
    resume_session_id: Option<&str>,
) -> Result<(Ws, InitializeResponse), ExecError> {
    tokio::time::timeout(CONNECT_TIMEOUT, open_once(config, resume_session_id))
        .await
        .unwrap_or_else(|_| {
            Err(ExecError::Transport(format!(
                "connecting to {} took longer than {CONNECT_TIMEOUT:?}",
                config.url
            )))
        })
}

/// One attempt of [`open`], without its time limit.
async fn open_once(
    config: &ClientConfig,
    resume_session_id: Option<&str>,
) -> Result<(Ws, InitializeResponse), ExecError> {
    let mut request = config
        .url
        .as_str()
        .into_client_request()
        .map_err(|err| ExecError::Transport(format!("invalid URL `{}`: {err}", config.url)))?;
    if let Some(token) = &config.auth_token {
        let value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|err| ExecError::Transport(format!("invalid auth token: {err}")))?;
        request.headers_mut().insert("authorization", value);
    }
    let connector = if config.url.starts_with("wss://") {
        Some(tls_connector(config.tls_ca_file.as_deref())?)
    } else if config.tls_ca_file.is_some() {
        return Err(ExecError::Transport(format!(
            "a TLS CA file is set but `{}` is not a wss:// URL; the connection (and any \
             token) would go unencrypted",
            config.url
        )));
    } else {
        None
    };
    let (mut ws, _) = tokio_tungstenite::connect_async_tls_with_config(
        request, None, /*disable_nagle*/ true, connector,
    )
    .await
    .map_err(|err| ExecError::Transport(format!("connecting to {}: {err}", config.url)))?;
    let params = InitializeParams {
        client_name: config.client_name.clone(),
        resume_session_id: resume_session_id.map(str::to_string),
        output_notifications: config.output_notifications,
    };
    let frame = json!({
        "jsonrpc": JSONRPC_VERSION, "id": 0, "method": method::INITIALIZE, "params": params,
    });
    let transport = |err: tokio_tungstenite::tungstenite::Error| {
        ExecError::Transport(format!("initialize failed: {err}"))
    };
    ws.send(Message::text(frame.to_string()))
        .await
        .map_err(transport)?;
    let response = loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(text.as_str())
                    .map_err(|err| ExecError::Transport(format!("bad initialize reply: {err}")))?;
                if value.get("id") == Some(&json!(0)) {
                    break value;
                }
            }
            Some(Ok(_)) => {}
            Some(Err(err)) => return Err(transport(err)),
            None => {
                return Err(ExecError::Transport(
                    "connection closed during initialize".to_string(),
                ));
            }
        }
    };
    if let Some(error) = response.get("error") {
        let error: RpcError = serde_json::from_value(error.clone())
            .map_err(|err| ExecError::Transport(format!("bad initialize error: {err}")))?;
        let session = resume_session_id.unwrap_or_default().to_string();
        return Err(match error.kind() {
            Some("sessionExpired") => ExecError::SessionExpired(session),
            Some("unknownSession") => ExecError::UnknownSession(session),
            _ => ExecError::Rpc(error),
        });
    }
    let init: InitializeResponse =
        serde_json::from_value(response.get("result").cloned().unwrap_or(Value::Null))
            .map_err(|err| ExecError::Transport(format!("bad initialize result: {err}")))?;
    let initialized = json!({"jsonrpc": JSONRPC_VERSION, "method": method::INITIALIZED});
    ws.send(Message::text(initialized.to_string()))
        .await
        .map_err(transport)?;
    Ok((ws, init))
}

fn request_frame(id: u64, pending: &Pending) -> Message {
    Message::text(
        json!({
            "jsonrpc": JSONRPC_VERSION, "id": id, "method": pending.method, "params": pending.params,
        })
        .to_string(),
    )
}

async fn connection_task(
    config: ClientConfig,
    session_id: String,
    mut ws: Ws,
    mut requests: mpsc::UnboundedReceiver<Pending>,
    tracker: mpsc::UnboundedSender<TrackerMsg>,
) {
    let mut in_flight: HashMap<u64, Pending> = HashMap::new();
    let mut next_id: u64 = 1;
    // Never zero (a zero-period interval panics).
    let ping_every = (config.server_timeout / 3).max(Duration::from_millis(10));
    loop {
        // Requests that were in flight when the previous connection was lost.
        let mut resend_failed = false;
        let mut ids: Vec<u64> = in_flight.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(pending) = in_flight.get(&id)
                && ws.send(request_frame(id, pending)).await.is_err()
            {
                resend_failed = true;
                break;
            }
        }
        if !resend_failed {
            let mut last_heard = tokio::time::Instant::now();
            let mut pings =
                tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
            loop {
                tokio::select! {
                    () = tokio::time::sleep_until(last_heard + config.server_timeout) => {
                        warn!(
                            "nothing heard from the exec-server for {:?}; reconnecting",
                            config.server_timeout
                        );
                        break;
                    }
                    _ = pings.tick() => {
                        if ws.send(Message::Ping(Default::default())).await.is_err() {
                            break;
                        }
                    }
                    pending = requests.recv(), if in_flight.len() < MAX_IN_FLIGHT => {
                        let Some(pending) = pending else {
                            // Every client handle is gone.
                            let _ = ws.close(None).await;
                            return;
                        };
                        let id = next_id;
                        next_id += 1;
                        let sent = ws.send(request_frame(id, &pending)).await;
                        in_flight.insert(id, pending);
                        if sent.is_err() {
                            break;
                        }
                    }
                    message = ws.next() => {
                        last_heard = tokio::time::Instant::now();
                        match message {
                            Some(Ok(Message::Text(text))) => {
                                handle_incoming(text.as_str(), &mut in_flight, &tracker);
                            }
                            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                            Some(Ok(_)) => {}
                        }
                    }
                }
            }
        }
        // The connection is gone: fail what cannot be repeated safely, then resume.
        let unrepeatable: Vec<u64> = in_flight
            .iter()
            .filter(|(_, pending)| !pending.retryable)
            .map(|(id, _)| *id)
            .collect();
        for pending in unrepeatable.iter().filter_map(|id| in_flight.remove(id)) {
            let _ = pending.reply.send(Err(ReplyError::Transport(format!(
                "connection lost during {}; its outcome is unknown",
                pending.method
            ))));
        }
        match reconnect(&config, &session_id).await {
            Ok(new_ws) => {
                ws = new_ws;
                let _ = tracker.send(TrackerMsg::Resumed);
            }
            Err(err) => {
                warn!("exec-server session {session_id} lost: {err}");
                for (_, pending) in in_flight.drain() {
                    let _ = pending
                        .reply
                        .send(Err(ReplyError::Transport(err.to_string())));
                }
                // Dropping `requests` and `tracker` ends the client: later requests fail
                // and the event stream ends.
                return;
            }
        }
    }
}

async fn reconnect(config: &ClientConfig, session_id: &str) -> Result<Ws, ExecError> {
    let deadline = tokio::time::Instant::now() + config.reconnect_timeout;
    let mut backoff = INITIAL_BACKOFF;
    loop {
        let attempt = tokio::time::timeout_at(deadline, open(config, Some(session_id)))
            .await
            .unwrap_or_else(|_| {
                Err(ExecError::Transport(format!(
                    "no connection to {} within {:?}",
                    config.url, config.reconnect_timeout
                )))
            });
        match attempt {
            Ok((ws, _)) => {
                debug!("resumed session {session_id}");
                return Ok(ws);
            }
            Err(err @ (ExecError::SessionExpired(_) | ExecError::UnknownSession(_))) => {
                return Err(err);
            }
            Err(err) => {
                if tokio::time::Instant::now() + backoff > deadline {
                    return Err(err);
                }
                debug!("reconnect failed, retrying in {backoff:?}: {err}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// The members of an incoming message, with `params`/`result` left as raw JSON so a
/// notification's payload is parsed once, straight into its typed struct.
#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    method: Option<&'a str>,
    #[serde(default, borrow)]
    params: Option<&'a serde_json::value::RawValue>,
    #[serde(default, borrow)]
    result: Option<&'a serde_json::value::RawValue>,
    #[serde(default)]
    error: Option<RpcError>,
}

/// `process/output` as the server writes it, parsed in one pass (the hot path).
#[derive(serde::Deserialize)]
struct OutputEnvelope<'a> {
    #[serde(rename = "jsonrpc")]
    _jsonrpc: &'a str,
    #[serde(rename = "method")]
    _method: &'a str,
    params: OutputNotification,
}

fn handle_incoming(
    text: &str,
    in_flight: &mut HashMap<u64, Pending>,
    tracker: &mpsc::UnboundedSender<TrackerMsg>,
) {
    if text.starts_with(r#"{"jsonrpc":"2.0","method":"process/output","#)
        && let Ok(output) = serde_json::from_str::<OutputEnvelope<'_>>(text)
    {
        let _ = tracker.send(TrackerMsg::Event(ProcessEvent::Output(output.params)));
        return;
    }
    let envelope: Envelope<'_> = match serde_json::from_str(text) {
        Ok(envelope) => envelope,
        Err(err) => {
            warn!("ignoring a malformed frame from the server: {err}");
            return;
        }
    };
    if let Some(id) = envelope.id.as_ref().and_then(Value::as_u64) {
        let Some(pending) = in_flight.remove(&id) else {
            return;
        };
        let reply = match (envelope.error, envelope.result) {
            (Some(error), _) => Err(ReplyError::Rpc(error)),
            (None, Some(result)) => Ok(result.get().to_string()),
            (None, None) => Err(ReplyError::Transport("reply without result".to_string())),
        };
        let _ = pending.reply.send(reply);
        return;
    }
    let method_name = envelope.method.unwrap_or_default();
    let params = envelope.params.map_or("{}", |params| params.get());
    match ProcessEvent::from_notification(method_name, params) {
        Some(event) => {
            let _ = tracker.send(TrackerMsg::Event(event));
        }
        None => debug!("ignoring notification `{method_name}`"),
    }
}

#[derive(Default)]
struct Track {
    last_seq: u64,
    closed: bool,
}

fn event_seq(event: &ProcessEvent) -> Option<u64> {
    match event {
        ProcessEvent::Output(n) => Some(n.seq),
        ProcessEvent::Exited(n) => Some(n.seq),
        ProcessEvent::Closed(n) => Some(n.seq),
        ProcessEvent::Gap { .. } => None,
    }
}

fn deliver(subscriber: &Subscriber, event: ProcessEvent) {
    if let Some(tx) = lock(subscriber).as_ref() {
        let _ = tx.send(event);
    }
}

async fn tracker_task(
    requests: mpsc::WeakUnboundedSender<Pending>,
    mut rx: mpsc::UnboundedReceiver<TrackerMsg>,
    subscriber: Subscriber,
) {
    let mut tracks: HashMap<String, Track> = HashMap::new();
    while let Some(msg) = rx.recv().await {
        match msg {
            TrackerMsg::Register(process_id) => {
                tracks.insert(process_id, Track::default());
            }
            TrackerMsg::Event(event) => {
                let Some(seq) = event_seq(&event) else {
                    continue;
                };
                let process_id = event.process_id().to_string();
                let track = tracks.entry(process_id.clone()).or_default();
                if track.closed || seq <= track.last_seq {
                    continue;
                }
                if seq > track.last_seq + 1 {
                    catch_up(&requests, &process_id, track, &subscriber).await;
                }
                if seq == track.last_seq + 1 {
                    track.last_seq = seq;
                    track.closed = matches!(event, ProcessEvent::Closed(_));
                    deliver(&subscriber, event);
                }
            }
            TrackerMsg::Resumed => {
                for (process_id, track) in tracks.iter_mut().filter(|(_, t)| !t.closed) {
                    catch_up(&requests, process_id, track, &subscriber).await;
                }
            }
        }
    }
    // The connection task is gone: end the event stream.
    lock(&subscriber).take();
}

/// Read everything after `track.last_seq` and deliver it in order.
async fn catch_up(
    requests: &mpsc::WeakUnboundedSender<Pending>,
    process_id: &str,
    track: &mut Track,
    subscriber: &Subscriber,
) {
    while !track.closed {
        let Some(requests) = requests.upgrade() else {
            return;
        };
        let params = ReadParams {
            process_id: process_id.to_string(),
            after_seq: Some(track.last_seq),
            max_bytes: Some(CATCH_UP_READ_BYTES),
            wait_ms: None,
        };
        let Ok(params) = serde_json::to_value(&params) else {
            return;
        };
        let reply = send_request(&requests, method::PROCESS_READ, params, true).await;
        drop(requests);
        let response: ReadResponse = match reply.map(|raw| serde_json::from_str(&raw)) {
            Ok(Ok(response)) => response,
            Err(ReplyError::Rpc(error)) if error.kind() == Some("unknownProcess") => {
                // Forgotten after its grace period: nothing more will come.
                track.closed = true;
                return;
            }
            Ok(Err(_)) | Err(_) => return,
        };
        let before = track.last_seq;
        let (events, last, closed) = events_from_read(process_id, track.last_seq, response);
        for event in events {
            deliver(subscriber, event);
        }
        track.closed = closed;
        track.last_seq = last;
        if track.last_seq == before {
            return;
        }
    }
}

/// The events a `process/read {afterSeq: last_seq}` reply stands for, in order, with the new
/// last seq and whether the process is closed. Output comes from `chunks` (a `gap` first, if
/// any); the seqs between the last chunk and `nextSeq` are lifecycle events (exited, then
/// closed if the reply says so): a reply never reads past `exited` when output follows it,
/// so within one reply they always come after every chunk.
fn events_from_read(
    process_id: &str,
    last_seq: u64,
    response: ReadResponse,
) -> (Vec<ProcessEvent>, u64, bool) {
    let mut events = Vec::new();
    let mut covered = last_seq;
    if let Some(gap) = response.gap {
        events.push(ProcessEvent::Gap {
            process_id: process_id.to_string(),
            gap,
        });
        covered = covered.max(gap.to_seq);
    }
    for chunk in response.chunks {
        if chunk.seq <= covered {
            continue;
        }
        covered = chunk.seq;
        events.push(ProcessEvent::Output(OutputNotification {
            process_id: process_id.to_string(),
            seq: chunk.seq,
            stream: chunk.stream,
            chunk: chunk.chunk,
        }));
    }
    let last = response.next_seq.saturating_sub(1).max(last_seq);
    let lifecycle_count = usize::try_from(last.saturating_sub(covered)).unwrap_or(usize::MAX);
    let mut lifecycle = Vec::new();
    if response.exited {
        lifecycle.push(ProcessEvent::Exited(ExitedNotification {
            process_id: process_id.to_string(),
            seq: 0,
            exit_code: response.exit_code.unwrap_or(-1),
        }));
    }
    if response.closed {
        lifecycle.push(ProcessEvent::Closed(ClosedNotification {
            process_id: process_id.to_string(),
            seq: 0,
        }));
    }
    let skip = lifecycle.len().saturating_sub(lifecycle_count);
    let mut closed = false;
    for (seq, mut event) in (covered + 1..).zip(lifecycle.into_iter().skip(skip)) {
        match &mut event {
            ProcessEvent::Exited(n) => n.seq = seq,
            ProcessEvent::Closed(n) => {
                n.seq = seq;
                closed = true;
            }
            ProcessEvent::Output(_) | ProcessEvent::Gap { .. } => {}
        }
        events.push(event);
    }
    (events, last, closed)
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

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
