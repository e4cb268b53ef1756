//! Per-process event log: assigns `seq`, retains output up to a byte budget, and answers
//! `process/read` including the `gap` report when old output was dropped.
//!
//! Exactly one owner (the process's sequencer task) appends to it, so `seq` order is the
//! order of appends. `closed` is always the last event; `exited` usually comes right before
//! it, but output may follow `exited` (a background child that still holds the pipes, see
//! `local_process`). A read that would span `exited` with output after it stops at `exited`
//! (see [`Retention::read`]), so every reply still has its lifecycle events last. A reply's
//! `exited` and `closed` flags say which lifecycle events it reaches, so one cut short by
//! `maxBytes` reports neither while events remain before them. Readers take a snapshot under
//! a short lock.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::protocol::ByteChunk;
use crate::protocol::Gap;
use crate::protocol::OutputChunk;
use crate::protocol::OutputMode;
use crate::protocol::OutputStream;
use crate::protocol::ReadResponse;

/// How many dropped chunks we remember exactly (8 bytes each) for `gap.droppedBytes`.
/// Beyond this, the oldest are folded together and a gap that starts before them reports
/// the bytes dropped since the oldest remembered point (a lower bound).
const MAX_DROPPED_INDEX: usize = 1 << 20;

struct Retained {
    seq: u64,
    stream: OutputStream,
    chunk: Bytes,
    /// Pace mode: the client has it (a notification with it was taken, or a read went past
    /// it).
    delivered: bool,
}

/// The event log of one process.
pub(crate) struct Retention {
    max_bytes: usize,
    chunks: VecDeque<Retained>,
    retained_bytes: usize,
    /// Seq the next event gets.
    next_seq: u64,
    /// Every output seq `<= dropped_through` was dropped (0: none).
    dropped_through: u64,
    /// Cumulative dropped bytes through seq `index_base + i` (one entry per seq, so a
    /// lifecycle seq between dropped chunks has an entry too, adding nothing).
    dropped_cum: VecDeque<u64>,
    /// First seq in `dropped_cum`.
    index_base: u64,
    /// Cumulative dropped bytes through seq `index_base - 1`.
    base_cum: u64,
    /// Seq and code of `exited`.
    exited: Option<(u64, i32)>,
    closed: bool,
    failure: Option<String>,
    /// Pace mode (`outputMode: "pace"`): every chunk with a seq `<= delivered_through`
    /// reached the client (later ones may have too, one by one: see
    /// [`Retention::delivered_one`]). Output that did not is never dropped (the process is
    /// paused instead, see `local_process`). `None`: drop mode, where the oldest output goes
    /// whatever it is.
    delivered_through: Option<u64>,
    /// Bytes and chunks of retained output after `delivered_through` (pace mode only).
    undelivered_bytes: usize,
    undelivered_chunks: usize,
}

impl Retention {
    /// A log that drops the oldest output beyond `max_bytes` (`outputMode: "drop"`).
    #[cfg(test)]
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self::with_mode(max_bytes, OutputMode::Drop)
    }

    /// A log for `mode`: under [`OutputMode::Pace`] undelivered output is never dropped
    /// (the log may then hold more than `max_bytes` until it is delivered).
    pub(crate) fn with_mode(max_bytes: usize, mode: OutputMode) -> Self {
        Self {
            max_bytes,
            chunks: VecDeque::new(),
            retained_bytes: 0,
            next_seq: 1,
            dropped_through: 0,
            dropped_cum: VecDeque::new(),
            index_base: 1,
            base_cum: 0,
            exited: None,
            closed: false,
            failure: None,
            delivered_through: match mode {
                OutputMode::Pace => Some(0),
                OutputMode::Drop => None,
            },
            undelivered_bytes: 0,
            undelivered_chunks: 0,
        }
    }

    /// Pace mode: bytes and chunks of output not yet delivered; `None` in drop mode (or
    /// once released).
    pub(crate) fn undelivered(&self) -> Option<(usize, usize)> {
        self.delivered_through
            .map(|_| (self.undelivered_bytes, self.undelivered_chunks))
    }

    /// Everything through `seq` reached the client (a read after it). Returns whether this
    /// delivered something new (so a paused process may go on). Delivered output is
    /// dropped again once the log is over its budget.
    pub(crate) fn delivered_through(&mut self, seq: u64) -> bool {
        let Some(through) = self.delivered_through else {
            return false;
        };
        let seq = seq.min(self.next_seq - 1);
        if seq <= through {
            return false;
        }
        let start = self.chunks.partition_point(|c| c.seq <= through);
        let mut changed = false;
        for index in start..self.chunks.len() {
            if self.chunks[index].seq > seq {
                break;
            }
            changed |= self.mark_delivered(index);
        }
        self.delivered_through = Some(seq);
        self.advance_delivered();
        self.trim();
        changed
    }

    /// The chunk `seq` reached the client (its notification was taken). Only that chunk:
    /// one lost before it (with a replaced subscriber) stays undelivered until a read
    /// passes it.
    pub(crate) fn delivered_one(&mut self, seq: u64) -> bool {
        if self.delivered_through.is_none() {
            return false;
        }
        let index = self.chunks.partition_point(|c| c.seq < seq);
        if self.chunks.get(index).is_none_or(|c| c.seq != seq) || !self.mark_delivered(index) {
            return false;
        }
        self.advance_delivered();
        self.trim();
        true
    }

    fn mark_delivered(&mut self, index: usize) -> bool {
        let retained = &mut self.chunks[index];
        if retained.delivered {
            return false;
        }
        retained.delivered = true;
        self.undelivered_bytes -= retained.chunk.len();
        self.undelivered_chunks -= 1;
        true
    }

    /// Moves `delivered_through` over the delivered chunks right after it.
    fn advance_delivered(&mut self) {
        let Some(mut through) = self.delivered_through else {
            return;
        };
        let start = self.chunks.partition_point(|c| c.seq <= through);
        for retained in self.chunks.iter().skip(start) {
            if !retained.delivered {
                break;
            }
            through = retained.seq;
        }
        self.delivered_through = Some(through);
    }

    /// Stop pacing (the session is ending): from now on the log drops as in drop mode.
    pub(crate) fn release(&mut self) {
        self.delivered_through = None;
        self.undelivered_bytes = 0;
        self.undelivered_chunks = 0;
        self.trim();
    }

    /// Seq the next event will get (one past the last event so far).
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub(crate) fn set_failure(&mut self, failure: String) {
        self.failure.get_or_insert(failure);
    }

    /// Append an output chunk; returns its seq.
    pub(crate) fn push_output(&mut self, stream: OutputStream, chunk: Bytes) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.retained_bytes += chunk.len();
        if self.delivered_through.is_some() {
            self.undelivered_bytes += chunk.len();
            self.undelivered_chunks += 1;
        }
        self.chunks.push_back(Retained {
            seq,
            stream,
            chunk,
            delivered: false,
        });
        self.trim();
        seq
    }

    /// Drops the oldest output while the log is over its budget, but never output that was
    /// not delivered yet in pace mode.
    fn trim(&mut self) {
        while self.retained_bytes > self.max_bytes {
            let pinned = match (self.chunks.front(), self.delivered_through) {
                (Some(oldest), Some(through)) => oldest.seq > through,
                (Some(_), None) => false,
                (None, _) => true,
            };
            if pinned {
                break;
            }
            let Some(old) = self.chunks.pop_front() else {
                break;
            };
            self.retained_bytes -= old.chunk.len();
            let cum = self.dropped_cum.back().copied().unwrap_or(self.base_cum);
            // Seqs between the last dropped chunk and this one that are not output (an
            // `exited` followed by more output) dropped nothing.
            while self.index_base + (self.dropped_cum.len() as u64) < old.seq {
                self.dropped_cum.push_back(cum);
            }
            self.dropped_cum.push_back(cum + old.chunk.len() as u64);
            self.dropped_through = old.seq;
            while self.dropped_cum.len() > MAX_DROPPED_INDEX
                && let Some(folded) = self.dropped_cum.pop_front()
            {
                self.base_cum = folded;
                self.index_base += 1;
            }
        }
    }

    /// Record the exit; returns its seq.
    pub(crate) fn push_exited(&mut self, exit_code: i32) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.exited = Some((seq, exit_code));
        seq
    }

    /// Record the close (last event); returns its seq.
    pub(crate) fn push_closed(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.closed = true;
        seq
    }

    fn dropped_cum_through(&self, seq: u64) -> u64 {
        if seq < self.index_base {
            return self.base_cum;
        }
        let index = (seq - self.index_base) as usize;
        self.dropped_cum
            .get(index)
            .copied()
            .unwrap_or(self.base_cum)
    }

    /// Answer a read: chunks with `seq > after_seq`, at most `max_bytes` of them (but at
    /// least one), plus state flags and a gap report.
    ///
    /// A reply that would span `exited` with output after it ends at `exited` instead
    /// (`nextSeq` one past it, `closed: false`), so the seqs between the last chunk and
    /// `nextSeq` are always lifecycle events: a reader that missed the `exited` notification
    /// can tell its seq, and reads on for the rest.
    ///
    /// The flags are those of the events the reply reaches (`seq < nextSeq`): `exited` (and
    /// `exitCode`) only once `nextSeq` is past the `exited` event, `closed` only when the
    /// reply reaches the last event. A reply cut short by `max_bytes` therefore says neither
    /// while events remain before them, and a reader that reads on until `closed` gets every
    /// event.
    pub(crate) fn read(&self, after_seq: u64, max_bytes: usize) -> ReadResponse {
        let last_seq = self.next_seq - 1;
        let last_output_seq = last_seq - u64::from(self.closed);
        // The last seq this reply covers, and the last output seq it may report as a gap.
        let (end, gap_end) = match self.exited {
            Some((exited_seq, _)) if after_seq < exited_seq && exited_seq < last_output_seq => {
                (exited_seq, self.dropped_through.min(exited_seq - 1))
            }
            Some(_) | None => (last_seq, self.dropped_through),
        };
        let gap = (after_seq < gap_end).then(|| Gap {
            from_seq: after_seq + 1,
            to_seq: gap_end,
            dropped_bytes: self.dropped_cum_through(gap_end) - self.dropped_cum_through(after_seq),
        });
        let start = self.chunks.partition_point(|c| c.seq <= after_seq);
        let mut chunks = Vec::new();
        let mut bytes = 0usize;
        let mut truncated = false;
        for retained in self.chunks.iter().skip(start).take_while(|c| c.seq <= end) {
            if !chunks.is_empty() && bytes + retained.chunk.len() > max_bytes {
                truncated = true;
                break;
            }
            bytes += retained.chunk.len();
            chunks.push(OutputChunk {
                seq: retained.seq,
                stream: retained.stream,
                chunk: ByteChunk(retained.chunk.clone()),
            });
        }
        let next_seq = match (truncated, chunks.last()) {
            (true, Some(last)) => last.seq + 1,
            _ => end + 1,
        };
        // The lifecycle flags describe what this reply reaches, not only the process: a
        // reply cut short by `max_bytes` leaves events unread, and a reader that stops at
        // `closed` (or at `exited`) must not stop before them.
        let exited = self.exited.filter(|&(exited_seq, _)| exited_seq < next_seq);
        ReadResponse {
            chunks,
            next_seq,
            exited: exited.is_some(),
            exit_code: exited.map(|(_, exit_code)| exit_code),
            closed: self.closed && next_seq > last_seq,
            failure: self.failure.clone(),
            gap,
            notifications_resumed: false,
        }
    }
}

#[cfg(test)]
#[path = "retention_tests.rs"]
mod tests;
