//! [`ClientConfig`]: how a client reaches a server.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::ExecError;

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
    /// ([`ExecServerClient::events`](crate::ExecServerClient::events)) then carries output. Set `false` for a client that
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
