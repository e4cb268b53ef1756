//! Client liveness for the client timeout: [`Liveness`] records when a connection last
//! showed that its client is alive, and [`Tracked`] wraps the transport to report byte
//! progress to it.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::AsyncRead;
use tokio::io::AsyncWrite;

use super::Transport;

/// When a connection last showed that its client is alive, for the client timeout: any
/// byte read from it (a pong, a request, part of a large upload), or progress writing
/// an answer or notification to it (a live client reading a large answer slowly sends
/// nothing meanwhile). Writing pings does not count: a dead peer's socket buffer takes
/// those for a long time.
pub(super) struct Liveness {
    start: std::time::Instant,
    /// Milliseconds since `start`.
    last_sign_ms: AtomicU64,
    /// Set by the writer while it sends an answer or notification.
    pub(super) writing_payload: AtomicBool,
}

impl Liveness {
    /// The connection's start counts as its first sign of life.
    pub(super) fn new() -> Self {
        Self {
            start: std::time::Instant::now(),
            last_sign_ms: AtomicU64::new(0),
            writing_payload: AtomicBool::new(false),
        }
    }

    fn sign_of_life(&self) {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_sign_ms.fetch_max(now, Ordering::Relaxed);
    }

    pub(super) fn last_sign(&self) -> tokio::time::Instant {
        let since_start = Duration::from_millis(self.last_sign_ms.load(Ordering::Relaxed));
        tokio::time::Instant::from_std(self.start + since_start)
    }
}

/// A transport that reports byte progress to a [`Liveness`].
pub(super) struct Tracked<S> {
    pub(super) inner: S,
    pub(super) liveness: Arc<Liveness>,
}

impl<S: Transport> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, std::task::Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.liveness.sign_of_life();
        }
        result
    }
}

impl<S: Transport> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let result = std::pin::Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(result, std::task::Poll::Ready(Ok(written)) if written > 0)
            && self.liveness.writing_payload.load(Ordering::Relaxed)
        {
            self.liveness.sign_of_life();
        }
        result
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
