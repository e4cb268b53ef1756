//! A process's entry in the table of a [`super::LocalProcess`]: its state ([`EntryState`]:
//! retention log, process group, stdin, terminal, accepted writes), where a signal for it goes
//! ([`SignalTarget`]), and the pacing of its output readers in `outputMode: "pace"`
//! ([`PaceLimits`], [`Entry::wait_for_room`]).

use std::collections::HashSet;
use std::os::fd::OwnedFd;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::Notify;
use tokio::sync::mpsc;
use tokio::sync::oneshot;
use tokio::sync::watch;

use crate::protocol::WriteStatus;
use crate::retention::Retention;

use super::LocalProcessConfig;
use super::lock;

/// One process of the table.
pub(super) struct Entry {
    pub(super) id: String,
    /// Started with `tty: true` (whether or not the terminal is still there).
    pub(super) tty: bool,
    pub(super) state: Mutex<EntryState>,
    /// Carries the log's `next_seq` so long-polls wake on new events.
    pub(super) seq_tx: watch::Sender<u64>,
    /// `outputMode: "pace"`: the subscriber queue never drops this process's output.
    pub(super) paced: bool,
    /// Pace mode: where the output readers pause.
    pub(super) pace_limits: PaceLimits,
    /// Wakes paused output readers when output was delivered (or pacing released).
    pub(super) room: Notify,
}

/// Pace mode: output readers stop reading while the process's undelivered output (retained
/// and in flight to the log) reaches `bytes`, or its undelivered chunks reach `chunks`.
#[derive(Clone, Copy, Debug)]
pub(super) struct PaceLimits {
    bytes: usize,
    chunks: usize,
}

impl PaceLimits {
    /// Half the retention window may be undelivered; the other half keeps output the
    /// client was sent but may not have received when its connection broke, for the
    /// resume. The chunk bound keeps the per-chunk bookkeeping of many tiny writes
    /// (a few dozen bytes each) within about a third of the window.
    pub(super) fn for_config(config: &LocalProcessConfig) -> Self {
        let bytes = (config.max_retained_bytes / 2).max(1);
        Self {
            bytes,
            chunks: (bytes / 256).max(config.event_queue).max(1),
        }
    }
}

impl Entry {
    /// Whether the output readers may read on: always in drop mode (or once released),
    /// and in pace mode while the undelivered output is below the limits.
    pub(super) fn has_room(&self) -> bool {
        let state = lock(&self.state);
        match state.log.undelivered() {
            None => true,
            Some((bytes, chunks)) => {
                bytes + state.in_flight < self.pace_limits.bytes && chunks < self.pace_limits.chunks
            }
        }
    }

    /// Waits until [`Entry::has_room`].
    pub(super) async fn wait_for_room(&self) {
        loop {
            // Created before the check, so a delivery in between still wakes it.
            let notified = self.room.notified();
            if self.has_room() {
                return;
            }
            notified.await;
        }
    }

    /// Output through `seq` reached the client (a read after it): a paused process may go
    /// on.
    pub(super) fn delivered_through(&self, seq: u64) {
        if lock(&self.state).log.delivered_through(seq) {
            self.room.notify_waiters();
        }
    }

    /// The output chunk `seq` reached the client (its notification was taken).
    pub(super) fn delivered_one(&self, seq: u64) {
        if lock(&self.state).log.delivered_one(seq) {
            self.room.notify_waiters();
        }
    }

    /// Stop pacing (the session ends): paused readers go on, the log drops old output.
    pub(super) fn release(&self) {
        lock(&self.state).log.release();
        self.room.notify_waiters();
    }
}

/// The mutable state of an [`Entry`].
pub(super) struct EntryState {
    pub(super) log: Retention,
    /// `None` while starting.
    pub(super) pgid: Option<i32>,
    pub(super) reaped: bool,
    /// Reaped and every output pipe at EOF (`closed` is emitted right after this is set).
    pub(super) closed: bool,
    /// Output bytes read from the process and not yet in `log` (pace mode accounting).
    pub(super) in_flight: usize,
    pub(super) stdin: Option<mpsc::UnboundedSender<StdinOp>>,
    /// A tty process's terminal (a descriptor of its master), for `resize`; `None` while
    /// starting, for pipe processes, and once the process was reaped.
    pub(super) terminal: Option<OwnedFd>,
    /// `writeId`s of accepted writes. Kept as long as the entry (not only as long as stdin),
    /// so a retry is answered `accepted` even after the process exited and stdin closed.
    pub(super) accepted_writes: HashSet<String>,
    /// Whether this process's output events go to the subscriber queue
    /// (`process/outputNotifications`; lifecycle events always do). Under this lock, which
    /// the sequencer holds while it assigns an event's `seq` and queues it: output that
    /// gets a seq after the switch follows it, and output that got one before is in the log
    /// by then (for a client that re-enabled and reads once more). Turned off, the
    /// process's output still in the queue is withdrawn under this lock too, so none is
    /// queued or left queued after the switch. Off, the output is delivered by `read`
    /// alone, so in pace mode the process pauses as for a client that reads nothing.
    /// (Lock order: this lock, then the backend's subscriber slot, then the queue's.)
    pub(super) output_notifications: bool,
}

/// Where a signal for a process goes (`process/signal`, `process/terminate`, `kill_all`).
pub(super) enum SignalTarget {
    /// Not spawned yet: there is nothing to signal.
    Starting,
    /// Its process group. `running`: the process itself was not reaped yet.
    Group { pgid: i32, running: bool },
    /// Closed: nothing is sent any more.
    Closed,
}

impl EntryState {
    /// Where a signal for this process goes now.
    ///
    /// The group id is the pid of the process. Until the process is reaped, that number
    /// cannot be reused; after the reap, it stays ours only as long as the group has a
    /// member. While a pipe is still open after the reap, most likely a member of the group
    /// (a background child) holds it, so the group is still signalled: that is how
    /// `terminate` reaches a background child after the exit. Once closed (reaped and every
    /// pipe at EOF), the group may be empty and its number taken by an unrelated group, so it
    /// is never signalled again.
    ///
    /// Residual risk, accepted: (1) between reap and close, the pipes may be held only by a
    /// process outside the group (one that called `setsid`, or was handed the fds) while
    /// the group is already empty; its number could then be reused and a signal reach a
    /// stranger. (2) After close, a member that let go of the pipes
    /// (`sleep 1000 >/dev/null 2>&1 &`) is no longer reached by `terminate`, `signal` or
    /// `kill_all`.
    pub(super) fn signal_target(&self) -> SignalTarget {
        match (self.pgid, self.closed) {
            (None, _) => SignalTarget::Starting,
            (Some(_), true) => SignalTarget::Closed,
            (Some(pgid), false) => SignalTarget::Group {
                pgid,
                running: !self.reaped,
            },
        }
    }
}

/// One write queued for the stdin writer task.
pub(super) struct StdinOp {
    pub(super) chunk: Bytes,
    pub(super) write_id: Option<String>,
    /// `closeStdin`: after `chunk`, end the input (close the pipe, or send end-of-file to
    /// the terminal).
    pub(super) close: bool,
    pub(super) reply: oneshot::Sender<WriteStatus>,
}
