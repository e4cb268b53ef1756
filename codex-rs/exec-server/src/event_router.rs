//! The event router: it turns one backend's stream of events (notifications from a server,
//! or a [`LocalProcess`](crate::LocalProcess)'s event queue) into one [`ProcessStream`] per
//! subscribed process, and fills every hole in a process's `seq` numbers (notifications
//! the server dropped in `outputMode: "drop"`, a resumed session, a late subscription)
//! with `process/read {afterSeq}`, so a subscriber sees every retained byte once, in
//! order, and output that was no longer retained as an explicit [`ProcessEvent::Gap`].
//!
//! Flow control is per process, and nothing waits on a slow subscriber but its own
//! process. The router never blocks on a stream: when a process's stream is full, the
//! event goes to that process's short `pending` queue, the router asks the backend to
//! stop notifying that process's output (`process/outputNotifications {enabled: false}`),
//! and from then on the process's output comes only through reads, one read at a time and
//! only once the subscriber took what the previous one brought. A read is what counts as
//! delivery for a paced process, so the process waits for its subscriber, exactly as a
//! writer waits for a pipe's reader, while every other process (and every reply on the
//! same connection) goes on. Once the subscriber caught up, notifications are turned back
//! on and one more read covers what came in between. Events of processes nobody
//! subscribed to are dropped, and a process is forgotten once its stream ended.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tracing::debug;
use tracing::warn;

use crate::error::ExecError;
use crate::process_stream::ProcessStream;
use crate::process_stream::StreamItem;
use crate::protocol::AckParams;
use crate::protocol::ClosedNotification;
use crate::protocol::ExitedNotification;
use crate::protocol::OutputNotification;
use crate::protocol::OutputNotificationsParams;
use crate::protocol::ProcessEvent;
use crate::protocol::ReadParams;
use crate::protocol::ReadResponse;

/// Bytes per catch-up read.
const CATCH_UP_READ_BYTES: usize = 4 * 1024 * 1024;
/// Output bytes a process's `pending` queue takes from notifications still in flight after
/// its subscriber fell behind (before turning notifications off took effect). Beyond it
/// the router waits for that subscriber (holding up the others, but losing nothing).
const PENDING_MAX_BYTES: usize = 32 * 1024 * 1024;
/// Events a [`ProcessStream`] holds; more wait in the process's `pending` queue.
pub(crate) const STREAM_CAPACITY: usize = 32;
/// Output bytes waiting in a process's `pending` queue before its notifications are
/// turned off: a subscriber that only hiccups keeps the fast path (notifications), one
/// that stays behind paces its process through reads.
const MUTE_AFTER_BYTES: usize = 4 * 1024 * 1024;
/// Messages queued for the router before its feeder waits.
pub(crate) const ROUTER_QUEUE: usize = 16;
/// Notified output bytes of a process the router holds before it acknowledges them
/// (`process/ack`), unless it runs out of messages first (then it acknowledges at once, so
/// a process paced on a window smaller than this never waits for it).
const ACK_EVERY_BYTES: usize = 1024 * 1024;
/// A `seq` further than this past the last one seen is refused as absurd (a process
/// would need a trillion events to get there), so `seq` arithmetic can never overflow.
const MAX_SEQ_JUMP: u64 = 1 << 40;
/// Reads in a row that may bring nothing new while the router knows more exists, before it
/// reports the catch-up as failed.
const MAX_FRUITLESS_READS: u32 = 3;

/// A boxed backend call.
pub(crate) type BackendFuture<T> = Pin<Box<dyn Future<Output = Result<T, ExecError>> + Send>>;
/// How the router reads a process's retained output.
pub(crate) type ReadFn = Arc<dyn Fn(ReadParams) -> BackendFuture<ReadResponse> + Send + Sync>;
/// How the router turns a process's output notifications off and on.
pub(crate) type NotifyFn =
    Arc<dyn Fn(OutputNotificationsParams) -> BackendFuture<()> + Send + Sync>;
/// What the router tells every open stream when its feeder is gone (the session was lost,
/// the backend dropped): `None` ends the streams without an error.
pub(crate) type EndFn = Box<dyn FnOnce() -> Option<ExecError> + Send>;

/// How the router acknowledges a process's notified output.
pub(crate) type AckFn = Arc<dyn Fn(AckParams) -> BackendFuture<()> + Send + Sync>;

/// How the router reaches its backend.
#[derive(Clone)]
pub(crate) struct Backend {
    pub(crate) read: ReadFn,
    pub(crate) notify: NotifyFn,
    /// For a backend that counts notified output as delivered only once acknowledged (a
    /// server connection initialized with `acknowledgeOutput`); `None` where taking it is
    /// delivery (a local backend).
    pub(crate) ack: Option<AckFn>,
}

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

/// One subscribed process.
struct Track {
    tx: mpsc::Sender<StreamItem>,
    /// The highest `seq` handed to the subscriber or queued in `pending`.
    last_seq: u64,
    /// Events waiting for room in the stream, in order.
    pending: VecDeque<StreamItem>,
    /// Output bytes in `pending`.
    pending_bytes: usize,
    /// Events notified while a read is outstanding, in arrival order: appended after the
    /// read's events once they join up (see [`Router::read_done`]).
    early: VecDeque<ProcessEvent>,
    /// Output bytes in `early`.
    early_bytes: usize,
    /// The stream ends once `pending` is delivered.
    ending: bool,
    /// A wait for room in the stream is outstanding.
    awaiting_room: bool,
    /// A read is outstanding.
    reading: bool,
    /// The last read brought something, so more may be retained.
    more: bool,
    /// The highest `seq` of an event dropped while this process was not live.
    dropped_up_to: u64,
    fruitless_reads: u32,
    /// The backend was asked to stop notifying this process's output; reads turn it
    /// back on (`resumeNotifications`) once they reach the newest event.
    muted: bool,
    /// That request is on its way: reads wait for its answer, so that no read can turn
    /// notifications on before they were turned off.
    mute_in_flight: bool,
    /// The backend cannot turn notifications off (an older server): holes are read back
    /// anyway, a slow subscriber just cannot pace its process.
    notify_unsupported: bool,
    /// Notified output bytes taken in (up to `last_seq`) since the last acknowledgement.
    unacked_bytes: usize,
}

impl Track {
    fn new(tx: mpsc::Sender<StreamItem>) -> Self {
        Self {
            tx,
            last_seq: 0,
            pending: VecDeque::new(),
            pending_bytes: 0,
            early: VecDeque::new(),
            early_bytes: 0,
            ending: false,
            awaiting_room: false,
            reading: false,
            more: false,
            dropped_up_to: 0,
            fruitless_reads: 0,
            muted: false,
            mute_in_flight: false,
            notify_unsupported: false,
            unacked_bytes: 0,
        }
    }

    /// Live: events go straight to the stream.
    fn is_live(&self) -> bool {
        self.pending.is_empty() && !self.reading && !self.muted && !self.more
    }

    fn push_pending(&mut self, item: StreamItem) {
        self.pending_bytes += item_len(&item);
        self.pending.push_back(item);
    }

    fn pop_pending(&mut self) -> Option<StreamItem> {
        let item = self.pending.pop_front()?;
        self.pending_bytes -= item_len(&item);
        Some(item)
    }

    /// Put back an item that did not fit, first in line.
    fn unpop_pending(&mut self, item: StreamItem) {
        self.pending_bytes += item_len(&item);
        self.pending.push_front(item);
    }
}

fn item_len(item: &StreamItem) -> usize {
    item.as_ref().map_or(/*default*/ 0, event_len)
}

fn event_len(event: &ProcessEvent) -> usize {
    match event {
        ProcessEvent::Output(output) => output.chunk.0.len(),
        ProcessEvent::Exited(_) | ProcessEvent::Closed(_) | ProcessEvent::Gap { .. } => 0,
    }
}

/// What the router's own tasks report back.
enum Done {
    Room(String, Option<mpsc::OwnedPermit<StreamItem>>),
    Read(String, Result<ReadResponse, ExecError>),
    Notify(String, Result<(), ExecError>),
}

type DoneFuture = Pin<Box<dyn Future<Output = Done> + Send>>;

struct Router {
    tracks: HashMap<String, Track>,
    /// Processes with notified output not acknowledged yet.
    unacked: std::collections::HashSet<String>,
    backend: Backend,
    tasks: FuturesUnordered<DoneFuture>,
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
pub(crate) async fn run_router(mut rx: mpsc::Receiver<RouterMsg>, backend: Backend, on_end: EndFn) {
    let mut router = Router {
        tracks: HashMap::new(),
        unacked: std::collections::HashSet::new(),
        backend,
        tasks: FuturesUnordered::new(),
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
            Some(done) = router.tasks.next(), if !router.tasks.is_empty() => router.done(done),
        }
        router.acknowledge(/*idle*/ rx.is_empty());
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
        let mut track = Track::new(tx);
        track.more = catch_up;
        self.tracks.insert(process_id.clone(), track);
        self.advance(&process_id);
    }

    async fn event(&mut self, event: ProcessEvent) {
        let Some(seq) = event_seq(&event) else {
            return;
        };
        let process_id = event.process_id().to_string();
        let Some(track) = self.tracks.get_mut(&process_id) else {
            // Not a process anyone here subscribed to (or one already ended): dropped.
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
        let hole = seq != track.last_seq + 1;
        if track.reading || hole {
            // A read in flight ends somewhere before this, or there is a hole before it
            // (notifications dropped in `outputMode: "drop"`, or lost with a broken
            // connection) that a read is about to fill: keep it to join up after that
            // read. Never drop it: in pace mode the server counted it delivered when it
            // sent it, so it may already be gone from the server's log.
            if hole {
                track.dropped_up_to = track.dropped_up_to.max(seq);
            }
            let len = event_len(&event);
            track.early_bytes += len;
            track.early.push_back(event);
            if track.early_bytes > PENDING_MAX_BYTES {
                // Far more than a read's round trip brings: stop the flow (what is
                // already on its way is kept; nothing notified is ever dropped).
                self.mute(&process_id);
            }
            self.advance(&process_id);
            return;
        }
        let closed = matches!(event, ProcessEvent::Closed(_));
        track.last_seq = seq;
        track.ending |= closed;
        if self.backend.ack.is_some() {
            track.unacked_bytes += event_len(&event);
            if !self.unacked.contains(&process_id) {
                self.unacked.insert(process_id.clone());
            }
        }
        if !track.is_live() {
            // Behind, and this came before notifications were off: keep it in order.
            if track.pending_bytes >= PENDING_MAX_BYTES {
                warn!(
                    "process `{process_id}`: {} bytes arrived after its subscriber fell \
                     behind; waiting for that subscriber",
                    track.pending_bytes
                );
                // More in flight than we keep: wait for this subscriber (nothing lost).
                if !self.make_room(&process_id).await {
                    return;
                }
            }
            if let Some(track) = self.tracks.get_mut(&process_id) {
                track.push_pending(Ok(event));
            }
            self.advance(&process_id);
            return;
        }
        match track.tx.try_send(Ok(event)) {
            Ok(()) if closed => {
                self.tracks.remove(&process_id);
            }
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(item)) => {
                // The subscriber fell behind: hold this process back until it caught up.
                track.push_pending(item);
                self.advance(&process_id);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => self.unsubscribed(&process_id),
        }
    }

    /// Wait until the stream of `process_id` takes its first pending event; false if the
    /// subscriber is gone.
    async fn make_room(&mut self, process_id: &str) -> bool {
        let Some(tx) = self.tracks.get(process_id).map(|track| track.tx.clone()) else {
            return false;
        };
        let Ok(permit) = tx.reserve_owned().await else {
            self.unsubscribed(process_id);
            return false;
        };
        if let Some(item) = self.tracks.get_mut(process_id).and_then(Track::pop_pending) {
            permit.send(item);
        }
        true
    }

    fn resumed(&mut self) {
        let ids: Vec<String> = self.tracks.keys().cloned().collect();
        for id in ids {
            if let Some(track) = self.tracks.get_mut(&id) {
                track.more = true;
            }
            self.advance(&id);
        }
    }

    /// The subscriber of `process_id` dropped its stream: forget the process, and let it
    /// run free again if it was held back for that subscriber.
    fn unsubscribed(&mut self, process_id: &str) {
        if let Some(track) = self.tracks.remove(process_id)
            && track.muted
            && !track.notify_unsupported
        {
            let notify = (self.backend.notify)(OutputNotificationsParams {
                process_id: process_id.to_string(),
                enabled: true,
            });
            tokio::spawn(async move {
                let _ = notify.await;
            });
        }
    }

    /// Take the next step for `process_id`, whatever state it is in: wait for room for
    /// pending events (turning notifications off while the subscriber is behind), read
    /// what is missing (turning notifications back on with the read that reaches the
    /// newest event), or end the stream.
    fn advance(&mut self, process_id: &str) {
        let Some(track) = self.tracks.get_mut(process_id) else {
            return;
        };
        if !track.pending.is_empty() {
            if !track.awaiting_room {
                track.awaiting_room = true;
                let tx = track.tx.clone();
                let id = process_id.to_string();
                self.tasks.push(Box::pin(async move {
                    Done::Room(id, tx.reserve_owned().await.ok())
                }));
            }
            if track.pending_bytes >= MUTE_AFTER_BYTES {
                // Behind: the process waits for its subscriber (reads pace it).
                self.mute(process_id);
            }
        } else if track.ending {
            self.tracks.remove(process_id);
        } else if !track.reading
            && !track.mute_in_flight
            && (track.more || track.muted || track.dropped_up_to > track.last_seq)
        {
            track.reading = true;
            let read = (self.backend.read)(ReadParams {
                process_id: process_id.to_string(),
                after_seq: Some(track.last_seq),
                max_bytes: Some(CATCH_UP_READ_BYTES),
                wait_ms: None,
                resume_notifications: track.muted,
            });
            let id = process_id.to_string();
            self.tasks
                .push(Box::pin(async move { Done::Read(id, read.await) }));
        }
    }

    /// Acknowledge the notified output the router holds (for a backend with `ack`): of
    /// each process with [`ACK_EVERY_BYTES`] unacknowledged, or of every one when `idle`
    /// (no message waiting: a paced process may be waiting for just this).
    fn acknowledge(&mut self, idle: bool) {
        if self.unacked.is_empty() {
            return;
        }
        let Some(ack) = self.backend.ack.clone() else {
            self.unacked.clear();
            return;
        };
        let mut settled = Vec::new();
        for process_id in &self.unacked {
            let Some(track) = self.tracks.get_mut(process_id) else {
                settled.push(process_id.clone());
                continue;
            };
            if !idle && track.unacked_bytes < ACK_EVERY_BYTES {
                continue;
            }
            track.unacked_bytes = 0;
            settled.push(process_id.clone());
            let acked = ack(AckParams {
                process_id: process_id.clone(),
                seq: track.last_seq,
            });
            let process_id = process_id.clone();
            tokio::spawn(async move {
                // Lost with a broken connection, it is made up for by the resume's reads.
                if let Err(err) = acked.await {
                    debug!("acknowledging output of `{process_id}`: {err}");
                }
            });
        }
        for process_id in settled {
            self.unacked.remove(&process_id);
        }
    }

    /// Ask the backend to stop notifying the output of `process_id` (once).
    fn mute(&mut self, process_id: &str) {
        let Some(track) = self.tracks.get_mut(process_id) else {
            return;
        };
        if track.muted || track.notify_unsupported {
            return;
        }
        track.muted = true;
        track.mute_in_flight = true;
        let notify = (self.backend.notify)(OutputNotificationsParams {
            process_id: process_id.to_string(),
            enabled: false,
        });
        let id = process_id.to_string();
        self.tasks
            .push(Box::pin(async move { Done::Notify(id, notify.await) }));
    }

    fn done(&mut self, done: Done) {
        match done {
            Done::Room(process_id, permit) => self.room(&process_id, permit),
            Done::Read(process_id, result) => self.read_done(&process_id, result),
            Done::Notify(process_id, result) => self.mute_done(&process_id, result),
        }
    }

    fn room(&mut self, process_id: &str, permit: Option<mpsc::OwnedPermit<StreamItem>>) {
        let Some(track) = self.tracks.get_mut(process_id) else {
            return;
        };
        track.awaiting_room = false;
        let Some(permit) = permit else {
            self.unsubscribed(process_id);
            return;
        };
        if let Some(item) = track.pop_pending() {
            permit.send(item);
        }
        // Hand over what fits without waiting.
        while let Some(item) = track.pop_pending() {
            match track.tx.try_send(item) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(item)) => {
                    track.unpop_pending(item);
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.unsubscribed(process_id);
                    return;
                }
            }
        }
        self.advance(process_id);
    }

    fn read_done(&mut self, process_id: &str, result: Result<ReadResponse, ExecError>) {
        let Some(track) = self.tracks.get_mut(process_id) else {
            return;
        };
        track.reading = false;
        let before = track.last_seq;
        match result.and_then(|response| checked(process_id, before, response)) {
            Ok(response) => {
                // Reached the newest event: from here on every event is notified.
                let resumed = response.notifications_resumed;
                if resumed {
                    track.muted = false;
                }
                let (events, mut last, mut closed) = events_from_read(process_id, before, response);
                for event in events {
                    track.push_pending(Ok(event));
                }
                // What was notified meanwhile, from where the read ended.
                let mut joined = false;
                while let Some(event) = track.early.pop_front() {
                    track.early_bytes -= event_len(&event);
                    let seq = event_seq(&event).unwrap_or(0);
                    if seq <= last || closed {
                        continue;
                    }
                    if seq != last + 1 {
                        // Not joined up yet: the next read goes on from `last`.
                        track.early_bytes += event_len(&event);
                        track.early.push_front(event);
                        break;
                    }
                    closed = matches!(event, ProcessEvent::Closed(_));
                    last = seq;
                    joined = true;
                    if self.backend.ack.is_some() {
                        track.unacked_bytes += event_len(&event);
                    }
                    track.push_pending(Ok(event));
                }
                track.last_seq = last;
                track.ending = closed;
                if track.unacked_bytes > 0 && !self.unacked.contains(process_id) {
                    self.unacked.insert(process_id.to_string());
                }
                track.more = if !track.early.is_empty() {
                    true
                } else {
                    last > before && !joined && !resumed
                };
                if track.more {
                    track.fruitless_reads = 0;
                } else if track.dropped_up_to > last {
                    track.fruitless_reads += 1;
                    if track.fruitless_reads >= MAX_FRUITLESS_READS {
                        track.push_pending(Err(ExecError::Transport(format!(
                            "catching up on process `{process_id}`: the server announced seq \
                             {} but its reads end at {last}",
                            track.dropped_up_to
                        ))));
                        track.dropped_up_to = 0;
                        track.fruitless_reads = 0;
                    }
                }
            }
            Err(ExecError::Disconnected { .. } | ExecError::SessionLost { .. }) => {
                // The connection is down: the resume (`Resumed`) reads again, and a lost
                // session ends every stream with its cause (`Lost`).
                return;
            }
            Err(err @ ExecError::UnknownProcess(_)) => {
                // Forgotten after its grace period (or never started): nothing more comes.
                track.push_pending(Err(err));
                track.ending = true;
            }
            Err(err) => {
                // Reported, not dropped; the next event or resume reads again.
                debug!("catching up on process `{process_id}` failed: {err}");
                track.push_pending(Err(err));
                track.more = false;
                track.dropped_up_to = 0;
            }
        }
        self.advance(process_id);
    }

    fn mute_done(&mut self, process_id: &str, result: Result<(), ExecError>) {
        let Some(track) = self.tracks.get_mut(process_id) else {
            return;
        };
        track.mute_in_flight = false;
        match result {
            Ok(()) => {}
            Err(ExecError::Disconnected { .. } | ExecError::SessionLost { .. }) => {
                // Unknown whether it took effect: reads after the resume turn
                // notifications on again either way (`resumeNotifications`).
            }
            Err(err) => {
                // An older server without per-process notifications, or a forgotten
                // process: go on without pacing it.
                debug!("process/outputNotifications for `{process_id}`: {err}");
                track.notify_unsupported = true;
                track.muted = false;
            }
        }
        self.advance(process_id);
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
