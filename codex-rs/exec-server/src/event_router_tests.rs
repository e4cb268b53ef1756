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
        notifications_resumed: false,
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
        notifications_resumed: false,
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
        notifications_resumed: false,
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
        notifications_resumed: false,
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

mod router {
    use std::collections::VecDeque;
    use std::sync::Arc;
    use std::sync::Mutex;
    use std::time::Duration;

    use pretty_assertions::assert_eq;
    use tokio::sync::mpsc;

    use super::chunk;
    use super::output;
    use crate::error::ExecError;
    use crate::event_router::AckFn;
    use crate::event_router::Backend;
    use crate::event_router::NotifyFn;
    use crate::event_router::ROUTER_QUEUE;
    use crate::event_router::ReadFn;
    use crate::event_router::RouterMsg;
    use crate::event_router::run_router;
    use crate::event_router::subscription;
    use crate::process_stream::ProcessStream;
    use crate::protocol::AckParams;
    use crate::protocol::ClosedNotification;
    use crate::protocol::ProcessEvent;
    use crate::protocol::ReadParams;
    use crate::protocol::ReadResponse;

    type Replies = Arc<Mutex<VecDeque<Result<ReadResponse, ExecError>>>>;

    /// A router whose reads answer from `replies` in order (and record their params).
    fn router(replies: Replies) -> (mpsc::Sender<RouterMsg>, Arc<Mutex<Vec<ReadParams>>>) {
        let (tx, rx) = mpsc::channel(ROUTER_QUEUE);
        let reads = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&reads);
        let read: ReadFn = Arc::new(move |params| {
            seen.lock().unwrap().push(params);
            let reply = replies
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| Err(ExecError::Internal("no reply scripted".to_string())));
            Box::pin(std::future::ready(reply))
        });
        let notify: NotifyFn = Arc::new(|_| Box::pin(std::future::ready(Ok(()))));
        tokio::spawn(run_router(
            rx,
            Backend {
                read,
                notify,
                ack: None,
            },
            Box::new(|| None),
        ));
        (tx, reads)
    }

    async fn next(stream: &mut ProcessStream) -> Option<Result<ProcessEvent, String>> {
        tokio::time::timeout(Duration::from_secs(5), stream.recv())
            .await
            .expect("an item in time")
            .map(|item| item.map_err(|err| err.to_string()))
    }

    fn closed(seq: u64) -> ProcessEvent {
        ProcessEvent::Closed(ClosedNotification {
            process_id: "p".to_string(),
            seq,
        })
    }

    #[tokio::test]
    async fn events_of_unsubscribed_processes_and_absurd_seqs_are_dropped() {
        let (tx, reads) = router(Replies::default());
        let (mut stream, subscribe) = subscription("p", /*catch_up*/ false);
        tx.send(subscribe).await.unwrap();
        let mut stranger = output(/*seq*/ 1);
        if let ProcessEvent::Output(n) = &mut stranger {
            n.process_id = "never-started".to_string();
        }
        tx.send(RouterMsg::Event(stranger)).await.unwrap();
        tx.send(RouterMsg::Event(output(u64::MAX))).await.unwrap();
        tx.send(RouterMsg::Event(output(/*seq*/ 1))).await.unwrap();
        tx.send(RouterMsg::Event(closed(/*seq*/ 2))).await.unwrap();
        // After `closed`, the process is forgotten: a late event goes nowhere.
        tx.send(RouterMsg::Event(output(/*seq*/ 3))).await.unwrap();
        assert_eq!(
            (
                next(&mut stream).await,
                next(&mut stream).await,
                next(&mut stream).await
            ),
            (Some(Ok(output(1))), Some(Ok(closed(2))), None)
        );
        assert_eq!(reads.lock().unwrap().len(), 0, "no read for dropped events");
    }

    /// The acknowledgements a backend got: (process id, seq).
    type Acks = Arc<Mutex<Vec<(String, u64)>>>;

    /// A router whose backend takes acknowledgements (recorded) and has nothing to read.
    fn acknowledging_router() -> (mpsc::Sender<RouterMsg>, Acks) {
        let (tx, rx) = mpsc::channel(ROUTER_QUEUE);
        let acks = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&acks);
        let read: ReadFn = Arc::new(|_| {
            Box::pin(std::future::ready(Err(ExecError::Internal(
                "no reply scripted".to_string(),
            ))))
        });
        let notify: NotifyFn = Arc::new(|_| Box::pin(std::future::ready(Ok(()))));
        let ack: AckFn = Arc::new(move |params: AckParams| {
            seen.lock().unwrap().push((params.process_id, params.seq));
            Box::pin(std::future::ready(Ok(())))
        });
        tokio::spawn(run_router(
            rx,
            Backend {
                read,
                notify,
                ack: Some(ack),
            },
            Box::new(|| None),
        ));
        (tx, acks)
    }

    /// Output taken in is acknowledged up to the last seq once the router has nothing
    /// else to handle, and never twice.
    #[tokio::test]
    async fn notified_output_is_acknowledged_when_the_router_is_idle() {
        let (tx, acks) = acknowledging_router();
        let (mut stream, subscribe) = subscription("p", /*catch_up*/ false);
        tx.send(subscribe).await.unwrap();
        for seq in 1..=3 {
            tx.send(RouterMsg::Event(output(seq))).await.unwrap();
        }
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(next(&mut stream).await);
        }
        tokio::time::timeout(Duration::from_secs(5), async {
            while acks.lock().unwrap().last().map(|(_, seq)| *seq) != Some(3) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("seq 3 acknowledged");
        tokio::time::sleep(Duration::from_millis(50)).await;

        assert_eq!(
            got,
            vec![
                Some(Ok(output(1))),
                Some(Ok(output(2))),
                Some(Ok(output(3)))
            ]
        );
        let acks = acks.lock().unwrap().clone();
        let seqs: Vec<u64> = acks.iter().map(|(_, seq)| *seq).collect();
        assert!(
            seqs.windows(2).all(|pair| pair[0] < pair[1]) && acks.iter().all(|(id, _)| id == "p"),
            "{acks:?}"
        );
    }

    #[tokio::test]
    async fn a_hole_is_read_back_and_a_failed_read_is_reported() {
        let replies = Replies::default();
        replies.lock().unwrap().extend([
            Err(ExecError::Transport("boom".to_string())),
            Ok(ReadResponse {
                chunks: vec![chunk(2), chunk(3)],
                next_seq: 4,
                ..ReadResponse::default()
            }),
            Ok(ReadResponse {
                next_seq: 4,
                ..ReadResponse::default()
            }),
        ]);
        let (tx, reads) = router(Arc::clone(&replies));
        let (mut stream, subscribe) = subscription("p", /*catch_up*/ false);
        tx.send(subscribe).await.unwrap();
        tx.send(RouterMsg::Event(output(/*seq*/ 1))).await.unwrap();
        // Seq 2 and 3 never arrive: the first read fails (reported), the next hole is
        // read back.
        tx.send(RouterMsg::Event(output(/*seq*/ 4))).await.unwrap();
        assert_eq!(next(&mut stream).await, Some(Ok(output(1))));
        assert_eq!(
            next(&mut stream).await,
            Some(Err("exec-server connection failed: boom".to_string()))
        );
        tx.send(RouterMsg::Event(output(/*seq*/ 5))).await.unwrap();
        let mut got = Vec::new();
        for _ in 0..2 {
            got.push(next(&mut stream).await);
        }
        assert_eq!(got, vec![Some(Ok(output(2))), Some(Ok(output(3)))]);
        let after: Vec<Option<u64>> = reads.lock().unwrap().iter().map(|r| r.after_seq).collect();
        assert_eq!(after[..2].to_vec(), vec![Some(1), Some(1)]);
    }

    #[tokio::test]
    async fn a_read_with_absurd_seqs_is_an_error_not_a_panic() {
        let replies = Replies::default();
        replies.lock().unwrap().push_back(Ok(ReadResponse {
            chunks: vec![chunk(u64::MAX)],
            next_seq: u64::MAX,
            ..ReadResponse::default()
        }));
        let (tx, _reads) = router(replies);
        let (mut stream, subscribe) = subscription("p", /*catch_up*/ true);
        tx.send(subscribe).await.unwrap();
        let item = next(&mut stream).await;
        assert!(
            matches!(&item, Some(Err(message)) if message.contains("absurd")),
            "{item:?}"
        );
    }

    #[tokio::test]
    async fn a_forgotten_process_ends_its_stream_with_the_error() {
        let replies = Replies::default();
        replies
            .lock()
            .unwrap()
            .push_back(Err(ExecError::UnknownProcess("p".to_string())));
        let (tx, _reads) = router(replies);
        let (mut stream, subscribe) = subscription("p", /*catch_up*/ true);
        tx.send(subscribe).await.unwrap();
        assert_eq!(
            (next(&mut stream).await, next(&mut stream).await),
            (Some(Err("unknown process `p`".to_string())), None)
        );
    }
}
