//! The tracker task: it turns notifications into the caller's event stream, remembers
//! the last `seq` seen per process, and fills every hole (notifications the server dropped,
//! a resumed session) with `process/read {afterSeq}` ([`catch_up`]).

use std::collections::HashMap;

use tokio::sync::mpsc;

use crate::protocol::ClosedNotification;
use crate::protocol::ExitedNotification;
use crate::protocol::OutputNotification;
use crate::protocol::ProcessEvent;
use crate::protocol::ReadParams;
use crate::protocol::ReadResponse;
use crate::protocol::method;

use super::Pending;
use super::ReplyError;
use super::Subscriber;
use super::TrackerMsg;
use super::lock;
use super::send_request;

/// Bytes per catch-up read.
const CATCH_UP_READ_BYTES: usize = 4 * 1024 * 1024;

#[derive(Default)]
struct Track {
    last_seq: u64,
    closed: bool,
}

fn event_seq(event: &ProcessEvent) -> Option<u64> {
    match event {
        ProcessEvent::Output(n) => Some(n.seq),
        ProcessEvent::Exited(n) => Some(n.seq),
        ProcessEvent::Closed(n) => Some(n.seq),
        ProcessEvent::Gap { .. } => None,
    }
}

fn deliver(subscriber: &Subscriber, event: ProcessEvent) {
    if let Some(tx) = lock(subscriber).as_ref() {
        let _ = tx.send(event);
    }
}

/// Run the event stream of a client until its connection task ends.
pub(super) async fn tracker_task(
    requests: mpsc::WeakUnboundedSender<Pending>,
    mut rx: mpsc::UnboundedReceiver<TrackerMsg>,
    subscriber: Subscriber,
) {
    let mut tracks: HashMap<String, Track> = HashMap::new();
    while let Some(msg) = rx.recv().await {
        match msg {
            TrackerMsg::Register(process_id) => {
                tracks.insert(process_id, Track::default());
            }
            TrackerMsg::Event(event) => {
                let Some(seq) = event_seq(&event) else {
                    continue;
                };
                let process_id = event.process_id().to_string();
                let track = tracks.entry(process_id.clone()).or_default();
                if track.closed || seq <= track.last_seq {
                    continue;
                }
                if seq > track.last_seq + 1 {
                    catch_up(&requests, &process_id, track, &subscriber).await;
                }
                if seq == track.last_seq + 1 {
                    track.last_seq = seq;
                    track.closed = matches!(event, ProcessEvent::Closed(_));
                    deliver(&subscriber, event);
                }
            }
            TrackerMsg::Resumed => {
                for (process_id, track) in tracks.iter_mut().filter(|(_, t)| !t.closed) {
                    catch_up(&requests, process_id, track, &subscriber).await;
                }
            }
        }
    }
    // The connection task is gone: end the event stream.
    lock(&subscriber).take();
}

/// Read everything after `track.last_seq` and deliver it in order.
async fn catch_up(
    requests: &mpsc::WeakUnboundedSender<Pending>,
    process_id: &str,
    track: &mut Track,
    subscriber: &Subscriber,
) {
    while !track.closed {
        let Some(requests) = requests.upgrade() else {
            return;
        };
        let params = ReadParams {
            process_id: process_id.to_string(),
            after_seq: Some(track.last_seq),
            max_bytes: Some(CATCH_UP_READ_BYTES),
            wait_ms: None,
        };
        let Ok(params) = serde_json::to_value(&params) else {
            return;
        };
        let reply = send_request(
            &requests,
            method::PROCESS_READ,
            params,
            /*retryable*/ true,
        )
        .await;
        drop(requests);
        let response: ReadResponse = match reply.map(|raw| serde_json::from_str(&raw)) {
            Ok(Ok(response)) => response,
            Err(ReplyError::Rpc(error)) if error.kind() == Some("unknownProcess") => {
                // Forgotten after its grace period: nothing more will come.
                track.closed = true;
                return;
            }
            Ok(Err(_)) | Err(_) => return,
        };
        let before = track.last_seq;
        let (events, last, closed) = events_from_read(process_id, track.last_seq, response);
        for event in events {
            deliver(subscriber, event);
        }
        track.closed = closed;
        track.last_seq = last;
        if track.last_seq == before {
            return;
        }
    }
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
#[path = "tracker_tests.rs"]
mod tests;
