//! A scripted stand-in for the exec-server, to test the client against a server that
//! misbehaves on purpose: every accepted connection runs the test's script (which usually
//! completes the `initialize` handshake with [`Conn::handshake`] first), and the server
//! counts connections. Also [`CountingProxy`], a TCP proxy that counts the connections a
//! real server gets.

use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;

use futures_util::SinkExt;
use futures_util::StreamExt;
use serde_json::Value;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::net::TcpSocket;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The session id every scripted connection hands out (and resumes).
pub const SESSION_ID: &str = "scripted-session";

/// One accepted connection, upgraded to a WebSocket.
pub struct Conn {
    pub ws: WebSocketStream<TcpStream>,
    /// 1 for the first connection the server accepted, 2 for the next, ...
    pub number: usize,
}

impl Conn {
    /// Answer `initialize` (new or resumed: always [`SESSION_ID`]) and wait for
    /// `initialized`. Returns the `initialize` params.
    pub async fn handshake(&mut self) -> Value {
        let request = self.request().await.expect("initialize");
        assert_eq!(request["method"], json!("initialize"), "{request}");
        self.reply(
            &request,
            json!({"sessionId": SESSION_ID, "capabilities": {"exec": true, "filesystem": true}}),
        )
        .await;
        let initialized = self.message().await.expect("initialized");
        assert_eq!(initialized["method"], json!("initialized"), "{initialized}");
        request["params"].clone()
    }

    /// Answer `initialize` with `error` (an `RpcError` as JSON).
    pub async fn refuse_initialize(&mut self, error: Value) {
        let request = self.request().await.expect("initialize");
        assert_eq!(request["method"], json!("initialize"), "{request}");
        self.send(json!({"jsonrpc": "2.0", "id": request["id"], "error": error}))
            .await;
    }

    /// The next JSON message from the client; `None` once the connection is gone.
    pub async fn message(&mut self) -> Option<Value> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Text(text)) => {
                    return Some(serde_json::from_str(text.as_str()).expect("client sends JSON"));
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// The next request (a message with an id); `None` once the connection is gone.
    pub async fn request(&mut self) -> Option<Value> {
        loop {
            let message = self.message().await?;
            if message.get("id").is_some() {
                return Some(message);
            }
        }
    }

    /// Answer `request` with `result`.
    pub async fn reply(&mut self, request: &Value, result: Value) {
        self.send(json!({"jsonrpc": "2.0", "id": request["id"], "result": result}))
            .await;
    }

    /// Send `message`; a client that is gone is not an error here.
    pub async fn send(&mut self, message: Value) {
        let _ = self.ws.send(Message::text(message.to_string())).await;
    }

    /// Write raw bytes on the TCP connection, bypassing the WebSocket framing.
    pub async fn write_raw(&mut self, bytes: &[u8]) {
        let _ = self.ws.get_mut().write_all(bytes).await;
    }
}

/// A `process/read` result with nothing new.
pub fn empty_read() -> Value {
    json!({
        "chunks": [], "nextSeq": 1, "exited": false, "exitCode": null, "closed": false,
        "failure": null,
    })
}

type Tasks = Arc<Mutex<Vec<JoinHandle<()>>>>;

/// A server that runs `script` on each connection.
pub struct ScriptedServer {
    /// `ws://127.0.0.1:PORT`.
    pub url: String,
    connections: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
    tasks: Tasks,
}

impl ScriptedServer {
    pub async fn start<F, Fut>(script: F) -> Self
    where
        F: Fn(Conn) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self::start_with(/*recv_buffer*/ None, script).await
    }

    /// [`ScriptedServer::start`] with the accepted sockets' receive buffer set to
    /// `recv_buffer` bytes (small, for a server that stops reading to block the client
    /// soon).
    pub async fn start_with<F, Fut>(recv_buffer: Option<u32>, script: F) -> Self
    where
        F: Fn(Conn) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let socket = TcpSocket::new_v4().unwrap();
        if let Some(size) = recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(/*backlog*/ 64).unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let tasks: Tasks = Arc::default();
        let accept = tokio::spawn(accept_loop(
            listener,
            Arc::clone(&connections),
            Arc::clone(&tasks),
            Arc::new(script),
        ));
        Self {
            url,
            connections,
            accept,
            tasks,
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Stop listening and drop every connection: the server is gone.
    pub fn stop(&self) {
        self.accept.abort();
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop<F, Fut>(
    listener: TcpListener,
    connections: Arc<AtomicUsize>,
    tasks: Tasks,
    script: Arc<F>,
) where
    F: Fn(Conn) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    // Large enough for any message a test sends.
    let config = WebSocketConfig::default()
        .max_message_size(Some(256 << 20))
        .max_frame_size(Some(256 << 20));
    while let Ok((stream, _)) = listener.accept().await {
        let number = connections.fetch_add(/*val*/ 1, Ordering::SeqCst) + 1;
        let script = Arc::clone(&script);
        let task = tokio::spawn(async move {
            let Ok(ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await
            else {
                return;
            };
            script(Conn { ws, number }).await;
        });
        tasks.lock().unwrap().push(task);
    }
}

/// A TCP proxy in front of `upstream` that counts the connections it forwards.
pub struct CountingProxy {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    connections: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
}

impl CountingProxy {
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                counted.fetch_add(/*val*/ 1, Ordering::SeqCst);
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
            }
        });
        Self {
            addr,
            connections,
            accept,
        }
    }

    /// Connections forwarded so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
