//! The server's configuration: [`ServerConfig`] and its defaults and bounds, the checks
//! [`super::ExecServer::bind`] makes before it binds, the `--listen` URL
//! ([`parse_listen_url`]), the TLS set-up ([`load_tls_config`]) and the start-up errors
//! ([`ServerError`]).

use std::net::SocketAddr;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use codex_file_system::LocalFileSystemConfig;
use tracing::warn;

use crate::EscalationConfig;
use crate::PolicyGate;
use crate::local_process::LocalProcessConfig;

/// Default TTL of a detached session.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(30);
/// Default bound on one WebSocket message (and frame).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Room for the JSON around the base64 of one `fs/readFile` / `fs/writeFile` (the path,
/// the policy, the envelope).
const FS_MESSAGE_OVERHEAD: usize = 64 * 1024;

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
    /// Which sandbox policies `process/start` and `fs/*` accept (see [`PolicyGate`]).
    pub policy_gate: PolicyGate,
    /// Shell escalation (`process/start {escalation}`): the patched shells, the wrapper,
    /// the rules, the approval timeout. The default offers none.
    pub escalation: EscalationConfig,
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
            policy_gate: PolicyGate::allow_all(),
            escalation: EscalationConfig::default(),
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

impl ServerConfig {
    /// The checks [`super::ExecServer::bind`] makes before it binds (and the warning about
    /// a non-loopback address without TLS).
    pub(super) fn validate(&self) -> Result<(), ServerError> {
        if self.auth_token.as_deref() == Some("") {
            return Err(ServerError::EmptyToken);
        }
        if !(MIN_CLIENT_TIMEOUT..=MAX_CLIENT_TIMEOUT).contains(&self.client_timeout) {
            return Err(ServerError::ClientTimeoutOutOfRange(self.client_timeout));
        }
        if !self.listen.ip().is_loopback() && self.auth_token.is_none() {
            return Err(ServerError::InsecureListen(self.listen));
        }
        if !self.listen.ip().is_loopback() && self.tls.is_none() {
            warn!(
                "listening on {} without TLS: the bearer token and all traffic cross the \
                 network in plain text; use wss:// with --tls-cert and --tls-key",
                self.listen
            );
        }
        let needed = self
            .file_system
            .max_fs_bytes
            .div_ceil(3)
            .saturating_mul(4)
            .saturating_add(FS_MESSAGE_OVERHEAD);
        if needed > self.max_message_bytes {
            return Err(ServerError::FsLimitTooLarge {
                max_fs_bytes: self.file_system.max_fs_bytes,
                needed,
                max_message_bytes: self.max_message_bytes,
            });
        }
        Ok(())
    }
}
