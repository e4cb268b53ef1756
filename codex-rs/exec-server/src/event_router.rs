//! The event router: it turns one backend's stream of events (notifications from a server,
//! or a [`LocalProcess`](crate::LocalProcess)'s event queue) into one [`ProcessStream`] per
//! subscribed process, and fills every hole in a process's `seq` numbers (notifications
//! the server dropped in `outputMode: "drop"`, a resumed session, a late subscription)
//! with `process/read {afterSeq}` ([`Router::start_catch_up`]), so a subscriber sees every
//! retained byte once, in order, and output that was no longer retained as an explicit
//! [`ProcessEvent::Gap`].
//!
//! Everything is bounded. Each stream holds a few events; when its subscriber is slow, the
//! router waits for room, which stops it from taking more events: a server connection then
//! stops being read (TCP and the server's pacing slow the process down), a local backend's
//! paced process stops being read. Catch-up reads never block the router (their replies
//! may be queued behind events on the same connection): they run beside it, and events of
//! a process that arrive during its catch-up are dropped, to be re-read. Events of
//! processes nobody subscribed to are dropped, and a process is forgotten once its stream
//! ended.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::warn;

use crate::error::ExecError;
use crate::process_stream::ProcessStream;
use crate::process_stream::StreamItem;
use crate::protocol::ClosedNotification;
use crate::protocol::ExitedNotification;
use crate::protocol::OutputNotification;
use crate::protocol::ProcessEvent;
use crate::protocol::ReadParams;
use crate::protocol::ReadResponse;

/// Bytes per catch-up read.
const CATCH_UP_READ_BYTES: usize = 4 * 1024 * 1024;
/// Events a [`ProcessStream`] holds before the router waits for its subscriber.
pub(crate) const STREAM_CAPACITY: usize = 4;
/// Messages queued for the router before its feeder waits (a server connection stops
/// being read).
pub(crate) const ROUTER_QUEUE: usize = 8;
/// A `seq` further than this past the last one seen is refused as absurd (a process
/// would need a trillion events to get there), so `seq` arithmetic can never overflow.
const MAX_SEQ_JUMP: u64 = 1 << 40;
/// Catch-up reads in a row that may bring nothing new while the router knows more exists,
/// before it reports the catch-up as failed.
const MAX_FRUITLESS_READS: u32 = 3;

/// A boxed `process/read`, local or through the connection.
pub(crate) type ReadFuture = Pin<Box<dyn Future<Output = Result<ReadResponse, ExecError>> + Send>>;
/// How the router reads a process's retained output.
pub(crate) type ReadFn = Arc<dyn Fn(ReadParams) -> ReadFuture + Send + Sync>;
/// What the router tells every open stream when its feeder is gone (the session was lost,
/// the backend dropped): `None` ends the streams without an error.
pub(crate) type EndFn = Box<dyn FnOnce() -> Option<ExecError> + Send>;

/// What the router is told.
pub(crate) enum RouterMsg {
    /// Deliver the events of `process_id` to `tx`, starting after `seq` 0. With
    /// `catch_up`, read what the process already produced first (a subscription made after
    /// the start).
    Subscribe {
        process_id: String,
        tx: mpsc::Sender<StreamItem>,
        catch_up: bool,
    },
    /// An event from the backend.
    Event(ProcessEvent),
    /// The session was resumed after a lost connection: notifications may have been lost.
    Resumed,
    /// Nothing more will come (the session was lost): end every stream with this error,
    /// and fail later subscriptions with it.
    Lost(ExecError),
}

/// A new stream for `process_id` and the message that subscribes it.
pub(crate) fn subscription(process_id: &str, catch_up: bool) -> (ProcessStream, RouterMsg) {
    let (tx, rx) = mpsc::channel(STREAM_CAPACITY);
    (
        ProcessStream::new(process_id.to_string(), rx),
        RouterMsg::Subscribe {
            process_id: process_id.to_string(),
            tx,
            catch_up,
        },
    )
}

struct Track {
    tx: mpsc::Sender<StreamItem>,
    last_seq: u64,
    /// A catch-up read is outstanding; events are dropped meanwhile.
    catching_up: bool,
    /// The highest `seq` dropped during a catch-up: the catch-up goes on until it is
    /// covered.
    dropped_up_to: u64,
    fruitless_reads: u32,
}

struct Router {
    tracks: HashMap<String, Track>,
    read: ReadFn,
    done: mpsc::UnboundedSender<(String, Result<ReadResponse, ExecError>)>,
    /// Why nothing more will come, once that is so.
    lost: Option<ExecError>,
}

fn event_seq(event: &ProcessEvent) -> Option<u64> {
    match event {
        ProcessEvent::Output(n) => Some(n.seq),
        ProcessEvent::Exited(n) => Some(n.seq),
        ProcessEvent::Closed(n) => Some(n.seq),
        ProcessEvent::Gap { .. } => None,
    }
}

/// Run a router until every sender of `rx` is gone, then end the open streams with what
/// `on_end` says.
pub(crate) async fn run_router(mut rx: mpsc::Receiver<RouterMsg>, read: ReadFn, on_end: EndFn) {
    let (done, mut done_rx) = mpsc::unbounded_channel();
    let mut router = Router {
        tracks: HashMap::new(),
        read,
        done,
        lost: None,
    };
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(RouterMsg::Subscribe { process_id, tx, catch_up }) => {
                    router.subscribe(process_id, tx, catch_up);
                }
                Some(RouterMsg::Event(event)) => router.event(event).await,
                Some(RouterMsg::Resumed) => router.resumed(),
                Some(RouterMsg::Lost(error)) => router.lose(error),
                None => break,
            },
            Some((process_id, result)) = done_rx.recv() => {
                router.caught_up(&process_id, result).await;
            }
        }
    }
    match on_end() {
        Some(error) => router.lose(error),
        None => router.tracks.clear(),
    }
}

/// Hand `error` to `tx` as its last item, without waiting for a slow subscriber to make
/// room (a task does), and end the stream.
fn end_with(tx: mpsc::Sender<StreamItem>, error: ExecError) {
    if let Err(mpsc::error::TrySendError::Full(item)) = tx.try_send(Err(error)) {
        tokio::spawn(async move {
            let _ = tx.send(item).await;
        });
    }
}

impl Router {
    fn lose(&mut self, error: ExecError) {
        for (_, track) in self.tracks.drain() {
            end_with(track.tx, error.clone());
        }
        self.lost = Some(error);
    }

    fn subscribe(&mut self, process_id: String, tx: mpsc::Sender<StreamItem>, catch_up: bool) {
        if let Some(error) = &self.lost {
            end_with(tx, error.clone());
            return;
        }
        let track = Track {
            tx,
            last_seq: 0,
            catching_up: false,
            dropped_up_to: 0,
            fruitless_reads: 0,
        };
        self.tracks.insert(process_id.clone(), track);
        if catch_up {
            self.start_catch_up(&process_id);
        }
    }

    async fn event(&mut self, event: ProcessEvent) {
        let Some(seq) = event_seq(&event) else {
            return;
        };
        let process_id = event.process_id();
        let Some(track) = self.tracks.get_mut(process_id) else {
            // Not a process anyone here subscribed to (or one already closed): dropped.
            return;
        };
        if seq <= track.last_seq {
            return;
        }
        if seq - track.last_seq > MAX_SEQ_JUMP {
            warn!(
                "ignoring an event of process `{process_id}` with seq {seq}, absurdly far past {}",
                track.last_seq
            );
            return;
        }
        if track.catching_up {
            track.dropped_up_to = track.dropped_up_to.max(seq);
            return;
        }
        if seq > track.last_seq + 1 {
            track.dropped_up_to = seq;
            let process_id = process_id.to_string();
            self.start_catch_up(&process_id);
            return;
        }
        let process_id = process_id.to_string();
        let closed = matches!(event, ProcessEvent::Closed(_));
        self.deliver(&process_id, vec![Ok(event)], seq, closed)
            .await;
    }

    fn resumed(&mut self) {
        let ids: Vec<String> = self
            .tracks
            .iter()
            .filter(|(_, track)| !track.catching_up)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.start_catch_up(&id);
        }
    }

    /// Read what `process_id` produced after its last delivered event, beside the router;
    /// the reply comes back to [`Router::caught_up`].
    fn start_catch_up(&mut self, process_id: &str) {
        let Some(track) = self.tracks.get_mut(process_id) else {
            return;
        };
        track.catching_up = true;
        let params = ReadParams {
            process_id: process_id.to_string(),
            after_seq: Some(track.last_seq),
            max_bytes: Some(CATCH_UP_READ_BYTES),
            wait_ms: None,
        };
        let read = (self.read)(params);
        let done = self.done.clone();
        let process_id = process_id.to_string();
        tokio::spawn(async move {
            let result = read.await;
            let _ = done.send((process_id, result));
        });
    }

    async fn caught_up(&mut self, process_id: &str, result: Result<ReadResponse, ExecError>) {
        let Some(track) = self.tracks.get_mut(process_id) else {
            return;
        };
        track.catching_up = false;
        let before = track.last_seq;
        let response = match result.and_then(|response| checked(process_id, before, response)) {
            Ok(response) => response,
            Err(err @ ExecError::UnknownProcess(_)) => {
                // Forgotten after its grace period (or never started): nothing more comes.
                self.deliver(process_id, vec![Err(err)], before, /*closed*/ true)
                    .await;
                return;
            }
            Err(ExecError::Disconnected { .. } | ExecError::SessionLost { .. }) => {
                // The connection is down: the resume (`Resumed`) catches up again, and a
                // lost session ends every stream with its cause (`Lost`).
                return;
            }
            Err(err) => {
                // Reported, not dropped; the next event or resume tries again.
                track.dropped_up_to = 0;
                self.deliver(process_id, vec![Err(err)], before, /*closed*/ false)
                    .await;
                return;
            }
        };
        let (events, last, closed) = events_from_read(process_id, before, response);
        let items = events.into_iter().map(Ok).collect();
        let Some(track) = self.deliver(process_id, items, last, closed).await else {
            return;
        };
        if last > before {
            track.fruitless_reads = 0;
        } else {
            track.fruitless_reads += 1;
        }
        if track.dropped_up_to <= last && last == before {
            track.dropped_up_to = 0;
            return;
        }
        if track.fruitless_reads >= MAX_FRUITLESS_READS {
            let error = ExecError::Transport(format!(
                "catching up on process `{process_id}`: the server announced seq {} but its \
                 reads end at {last}",
                track.dropped_up_to
            ));
            track.dropped_up_to = 0;
            track.fruitless_reads = 0;
            self.deliver(process_id, vec![Err(error)], last, /*closed*/ false)
                .await;
            return;
        }
        // More may be retained (the read was cut at its byte bound, or events were dropped
        // while it ran): read on.
        self.start_catch_up(process_id);
    }

    /// Hand `items` to the subscriber of `process_id` (waiting for room), then record
    /// `last_seq`; forget the process once `closed` or when its subscriber is gone.
    /// Returns the track if it is still followed.
    async fn deliver(
        &mut self,
        process_id: &str,
        items: Vec<StreamItem>,
        last_seq: u64,
        closed: bool,
    ) -> Option<&mut Track> {
        let track = self.tracks.get_mut(process_id)?;
        let mut gone = false;
        for item in items {
            if track.tx.send(item).await.is_err() {
                gone = true;
                break;
            }
        }
        track.last_seq = track.last_seq.max(last_seq);
        if gone || closed {
            self.tracks.remove(process_id);
            return None;
        }
        self.tracks.get_mut(process_id)
    }
}

/// `response` if its `seq` numbers are plausible after `last_seq`, else why not.
fn checked(
    process_id: &str,
    last_seq: u64,
    response: ReadResponse,
) -> Result<ReadResponse, ExecError> {
    let limit = last_seq.saturating_add(MAX_SEQ_JUMP);
    let absurd = response.next_seq > limit
        || response.chunks.iter().any(|chunk| chunk.seq > limit)
        || response.gap.is_some_and(|gap| gap.to_seq > limit);
    if absurd {
        return Err(ExecError::Transport(format!(
            "a read of process `{process_id}` after seq {last_seq} returned absurd seq numbers"
        )));
    }
    Ok(response)
}

/// The events a `process/read {afterSeq: last_seq}` reply stands for, in order, with the new
/// last seq and whether the process is closed. Output comes from `chunks` (a `gap` first, if
/// any); the seqs between the last chunk and `nextSeq` are lifecycle events (exited, then
/// closed if the reply says so): a reply never reads past `exited` when output follows it,
/// so within one reply they always come after every chunk.
fn events_from_read(
    process_id: &str,
    last_seq: u64,
    response: ReadResponse,
) -> (Vec<ProcessEvent>, u64, bool) {
    let mut events = Vec::new();
    let mut covered = last_seq;
    if let Some(gap) = response.gap {
        events.push(ProcessEvent::Gap {
            process_id: process_id.to_string(),
            gap,
        });
        covered = covered.max(gap.to_seq);
    }
    for chunk in response.chunks {
        if chunk.seq <= covered {
            continue;
        }
        covered = chunk.seq;
        events.push(ProcessEvent::Output(OutputNotification {
            process_id: process_id.to_string(),
            seq: chunk.seq,
            stream: chunk.stream,
            chunk: chunk.chunk,
        }));
    }
    let last = response.next_seq.saturating_sub(1).max(last_seq);
    let lifecycle_count = usize::try_from(last.saturating_sub(covered)).unwrap_or(usize::MAX);
    let mut lifecycle = Vec::new();
    if response.exited {
        lifecycle.push(ProcessEvent::Exited(ExitedNotification {
            process_id: process_id.to_string(),
            seq: 0,
            exit_code: response.exit_code.unwrap_or(-1),
        }));
    }
    if response.closed {
        lifecycle.push(ProcessEvent::Closed(ClosedNotification {
            process_id: process_id.to_string(),
            seq: 0,
        }));
    }
    let skip = lifecycle.len().saturating_sub(lifecycle_count);
    let mut closed = false;
    for (seq, mut event) in (covered + 1..).zip(lifecycle.into_iter().skip(skip)) {
        match &mut event {
            ProcessEvent::Exited(n) => n.seq = seq,
            ProcessEvent::Closed(n) => {
                n.seq = seq;
                closed = true;
            }
            ProcessEvent::Output(_) | ProcessEvent::Gap { .. } => {}
        }
        events.push(event);
    }
    (events, last, closed)
}

#[cfg(test)]
#[path = "event_router_tests.rs"]
mod tests;
