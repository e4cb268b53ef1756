use pretty_assertions::assert_eq;

use super::events_from_read;
use crate::protocol::ByteChunk;
use crate::protocol::ClosedNotification;
use crate::protocol::ExitedNotification;
use crate::protocol::Gap;
use crate::protocol::OutputChunk;
use crate::protocol::OutputNotification;
use crate::protocol::OutputStream;
use crate::protocol::ProcessEvent;
use crate::protocol::ReadResponse;

fn chunk(seq: u64) -> OutputChunk {
    OutputChunk {
        seq,
        stream: OutputStream::Stdout,
        chunk: ByteChunk::from(vec![seq as u8]),
    }
}

fn output(seq: u64) -> ProcessEvent {
    ProcessEvent::Output(OutputNotification {
        process_id: "p".to_string(),
        seq,
        stream: OutputStream::Stdout,
        chunk: ByteChunk::from(vec![seq as u8]),
    })
}

#[test]
fn read_with_exit_and_close_yields_them_last() {
    let response = ReadResponse {
        chunks: vec![chunk(3), chunk(4)],
        next_seq: 7,
        exited: true,
        exit_code: Some(2),
        closed: true,
        failure: None,
        gap: None,
    };
    assert_eq!(
        events_from_read("p", 2, response),
        (
            vec![
                output(3),
                output(4),
                ProcessEvent::Exited(ExitedNotification {
                    process_id: "p".to_string(),
                    seq: 5,
                    exit_code: 2,
                }),
                ProcessEvent::Closed(ClosedNotification {
                    process_id: "p".to_string(),
                    seq: 6,
                }),
            ],
            6,
            true,
        )
    );
}

#[test]
fn exited_already_seen_yields_only_closed() {
    let response = ReadResponse {
        chunks: vec![],
        next_seq: 6,
        exited: true,
        exit_code: Some(0),
        closed: true,
        failure: None,
        gap: None,
    };
    assert_eq!(
        events_from_read("p", 4, response),
        (
            vec![ProcessEvent::Closed(ClosedNotification {
                process_id: "p".to_string(),
                seq: 5,
            })],
            5,
            true,
        )
    );
}

#[test]
fn truncated_read_yields_no_lifecycle_yet() {
    // maxBytes cut the reply after seq 3: nextSeq continues there, even though the
    // process has exited and closed.
    let response = ReadResponse {
        chunks: vec![chunk(3)],
        next_seq: 4,
        exited: true,
        exit_code: Some(0),
        closed: true,
        failure: None,
        gap: None,
    };
    assert_eq!(
        events_from_read("p", 2, response),
        (vec![output(3)], 3, false)
    );
}

#[test]
fn gap_comes_first_and_is_skipped_over() {
    let gap = Gap {
        from_seq: 1,
        to_seq: 4,
        dropped_bytes: 100,
    };
    let response = ReadResponse {
        chunks: vec![chunk(5)],
        next_seq: 6,
        exited: false,
        exit_code: None,
        closed: false,
        failure: None,
        gap: Some(gap),
    };
    assert_eq!(
        events_from_read("p", 0, response),
        (
            vec![
                ProcessEvent::Gap {
                    process_id: "p".to_string(),
                    gap,
                },
                output(5),
            ],
            5,
            false,
        )
    );
}
