use bytes::Bytes;
use pretty_assertions::assert_eq;

use super::Retention;
use crate::protocol::ByteChunk;
use crate::protocol::Gap;
use crate::protocol::OutputChunk;
use crate::protocol::OutputStream;
use crate::protocol::ReadResponse;

fn chunk(seq: u64, stream: OutputStream, data: &'static [u8]) -> OutputChunk {
    OutputChunk {
        seq,
        stream,
        chunk: ByteChunk(Bytes::from_static(data)),
    }
}

#[test]
fn seq_is_shared_by_output_exit_and_close() {
    let mut log = Retention::new(/*max_bytes*/ 1024);
    assert_eq!(
        log.push_output(OutputStream::Stdout, Bytes::from_static(b"a")),
        1
    );
    assert_eq!(
        log.push_output(OutputStream::Stderr, Bytes::from_static(b"b")),
        2
    );
    assert_eq!(log.push_exited(3), 3);
    assert_eq!(log.push_closed(), 4);
    assert_eq!(
        log.read(0, usize::MAX),
        ReadResponse {
            chunks: vec![
                chunk(1, OutputStream::Stdout, b"a"),
                chunk(2, OutputStream::Stderr, b"b"),
            ],
            next_seq: 5,
            exited: true,
            exit_code: Some(3),
            closed: true,
            failure: None,
            gap: None,
            notifications_resumed: false,
        }
    );
    assert_eq!(
        log.read(1, usize::MAX).chunks,
        vec![chunk(2, OutputStream::Stderr, b"b")]
    );
}

#[test]
fn dropped_output_is_reported_as_a_gap() {
    let mut log = Retention::new(/*max_bytes*/ 4);
    for data in [&b"aa"[..], b"bbb", b"c", b"dd"] {
        log.push_output(OutputStream::Stdout, Bytes::copy_from_slice(data));
    }
    // Budget 4: "aa" and "bbb" were dropped, "c" and "dd" remain.
    assert_eq!(
        log.read(0, usize::MAX),
        ReadResponse {
            chunks: vec![
                chunk(3, OutputStream::Stdout, b"c"),
                chunk(4, OutputStream::Stdout, b"dd")
            ],
            next_seq: 5,
            exited: false,
            exit_code: None,
            closed: false,
            failure: None,
            gap: Some(Gap {
                from_seq: 1,
                to_seq: 2,
                dropped_bytes: 5
            }),
            notifications_resumed: false,
        }
    );
    // A reader that already has seq 1 only lost seq 2.
    assert_eq!(
        log.read(1, usize::MAX).gap,
        Some(Gap {
            from_seq: 2,
            to_seq: 2,
            dropped_bytes: 3
        })
    );
    // A reader past the dropped range sees no gap.
    assert_eq!(log.read(2, usize::MAX).gap, None);
}

#[test]
fn max_bytes_truncates_and_next_seq_continues() {
    let mut log = Retention::new(/*max_bytes*/ 1024);
    for data in [&b"aaaa"[..], b"bbbb", b"cccc"] {
        log.push_output(OutputStream::Stdout, Bytes::copy_from_slice(data));
    }
    log.push_exited(/*exit_code*/ 0);
    let first = log.read(/*after_seq*/ 0, /*max_bytes*/ 5);
    assert_eq!(first.chunks, vec![chunk(1, OutputStream::Stdout, b"aaaa")]);
    assert_eq!(first.next_seq, 2);
    let rest = log.read(first.next_seq - 1, /*max_bytes*/ 100);
    assert_eq!(rest.chunks.len(), 2);
    assert_eq!(rest.next_seq, 5);
    // A single chunk larger than max_bytes is still returned, so reads always progress.
    assert_eq!(log.read(0, 1).chunks.len(), 1);
}

/// Output after `exited` (a background child still writing): a read that would span
/// `exited` stops there, so the seqs between its last chunk and `nextSeq` are still the
/// lifecycle events; the next read has the rest.
#[test]
fn a_read_across_exited_with_output_after_it_stops_at_exited() {
    let mut log = Retention::new(/*max_bytes*/ 1024);
    log.push_output(OutputStream::Stdout, Bytes::from_static(b"a"));
    assert_eq!(log.push_exited(5), 2);
    log.push_output(OutputStream::Stdout, Bytes::from_static(b"b"));
    let up_to_exited = ReadResponse {
        chunks: vec![chunk(1, OutputStream::Stdout, b"a")],
        next_seq: 3,
        exited: true,
        exit_code: Some(5),
        closed: false,
        failure: None,
        gap: None,
        notifications_resumed: false,
    };
    assert_eq!(log.read(0, usize::MAX), up_to_exited);
    log.push_closed();
    assert_eq!(log.read(0, usize::MAX), up_to_exited);
    assert_eq!(
        log.read(1, usize::MAX),
        ReadResponse {
            chunks: vec![],
            ..up_to_exited.clone()
        }
    );
    assert_eq!(
        log.read(2, usize::MAX),
        ReadResponse {
            chunks: vec![chunk(3, OutputStream::Stdout, b"b")],
            next_seq: 5,
            closed: true,
            ..up_to_exited
        }
    );
}

/// Gaps on both sides of an `exited` in the middle of the output: the gap before it ends
/// before it, and `droppedBytes` counts only output (the `exited` seq drops nothing).
#[test]
fn gaps_around_exited_count_only_output() {
    let mut log = Retention::new(/*max_bytes*/ 2);
    log.push_output(OutputStream::Stdout, Bytes::from_static(b"aa"));
    log.push_exited(/*exit_code*/ 0);
    log.push_output(OutputStream::Stdout, Bytes::from_static(b"bbb"));
    log.push_output(OutputStream::Stdout, Bytes::from_static(b"cc"));
    // Budget 2: "aa" (seq 1) and "bbb" (seq 3) were dropped, "cc" (seq 4) remains.
    let before = log.read(/*after_seq*/ 0, usize::MAX);
    let after = log.read(/*after_seq*/ 2, usize::MAX);
    assert_eq!(
        (before.gap, before.chunks, before.next_seq),
        (
            Some(Gap {
                from_seq: 1,
                to_seq: 1,
                dropped_bytes: 2
            }),
            vec![],
            3
        )
    );
    assert_eq!(
        (after.gap, after.chunks, after.next_seq),
        (
            Some(Gap {
                from_seq: 3,
                to_seq: 3,
                dropped_bytes: 3
            }),
            vec![chunk(4, OutputStream::Stdout, b"cc")],
            5
        )
    );
}

/// Every reply of a reader that reads on from `nextSeq - 1` until a reply says `closed`.
fn replies_until_closed(log: &Retention, max_bytes: usize) -> Vec<ReadResponse> {
    let mut replies = Vec::new();
    let mut after_seq = 0;
    while replies
        .last()
        .is_none_or(|reply: &ReadResponse| !reply.closed)
    {
        let reply = log.read(after_seq, max_bytes);
        after_seq = reply.next_seq - 1;
        replies.push(reply);
    }
    replies
}

/// Regression: a reply cut short by `max_bytes` on a closed process said `closed: true`
/// (and `exited: true`) although events remained unread, so a reader that stops at `closed`
/// lost the rest of the output. Only the reply that reaches the last event says `closed`.
#[test]
fn a_read_cut_short_by_max_bytes_is_not_closed_yet() {
    let mut log = Retention::new(/*max_bytes*/ 1024);
    for data in [&b"a"[..], b"b", b"c"] {
        log.push_output(OutputStream::Stdout, Bytes::copy_from_slice(data));
    }
    log.push_exited(/*exit_code*/ 4);
    log.push_closed();
    let cut = |chunks, next_seq| ReadResponse {
        chunks,
        next_seq,
        exited: false,
        exit_code: None,
        closed: false,
        failure: None,
        gap: None,
        notifications_resumed: false,
    };
    assert_eq!(
        replies_until_closed(&log, /*max_bytes*/ 1),
        vec![
            cut(vec![chunk(1, OutputStream::Stdout, b"a")], 2),
            cut(vec![chunk(2, OutputStream::Stdout, b"b")], 3),
            ReadResponse {
                chunks: vec![chunk(3, OutputStream::Stdout, b"c")],
                next_seq: 6,
                exited: true,
                exit_code: Some(4),
                closed: true,
                failure: None,
                gap: None,
                notifications_resumed: false,
            },
        ]
    );
}

/// Output after `exited` (a background child), read in replies cut short by `max_bytes`:
/// `exited` is reported by every reply that reaches or passes it, `closed` only by the one
/// that reaches the last event.
#[test]
fn a_read_cut_short_after_exited_reports_exited_but_not_closed() {
    let mut log = Retention::new(/*max_bytes*/ 1024);
    log.push_output(OutputStream::Stdout, Bytes::from_static(b"a"));
    log.push_exited(/*exit_code*/ 5);
    log.push_output(OutputStream::Stdout, Bytes::from_static(b"b"));
    log.push_output(OutputStream::Stdout, Bytes::from_static(b"c"));
    log.push_closed();
    let exited = |chunks, next_seq, closed| ReadResponse {
        chunks,
        next_seq,
        exited: true,
        exit_code: Some(5),
        closed,
        failure: None,
        gap: None,
        notifications_resumed: false,
    };
    assert_eq!(
        replies_until_closed(&log, /*max_bytes*/ 1),
        vec![
            exited(
                vec![chunk(1, OutputStream::Stdout, b"a")],
                3,
                /*closed*/ false
            ),
            exited(
                vec![chunk(3, OutputStream::Stdout, b"b")],
                4,
                /*closed*/ false
            ),
            exited(
                vec![chunk(4, OutputStream::Stdout, b"c")],
                6,
                /*closed*/ true
            ),
        ]
    );
}
