//! The HTTP front door of a connection: read the request head (bounded in size and time),
//! answer health checks, refuse browser origins (`Origin`, `Sec-WebSocket-Origin`) and a
//! missing or wrong token, and upgrade to WebSocket; the upgraded connection is then
//! served by [`super::connection::serve_websocket`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::debug;

use super::Transport;
use super::connection::serve_websocket;
use super::liveness::Liveness;
use super::liveness::Tracked;
use super::sessions::Sessions;

const MAX_HTTP_HEAD: usize = 16 * 1024;
/// How long a peer may take to send its HTTP request head (and, for `wss://`, to finish
/// the TLS handshake).
pub(super) const HTTP_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_HEADERS: usize = 64;

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

/// Serve one accepted connection (TCP or TLS): the HTTP front door, then the WebSocket.
pub(super) async fn handle_socket<S: Transport>(
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
