//! What a remote environment reports when its server goes away, and how to go on.
//!
//! Shows: an in-process `LoopbackServer` and an `Environment::remote` connected to it; the
//! client's `state()` and `state_changes()` (`Connected`, `Reconnecting`, then
//! `Lost(ServerRestarted)`) when the server dies and comes back without the session; the
//! typed `ExecError::SessionLost` that calls and the event stream of a process of the old
//! session then get; and recovering with `ExecServerClient::new_session()`.
//!
//! ```sh
//! cargo run -p codex-exec-server --example reconnect
//! ```
//!
//! The server runs on its own thread with its own tokio runtime, so that stopping it
//! closes its connections the way the exit of a server process would: a `LoopbackServer`
//! that is only dropped kills its processes and stops accepting, but the connections it
//! accepted live on in their tasks. It comes back on the same address (`ExecServer::bind`;
//! a `LoopbackServer` always takes a free port), which is what makes the client see
//! `ServerRestarted`. If that address was taken meanwhile, the server comes back on
//! another port: the old client then gives up after its reconnect window
//! (`Lost(Unreachable)`), and the example connects a new `Environment` to the new URL.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use anyhow::bail;
use codex_exec_server::ChildEvent;
use codex_exec_server::ClientConfig;
use codex_exec_server::Command;
use codex_exec_server::ConnectionState;
use codex_exec_server::Environment;
use codex_exec_server::ExecError;
use codex_exec_server::ExecServer;
use codex_exec_server::LoopbackServer;
use codex_exec_server::RemoteProcess;
use codex_exec_server::ServerConfig;

/// How long the server stays down: long enough for a failed reconnect attempt or two.
const DOWN_FOR: Duration = Duration::from_millis(300);
/// How long anything in this example may take.
const WITHIN: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = ServerThread::start(/*addr*/ None)?;
    println!("server listening at {}", server.url);

    let mut config = ClientConfig::new(server.url.clone());
    // Give up on an unreachable server after 3 s instead of the default 30 s.
    config.reconnect_timeout = Duration::from_secs(3);
    let env = Environment::remote(config).await?;
    let client = env.client().context("a remote environment has a client")?;
    println!(
        "connected, session {}: {:?}",
        client.session_id(),
        client.state()
    );

    let output = echo("hello from the first session")?.output(&env).await?;
    print!("first session: {}", String::from_utf8_lossy(&output.stdout));

    // A process that is still running when the server goes away.
    let mut sleeper = Command::new("sleep")
        .arg("60")
        .cwd("/")?
        .spawn(&env)
        .await?;

    // Print every state the client goes through.
    let mut changes = client.state_changes();
    let printer = tokio::spawn(async move {
        while changes.changed().await.is_ok() {
            let state = changes.borrow_and_update().clone();
            println!("  state changed: {state:?}");
            if matches!(state, ConnectionState::Lost(_)) {
                break;
            }
        }
    });

    // The server dies (its connections with it), then starts again on the same address
    // with none of the old sessions.
    let addr = server.addr;
    println!("stopping the server");
    server.stop();
    tokio::time::sleep(DOWN_FOR).await;
    let restarted = match ServerThread::start(Some(addr)) {
        Ok(server) => {
            println!("server restarted at {} (same address)", server.url);
            server
        }
        Err(err) => {
            let server = ServerThread::start(/*addr*/ None)?;
            println!(
                "{addr} could not be bound again ({err:#}); server restarted at {} instead",
                server.url
            );
            server
        }
    };
    let same_address = restarted.addr == addr;

    let mut changes = client.state_changes();
    let state = tokio::time::timeout(
        WITHIN,
        changes.wait_for(|state| matches!(state, ConnectionState::Lost(_))),
    )
    .await
    .context("the client did not report the session lost")??
    .clone();
    let _ = printer.await;
    println!("client.state(): {state:?}");

    // Everything of the old session now fails with the same typed error.
    match echo("never runs")?.output(&env).await {
        Err(ExecError::SessionLost { session_id, cause }) => {
            println!("a new command on the old session: SessionLost {{ {session_id}, {cause:?} }}");
        }
        other => bail!("expected SessionLost, got {other:?}"),
    }
    match tokio::time::timeout(WITHIN, sleeper.next_event()).await? {
        Some(Err(ExecError::SessionLost { cause, .. })) => {
            println!("the old session's `sleep`: its events end with SessionLost ({cause})");
        }
        Some(Ok(ChildEvent::Exited(status))) => println!("the old `sleep` exited ({status})"),
        other => bail!("expected the sleeper's stream to end with SessionLost, got {other:?}"),
    }
    drop(sleeper);

    // Go on in a new session. On the same address the client makes one with its own
    // configuration; a server at another URL needs a new Environment.
    let output = if same_address {
        let fresh = client.new_session().await?;
        println!(
            "new session {} on the same server: {:?}",
            fresh.session_id(),
            fresh.state()
        );
        echo("hello from the new session")?
            .spawn_on(Arc::new(RemoteProcess::new(fresh)))
            .await?
            .output()
            .await?
    } else {
        let env = Environment::remote(ClientConfig::new(restarted.url.clone())).await?;
        println!("new Environment connected to {}", restarted.url);
        echo("hello from the new session")?.output(&env).await?
    };
    print!("new session: {}", String::from_utf8_lossy(&output.stdout));
    restarted.stop();
    Ok(())
}

fn echo(text: &str) -> Result<Command, ExecError> {
    Command::new("echo").arg(text).cwd("/")
}

/// An exec-server on its own thread and tokio runtime: stopping it kills its processes and
/// then ends the runtime, which closes every connection, as the exit of a server process
/// would.
struct ServerThread {
    url: String,
    addr: SocketAddr,
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl ServerThread {
    /// A `LoopbackServer` on a free port (`None`), or an `ExecServer` bound to `addr`.
    fn start(addr: Option<SocketAddr>) -> anyhow::Result<Self> {
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(runtime) => runtime,
                Err(err) => {
                    let _ = started_tx.send(Err(anyhow::Error::from(err)));
                    return;
                }
            };
            let (addr, running) = match runtime.block_on(Running::start(addr)) {
                Ok((url, addr, running)) => {
                    let _ = started_tx.send(Ok((url, addr)));
                    (addr, running)
                }
                Err(err) => {
                    let _ = started_tx.send(Err(err));
                    return;
                }
            };
            let _ = stopped.recv();
            runtime.block_on(running.stop(addr));
            // The connections live on in their own tasks until the runtime ends.
            runtime.shutdown_timeout(Duration::from_secs(1));
        });
        let (url, addr) = started_rx
            .recv()
            .context("the server thread ended before it started")??;
        Ok(Self {
            url,
            addr,
            stop,
            thread,
        })
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// What keeps the server of a [`ServerThread`] serving.
enum Running {
    /// Serves until dropped.
    Loopback(LoopbackServer),
    /// Serves until `stop` is sent; `task` ends once the processes were killed.
    Bound {
        stop: tokio::sync::oneshot::Sender<()>,
        task: tokio::task::JoinHandle<()>,
    },
}

impl Running {
    async fn start(addr: Option<SocketAddr>) -> anyhow::Result<(String, SocketAddr, Self)> {
        match addr {
            None => {
                let server = LoopbackServer::start().await?;
                let url = server.url().to_string();
                let addr = url
                    .trim_start_matches("ws://")
                    .parse()
                    .with_context(|| format!("server URL {url}"))?;
                Ok((url, addr, Running::Loopback(server)))
            }
            Some(addr) => {
                let server = ExecServer::bind(ServerConfig::new(addr)).await?;
                let url = server.url();
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let task = tokio::spawn(server.run(async {
                    let _ = stopped.await;
                }));
                Ok((url, addr, Running::Bound { stop, task }))
            }
        }
    }

    /// Stop accepting and kill every process of every session.
    async fn stop(self, addr: SocketAddr) {
        match self {
            Running::Loopback(server) => {
                // Dropping it only tells the server to stop. It has killed its processes
                // once its port refuses connections.
                drop(server);
                for _ in 0..200 {
                    if tokio::net::TcpStream::connect(addr).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            Running::Bound { stop, task } => {
                let _ = stop.send(());
                let _ = task.await;
            }
        }
    }
}
