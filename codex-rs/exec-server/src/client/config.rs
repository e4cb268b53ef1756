//! [`ClientConfig`]: how a client reaches a server.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::ExecError;
use crate::exec_process::BoxFuture;
use crate::protocol::ApprovalDecision;
use crate::protocol::ApprovalRequest;

/// Answers the server's `approval/request`s ([`ClientConfig::approval_handler`]): may a
/// command that an escalated shell wants to run outside the sandbox run there?
pub type ApprovalHandler =
    Arc<dyn Fn(ApprovalRequest) -> BoxFuture<'static, ApprovalDecision> + Send + Sync>;

/// Default [`ClientConfig::request_timeout`].
pub(crate) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default [`ClientConfig::send_timeout`].
pub(crate) const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`ClientConfig::max_message_bytes`]: 64 MiB.
pub(crate) const DEFAULT_MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// While the connection is down, requests wait this long after the loss for the client to
/// resume before failing with [`ExecError::Disconnected`] (and only once a reconnect
/// attempt failed): a brief cut is bridged, a dead server is not waited for.
pub(crate) const FAIL_FAST_AFTER: Duration = Duration::from_secs(1);
/// Bytes the WebSocket gathers before writing to the socket (tungstenite's
/// `write_buffer_size`; every send is flushed at its end anyway).
pub(super) const WRITE_BUFFER_BYTES: usize = 128 * 1024;

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
    /// How long to keep trying to reconnect after a connection is lost (default 30 s, the
    /// server's default session TTL: past it the session is gone anyway). Requests do not
    /// wait for it: once an attempt failed and a second passed since the loss, they fail
    /// with [`ExecError::Disconnected`] while the client keeps trying in the background;
    /// when this passes, the session is lost
    /// ([`SessionLoss::Unreachable`](crate::SessionLoss::Unreachable)).
    pub reconnect_timeout: Duration,
    /// How long a request waits for its reply (default 60 s) before it fails with
    /// [`ExecError::Timeout`] and its slot is freed. It covers a server that holds a
    /// request, answers with the wrong id, or floods the client with pings meanwhile. A
    /// `process/read` with `waitMs` needs a deadline longer than its wait.
    pub request_timeout: Duration,
    /// How long sending one message may take (default 10 s). A server that stops reading
    /// leaves a send stuck; when this passes, the connection is taken for lost and the
    /// client reconnects (a request re-sent this way counts against its retry budget).
    pub send_timeout: Duration,
    /// Largest WebSocket message (and frame) accepted from the server, in bytes (default
    /// 64 MiB, four times the server's default `--max-message-bytes`, so our own server's
    /// largest replies fit). A larger message breaks the connection: the request it
    /// answered (the `fs/readFile`, else the `process/read`, in flight) fails with
    /// [`ExecError::ReplyTooLarge`], is not re-sent, and the client reconnects for the
    /// others.
    pub max_message_bytes: usize,
    /// Bound on the WebSocket write buffer, in bytes (default 64 MiB + 128 KiB): the largest
    /// request the client sends is this less its frame header (14 bytes). A larger request
    /// fails at once with [`ExecError::InvalidParams`] and is never sent. Pongs the
    /// WebSocket answers pings with take one slot, so a ping flood cannot grow it.
    pub max_write_buffer_bytes: usize,
    /// A connection on which nothing arrives from the server for this long (the client
    /// pings every third of it, and a live server answers) is taken for lost, and the
    /// client reconnects. Without it, a server that vanished without closing the
    /// connection would leave every request waiting forever.
    pub server_timeout: Duration,
    /// For `wss://`: a PEM file of the certificate authorities to trust *instead of* the
    /// built-in web PKI roots (Mozilla's, from `webpki-roots`), for a server whose
    /// certificate a private CA (or the server itself) signed.
    pub tls_ca_file: Option<PathBuf>,
    /// Ask for `process/output` notifications (default `true`): the event streams
    /// ([`ExecServerClient::subscribe`](crate::ExecServerClient::subscribe)) then carry
    /// output. Set `false` for a client that reads output with `read` only: paced processes
    /// (`outputMode: "pace"`) then go on as its reads go past their output, and the streams
    /// carry only `exited` and `closed`.
    pub output_notifications: bool,
    /// Ask for output as binary WebSocket frames (default `true`): `process/output`
    /// notifications and `process/read` replies then carry the bytes raw instead of in
    /// base64 JSON, which takes less CPU on both sides. A server that does not offer them
    /// (an older one) sends text, which the client reads as before; so does a server asked
    /// with `false`. [`ExecServerClient::binary_output`](crate::ExecServerClient::binary_output)
    /// says what was agreed.
    pub binary_output: bool,
    /// Acknowledge output notifications as they arrive (default `true`; only with
    /// [`ClientConfig::output_notifications`]): the server then counts output as delivered
    /// once acknowledged rather than once sent, so output on its way when a connection
    /// breaks is still retained when the client resumes, whatever the speed of the
    /// process and however full the sockets were. With `false`, or with a server that does
    /// not offer it, output sent when a connection broke can be gone from the server by
    /// the resume and is reported as a gap.
    pub acknowledge_output: bool,
    /// Decides the server's `approval/request`s (shell escalation: a command the rules
    /// mark `prompt` runs outside the sandbox only if this approves it). Called on a task
    /// of its own for each request, at most 64 at once (beyond that, and without a
    /// handler, requests are denied). The server denies anything not answered within
    /// its `--approval-timeout` (default 60 s), and everything pending when the
    /// connection breaks.
    pub approval_handler: Option<ApprovalHandler>,
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
            .field("send_timeout", &self.send_timeout)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("max_write_buffer_bytes", &self.max_write_buffer_bytes)
            .field("request_timeout", &self.request_timeout)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("output_notifications", &self.output_notifications)
            .field("binary_output", &self.binary_output)
            .field("acknowledge_output", &self.acknowledge_output)
            .field(
                "approval_handler",
                &self.approval_handler.as_ref().map(|_| "<handler>"),
            )
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

    /// Defaults for `url`: no token (unless `url` carries one), reconnect for up to 30 s,
    /// requests answered within 60 s, sends done within 10 s, messages up to 64 MiB each
    /// way, output as binary frames where the server offers them.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            auth_token: None,
            client_name: "codex-exec-server-client".to_string(),
            reconnect_timeout: Duration::from_secs(30),
            server_timeout: Duration::from_secs(60),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_write_buffer_bytes: DEFAULT_MAX_MESSAGE_BYTES + WRITE_BUFFER_BYTES,
            tls_ca_file: None,
            output_notifications: true,
            binary_output: true,
            acknowledge_output: true,
            approval_handler: None,
        }
    }
}
