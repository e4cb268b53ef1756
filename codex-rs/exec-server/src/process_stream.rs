//! [`ProcessStream`]: the events of one process, for one subscriber.

use std::pin::Pin;
use std::task::Context;
use std::task::Poll;

use futures_util::Stream;
use tokio::sync::mpsc;

use crate::error::ExecError;
use crate::protocol::ProcessEvent;

/// One item of a [`ProcessStream`].
pub type StreamItem = Result<ProcessEvent, ExecError>;

/// The events of one process, in `seq` order, the same from a local or a remote backend:
/// output chunks, a [`ProcessEvent::Gap`] where output was no longer retained when this
/// subscriber needed it (only possible with `outputMode: "drop"`, or for a subscription
/// made after the process produced more than the retention window), `exited`, and
/// `closed` last.
///
/// The stream ends (`None`) after `closed`, and when the process can never produce more
/// for this subscriber; if that is because of a failure (the session was lost, the process
/// was forgotten), one `Err` comes first. A failed catch-up read is an `Err` item too, after
/// which the stream goes on.
///
/// The stream is bounded and paces its own process: when the subscriber falls behind, the
/// process's output notifications are turned off and its output is read back only as fast
/// as the subscriber takes it, so a paced process waits (as a writer waits for a pipe's
/// reader) while other processes and streams go on. Drop the stream to say the events are
/// not wanted. Implements [`Stream`].
#[derive(Debug)]
pub struct ProcessStream {
    process_id: String,
    rx: mpsc::Receiver<StreamItem>,
}

impl ProcessStream {
    pub(crate) fn new(process_id: String, rx: mpsc::Receiver<StreamItem>) -> Self {
        Self { process_id, rx }
    }

    /// A stream that yields `error` and ends (a subscription that could not be made).
    pub(crate) fn failed(process_id: String, error: ExecError) -> Self {
        let (tx, rx) = mpsc::channel(1);
        let _ = tx.try_send(Err(error));
        Self { process_id, rx }
    }

    /// The process this stream follows.
    pub fn process_id(&self) -> &str {
        &self.process_id
    }

    /// The next event; `None` once the stream ended.
    pub async fn recv(&mut self) -> Option<StreamItem> {
        self.rx.recv().await
    }
}

impl Stream for ProcessStream {
    type Item = StreamItem;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<StreamItem>> {
        self.rx.poll_recv(cx)
    }
}
