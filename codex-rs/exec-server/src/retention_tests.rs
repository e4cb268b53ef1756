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
    let mut log = Retention::new(1024);
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
        }
    );
    assert_eq!(
        log.read(1, usize::MAX).chunks,
        vec![chunk(2, OutputStream::Stderr, b"b")]
    );
}

#[test]
fn dropped_output_is_reported_as_a_gap() {
    let mut log = Retention::new(4);
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
    let mut log = Retention::new(1024);
    for data in [&b"aaaa"[..], b"bbbb", b"cccc"] {
        log.push_output(OutputStream::Stdout, Bytes::copy_from_slice(data));
    }
    log.push_exited(0);
    let first = log.read(0, 5);
    assert_eq!(first.chunks, vec![chunk(1, OutputStream::Stdout, b"aaaa")]);
    assert_eq!(first.next_seq, 2);
    let rest = log.read(first.next_seq - 1, 100);
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
    let mut log = Retention::new(1024);
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
    let mut log = Retention::new(2);
    log.push_output(OutputStream::Stdout, Bytes::from_static(b"aa"));
    log.push_exited(0);
    log.push_output(OutputStream::Stdout, Bytes::from_static(b"bbb"));
    log.push_output(OutputStream::Stdout, Bytes::from_static(b"cc"));
    // Budget 2: "aa" (seq 1) and "bbb" (seq 3) were dropped, "cc" (seq 4) remains.
    let before = log.read(0, usize::MAX);
    let after = log.read(2, usize::MAX);
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
