//! Per-process event log: assigns `seq`, retains output up to a byte budget, and answers
//! `process/read` including the `gap` report when old output was dropped.
//!
//! Exactly one owner (the process's sequencer task) appends to it, which is what makes the
//! order "all output, then exited, then closed" hold by construction. Readers take a
//! snapshot under a short lock.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::protocol::ByteChunk;
use crate::protocol::Gap;
use crate::protocol::OutputChunk;
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
    /// Cumulative dropped bytes through seq `index_base + i`.
    dropped_cum: VecDeque<u64>,
    /// First seq in `dropped_cum`.
    index_base: u64,
    /// Cumulative dropped bytes through seq `index_base - 1`.
    base_cum: u64,
    exit_code: Option<i32>,
    closed: bool,
    failure: Option<String>,
}

impl Retention {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            chunks: VecDeque::new(),
            retained_bytes: 0,
            next_seq: 1,
            dropped_through: 0,
            dropped_cum: VecDeque::new(),
            index_base: 1,
            base_cum: 0,
            exit_code: None,
            closed: false,
            failure: None,
        }
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
        self.chunks.push_back(Retained { seq, stream, chunk });
        while self.retained_bytes > self.max_bytes {
            let Some(old) = self.chunks.pop_front() else {
                break;
            };
            self.retained_bytes -= old.chunk.len();
            let cum = self.dropped_cum.back().copied().unwrap_or(self.base_cum);
            self.dropped_cum.push_back(cum + old.chunk.len() as u64);
            self.dropped_through = old.seq;
            if self.dropped_cum.len() > MAX_DROPPED_INDEX
                && let Some(folded) = self.dropped_cum.pop_front()
            {
                self.base_cum = folded;
                self.index_base += 1;
            }
        }
        seq
    }

    /// Record the exit; returns its seq.
    pub(crate) fn push_exited(&mut self, exit_code: i32) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.exit_code = Some(exit_code);
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
    pub(crate) fn read(&self, after_seq: u64, max_bytes: usize) -> ReadResponse {
        let gap = (after_seq < self.dropped_through).then(|| Gap {
            from_seq: after_seq + 1,
            to_seq: self.dropped_through,
            dropped_bytes: self.dropped_cum_through(self.dropped_through)
                - self.dropped_cum_through(after_seq),
        });
        let start = self.chunks.partition_point(|c| c.seq <= after_seq);
        let mut chunks = Vec::new();
        let mut bytes = 0usize;
        let mut truncated = false;
        for retained in self.chunks.iter().skip(start) {
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
            _ => self.next_seq,
        };
        ReadResponse {
            chunks,
            next_seq,
            exited: self.exit_code.is_some(),
            exit_code: self.exit_code,
            closed: self.closed,
            failure: self.failure.clone(),
            gap,
        }
    }
}

#[cfg(test)]
#[path = "retention_tests.rs"]
mod tests;
