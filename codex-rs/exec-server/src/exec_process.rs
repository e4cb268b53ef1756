//! The `ExecProcess` trait: the seam between callers and where processes actually run.
//!
//! `LocalProcess` runs them on this machine; `RemoteProcess` forwards the same calls to an
//! exec-server. Both speak the wire types of [`crate::protocol`], so a caller written against
//! the trait cannot tell them apart. The filesystem seam, `ExecutorFileSystem`, sits beside
//! this trait in `file_system.rs`.

use std::future::Future;
use std::pin::Pin;

use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::error::ExecError;
use crate::process_stream::ProcessStream;
use crate::protocol::ProcessEvent;
use crate::protocol::ReadParams;
use crate::protocol::ReadResponse;
use crate::protocol::ResizeParams;
use crate::protocol::ResizeResponse;
use crate::protocol::SignalParams;
use crate::protocol::SignalResponse;
use crate::protocol::StartParams;
use crate::protocol::StartResponse;
use crate::protocol::TerminateParams;
use crate::protocol::TerminateResponse;
use crate::protocol::WriteParams;
use crate::protocol::WriteResponse;

/// A boxed future of an [`ExecProcess`] call.
pub type ExecFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ExecError>> + Send + 'a>>;
/// A boxed future that cannot fail.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Start and drive processes, locally or remotely. Object safe: hold an
/// `Arc<dyn ExecProcess>` where the backend is chosen at run time. Most callers want the
/// higher-level [`Command`](crate::Command) instead.
pub trait ExecProcess: Send + Sync {
    /// Start a process (`process/start`).
    fn start(&self, params: StartParams) -> ExecFuture<'_, StartResponse>;

    /// Subscribe to the events of `params.process_id`, then start it: the stream has every
    /// event from the first.
    fn start_streaming(
        &self,
        params: StartParams,
    ) -> ExecFuture<'_, (StartResponse, ProcessStream)>;

    /// The events of a process already started, from its first retained event (read back),
    /// then live. A later subscription to the same process replaces this one.
    fn subscribe<'a>(&'a self, process_id: &'a str) -> BoxFuture<'a, ProcessStream>;

    /// Read retained output and lifecycle state (`process/read`).
    fn read(&self, params: ReadParams) -> ExecFuture<'_, ReadResponse>;

    /// Write to stdin, or close it (`process/write`).
    fn write(&self, params: WriteParams) -> ExecFuture<'_, WriteResponse>;

    /// Signal the process group (`process/signal`).
    fn signal(&self, params: SignalParams) -> ExecFuture<'_, SignalResponse>;

    /// Kill the process group (`process/terminate`).
    fn terminate(&self, params: TerminateParams) -> ExecFuture<'_, TerminateResponse>;

    /// Change the window size of a PTY process (`process/resize`).
    fn resize(&self, params: ResizeParams) -> ExecFuture<'_, ResizeResponse>;
}

/// The events of every process of a [`LocalProcess`](crate::LocalProcess), in `seq` order
/// per process: the low-level feed the server turns into notifications. Agent code wants
/// a per-process [`ProcessStream`] ([`ExecProcess::subscribe`]) instead.
pub struct ProcessEvents {
    queue: Arc<EventQueue>,
}

/// The bounded, never-blocking queue between `LocalProcess` and its subscriber.
///
/// Output events beyond `capacity` events or `max_bytes` of chunk data are dropped (the subscriber recovers them with `read`); `exited` and `closed` are never dropped (at most two per process), so a
/// subscriber always learns that a process finished, and every event keeps its place in
/// one FIFO, so the order on the wire is the order of `seq` (closed last; output after
/// exited only from something that outlived the process and held its pipes).
///
/// So that a subscriber also notices drops from a process that then goes quiet, the newest
/// dropped output of each process is kept aside and queued as soon as there is room, unless
/// a newer event of that process got queued first (that one reveals the hole already).
/// Either way the subscriber sees a `seq` hole and re-reads; per-process order is kept.
pub(crate) struct EventQueue {
    state: std::sync::Mutex<QueueState>,
    notify: Notify,
    capacity: usize,
    max_bytes: usize,
    /// Called with each event the subscriber takes: `LocalProcess` counts its output as
    /// delivered then, which lets a paced process go on.
    on_taken: Option<TakenHook>,
    /// Whether output events are queued at all (lifecycle events always are).
    output: bool,
}

/// See [`EventQueue::on_taken`].
pub(crate) type TakenHook = Box<dyn Fn(&ProcessEvent) + Send + Sync>;

fn chunk_len(event: &ProcessEvent) -> usize {
    match event {
        ProcessEvent::Output(n) => n.chunk.0.len(),
        ProcessEvent::Exited(_) | ProcessEvent::Closed(_) | ProcessEvent::Gap { .. } => 0,
    }
}

struct QueueState {
    events: VecDeque<ProcessEvent>,
    /// Sum of `chunk_len` over `events`.
    bytes: usize,
    /// Newest dropped output per process, waiting for room.
    dropped_tails: HashMap<String, ProcessEvent>,
    closed: bool,
}

/// Whether [`EventQueue::push`] kept the event.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    Queued,
    /// An output event for a subscriber that takes lifecycle events only.
    NotWanted,
    DroppedFull,
    DroppedClosed,
}

impl EventQueue {
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            state: std::sync::Mutex::new(QueueState {
                events: VecDeque::new(),
                bytes: 0,
                dropped_tails: HashMap::new(),
                closed: false,
            }),
            notify: Notify::new(),
            capacity: capacity.max(1),
            max_bytes,
            on_taken: None,
            output: true,
        }
    }

    /// This queue, without output events when `output` is false.
    pub(crate) fn with_output(mut self, output: bool) -> Self {
        self.output = output;
        self
    }

    /// This queue, calling `hook` with every event the subscriber takes.
    pub(crate) fn on_taken(mut self, hook: TakenHook) -> Self {
        self.on_taken = Some(hook);
        self
    }

    fn state(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues `event`. Output that is `droppable` (`outputMode: "drop"`) is dropped when
    /// the queue is full; other output is always queued (its producer is paced, which
    /// bounds it), and so are lifecycle events.
    pub(crate) fn push(&self, event: ProcessEvent, droppable: bool) -> Pushed {
        let mut state = self.state();
        if state.closed {
            return Pushed::DroppedClosed;
        }
        let is_output = match &event {
            ProcessEvent::Output(_) | ProcessEvent::Gap { .. } => true,
            ProcessEvent::Exited(_) | ProcessEvent::Closed(_) => false,
        };
        if is_output && !self.output {
            return Pushed::NotWanted;
        }
        let droppable = droppable && is_output;
        let process_id = event.process_id().to_string();
        let len = chunk_len(&event);
        let full = state.events.len() >= self.capacity
            || (len > 0 && state.bytes + len > self.max_bytes && !state.events.is_empty());
        if droppable && full {
            state.dropped_tails.insert(process_id, event);
            return Pushed::DroppedFull;
        }
        state.dropped_tails.remove(&process_id);
        state.bytes += len;
        state.events.push_back(event);
        drop(state);
        self.notify.notify_one();
        Pushed::Queued
    }

    /// Take back the queued output of `process_id` (its notifications were turned off):
    /// never taken, it was never delivered, so it stays retained for `read`, and a paced
    /// process keeps waiting for that read instead of for this queue. Lifecycle events
    /// stay. Returns the bytes withdrawn.
    pub(crate) fn withdraw_output(&self, process_id: &str) -> usize {
        let mut state = self.state();
        let before = state.bytes;
        let QueueState {
            events,
            bytes,
            dropped_tails,
            ..
        } = &mut *state;
        events.retain(|event| {
            let withdraw =
                matches!(event, ProcessEvent::Output(output) if output.process_id == process_id);
            if withdraw {
                *bytes -= chunk_len(event);
            }
            !withdraw
        });
        dropped_tails.remove(process_id);
        before - state.bytes
    }

    pub(crate) fn close(&self) {
        self.state().closed = true;
        self.notify.notify_one();
    }

    async fn recv(&self) -> Option<ProcessEvent> {
        let event = self.take().await;
        if let (Some(event), Some(hook)) = (&event, &self.on_taken) {
            hook(event);
        }
        event
    }

    async fn take(&self) -> Option<ProcessEvent> {
        loop {
            let notified = self.notify.notified();
            {
                let mut state = self.state();
                if let Some(event) = state.events.pop_front() {
                    state.bytes -= chunk_len(&event);
                    // Once the queue has drained, hand over the newest dropped output of
                    // each quiet process so the subscriber notices its hole.
                    if state.events.is_empty() && !state.dropped_tails.is_empty() {
                        let ids: Vec<String> = state
                            .dropped_tails
                            .keys()
                            .take(self.capacity)
                            .cloned()
                            .collect();
                        for id in ids {
                            if let Some(tail) = state.dropped_tails.remove(&id) {
                                state.bytes += chunk_len(&tail);
                                state.events.push_back(tail);
                            }
                        }
                    }
                    return Some(event);
                }
                if state.closed {
                    return None;
                }
            }
            notified.await;
        }
    }
}

impl ProcessEvents {
    pub(crate) fn queue(queue: Arc<EventQueue>) -> Self {
        Self { queue }
    }

    /// The next event; `None` once the subscription was replaced or the backend is gone.
    pub async fn recv(&mut self) -> Option<ProcessEvent> {
        self.queue.recv().await
    }
}

impl Drop for ProcessEvents {
    fn drop(&mut self) {
        // Nobody will read this queue any more: stop filling it.
        self.queue.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ByteChunk;
    use crate::protocol::ClosedNotification;
    use crate::protocol::OutputNotification;
    use crate::protocol::OutputStream;
    use pretty_assertions::assert_eq;

    fn output(seq: u64) -> ProcessEvent {
        ProcessEvent::Output(OutputNotification {
            process_id: "p".to_string(),
            seq,
            stream: OutputStream::Stdout,
            chunk: ByteChunk::default(),
        })
    }

    #[tokio::test]
    async fn full_queue_drops_output_but_keeps_lifecycle_in_order() {
        let queue = Arc::new(EventQueue::new(/*capacity*/ 1, usize::MAX));
        let closed = ProcessEvent::Closed(ClosedNotification {
            process_id: "p".to_string(),
            seq: 3,
        });
        assert_eq!(queue.push(output(1), /*droppable*/ true), Pushed::Queued);
        assert_eq!(
            queue.push(output(2), /*droppable*/ true),
            Pushed::DroppedFull
        );
        assert_eq!(
            queue.push(closed.clone(), /*droppable*/ true),
            Pushed::Queued
        );
        let mut events = ProcessEvents::queue(Arc::clone(&queue));
        assert_eq!(events.recv().await, Some(output(1)));
        // Output 2 was superseded by a newer queued event of its process.
        assert_eq!(events.recv().await, Some(closed));
        queue.close();
        assert_eq!(events.recv().await, None);
    }

    #[tokio::test]
    async fn newest_dropped_output_is_queued_when_room_appears() {
        let queue = Arc::new(EventQueue::new(/*capacity*/ 1, usize::MAX));
        assert_eq!(queue.push(output(1), /*droppable*/ true), Pushed::Queued);
        assert_eq!(
            queue.push(output(2), /*droppable*/ true),
            Pushed::DroppedFull
        );
        assert_eq!(
            queue.push(output(3), /*droppable*/ true),
            Pushed::DroppedFull
        );
        let mut events = ProcessEvents::queue(Arc::clone(&queue));
        assert_eq!(events.recv().await, Some(output(1)));
        // The process went quiet: its newest dropped output still arrives, revealing the
        // hole (seq 2) to the subscriber.
        assert_eq!(events.recv().await, Some(output(3)));
    }
}
