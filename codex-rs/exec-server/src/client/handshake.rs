//! Opening a connection: TCP, TLS for `wss://` ([`tls_connector`]), the WebSocket upgrade
//! with the bearer token, and the `initialize` / `initialized` handshake ([`open`]),
//! bounded in time.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::SinkExt;
use futures_util::StreamExt;
use serde_json::Value;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::debug;

use crate::error::ExecError;
use crate::protocol::InitializeParams;
use crate::protocol::InitializeResponse;
use crate::protocol::JSONRPC_VERSION;
use crate::protocol::RpcError;
use crate::protocol::error_code;
use crate::protocol::method;

use super::ClientConfig;
use super::Ws;
use super::config::WRITE_BUFFER_BYTES;

/// How long one attempt to connect (TCP, TLS, WebSocket upgrade and `initialize`) may
/// take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

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

/// The WebSocket limits of a client connection: incoming messages and frames up to
/// [`ClientConfig::max_message_bytes`], the write buffer up to
/// [`ClientConfig::max_write_buffer_bytes`] (at least twice the batching size, as
/// tungstenite needs it larger).
pub(super) fn websocket_config(config: &ClientConfig) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(config.max_message_bytes))
        .max_frame_size(Some(config.max_message_bytes))
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(max_write_buffer_bytes(config))
}

/// [`ClientConfig::max_write_buffer_bytes`], raised to what tungstenite accepts.
fn max_write_buffer_bytes(config: &ClientConfig) -> usize {
    config.max_write_buffer_bytes.max(2 * WRITE_BUFFER_BYTES)
}

/// Connect and run the handshake.
pub(super) async fn open(
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
        request,
        Some(websocket_config(config)),
        /*disable_nagle*/ true,
        connector,
    )
    .await
    .map_err(|err| ExecError::Transport(format!("connecting to {}: {err}", config.url)))?;
    let mut params = InitializeParams {
        client_name: config.client_name.clone(),
        resume_session_id: resume_session_id.map(str::to_string),
        output_notifications: config.output_notifications,
        binary_output: config.binary_output,
        acknowledge_output: config.acknowledge_output && config.output_notifications,
    };
    let mut response = initialize(&mut ws, &params, /*id*/ 0).await?;
    if (params.binary_output || params.acknowledge_output) && refuses_newer_fields(&response) {
        // A server from before binary output frames and acknowledgements refuses the
        // unknown fields (and attaches nothing): ask again, on the same connection,
        // without them.
        debug!(
            "the server knows neither `binaryOutput` nor `acknowledgeOutput`; its output \
             comes as text and counts as delivered once sent"
        );
        params.binary_output = false;
        params.acknowledge_output = false;
        response = initialize(&mut ws, &params, /*id*/ 1).await?;
    }
    if let Some(error) = response.get("error") {
        let error: RpcError = serde_json::from_value(error.clone())
            .map_err(|err| ExecError::Transport(format!("bad initialize error: {err}")))?;
        let session = resume_session_id.unwrap_or_default().to_string();
        return Err(match error.kind() {
            Some("sessionExpired") => ExecError::SessionExpired(session),
            Some("unknownSession") => ExecError::UnknownSession(session),
            Some("sessionTakenOver") => ExecError::SessionTakenOver,
            _ => ExecError::Rpc(error),
        });
    }
    let init: InitializeResponse =
        serde_json::from_value(response.get("result").cloned().unwrap_or(Value::Null))
            .map_err(|err| ExecError::Transport(format!("bad initialize result: {err}")))?;
    if init.binary_output && !params.binary_output {
        return Err(ExecError::Transport(
            "the server turned binary output on although the client did not ask for it".to_string(),
        ));
    }
    if init.acknowledge_output && !params.acknowledge_output {
        return Err(ExecError::Transport(
            "the server expects acknowledgements although the client did not offer them"
                .to_string(),
        ));
    }
    let initialized = json!({"jsonrpc": JSONRPC_VERSION, "method": method::INITIALIZED});
    ws.send(Message::text(initialized.to_string()))
        .await
        .map_err(transport)?;
    Ok((ws, init))
}

fn transport(err: tokio_tungstenite::tungstenite::Error) -> ExecError {
    ExecError::Transport(format!("initialize failed: {err}"))
}

/// Send `initialize` with `params` as request `id`; its reply, as JSON.
async fn initialize(ws: &mut Ws, params: &InitializeParams, id: u64) -> Result<Value, ExecError> {
    let frame = json!({
        "jsonrpc": JSONRPC_VERSION, "id": id, "method": method::INITIALIZE, "params": params,
    });
    ws.send(Message::text(frame.to_string()))
        .await
        .map_err(transport)?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(text.as_str())
                    .map_err(|err| ExecError::Transport(format!("bad initialize reply: {err}")))?;
                if value.get("id") == Some(&json!(id)) {
                    return Ok(value);
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
    }
}

/// An `initialize` reply refusing `binaryOutput` or `acknowledgeOutput` as unknown
/// (`-32602` naming one): the answer of a server from before both.
fn refuses_newer_fields(response: &Value) -> bool {
    let Some(error) = response.get("error") else {
        return false;
    };
    error.get("code").and_then(Value::as_i64) == Some(error_code::INVALID_PARAMS)
        && error
            .get("message")
            .and_then(Value::as_str)
            .is_some_and(|message| {
                message.contains("`binaryOutput`") || message.contains("`acknowledgeOutput`")
            })
}
