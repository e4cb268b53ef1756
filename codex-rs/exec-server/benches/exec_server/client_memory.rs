//! The `client-memory` section: the Rust client's peak memory while a slow consumer takes
//! 8 GiB of output from a real server (the consumer takes at most 256 MiB/s, far below what
//! `head` produces, and stalls for 2 s once), against the goal of 64 MiB. The client must
//! stop reading the connection instead of queueing, so the server paces the process.

use std::time::Duration;
use std::time::Instant;

use codex_exec_server::ClientConfig;
use codex_exec_server::ExecServerClient;
use codex_exec_server::protocol::ProcessEvent;

use super::Server;
use super::next_event;
use super::params;

const BYTES: u64 = 8 << 30;
const CONSUMER_RATE: f64 = 256.0 * 1024.0 * 1024.0;
const STALL_AT: u64 = 1 << 30;
const STALL: Duration = Duration::from_secs(2);

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

pub(super) async fn section() {
    let server = Server::start(&[]);
    let client = ExecServerClient::connect(ClientConfig::new(server.url.clone()))
        .await
        .unwrap();
    // Warm the connection, then measure the peak from here (writing 5 to clear_refs
    // resets VmHWM, the peak resident set).
    let (_, mut warm) = client
        .start_streaming(params("warm".to_string(), &["/bin/true"]))
        .await
        .unwrap();
    while !matches!(next_event(&mut warm).await, ProcessEvent::Closed(_)) {}
    let baseline = status_kib("VmRSS:");
    std::fs::write("/proc/self/clear_refs", "5").unwrap();

    let started = Instant::now();
    let (_, mut events) = client
        .start_streaming(params(
            "flood".to_string(),
            &["head", "-c", &BYTES.to_string(), "/dev/zero"],
        ))
        .await
        .unwrap();
    let (mut received, mut lost, mut stalled) = (0u64, 0u64, false);
    loop {
        match next_event(&mut events).await {
            ProcessEvent::Output(output) => received += output.chunk.as_bytes().len() as u64,
            ProcessEvent::Gap { gap, .. } => lost += gap.dropped_bytes,
            ProcessEvent::Exited(_) => {}
            ProcessEvent::Closed(_) => break,
        }
        if !stalled && received >= STALL_AT {
            stalled = true;
            tokio::time::sleep(STALL).await;
        }
        // Take at most CONSUMER_RATE bytes per second.
        let due = Duration::from_secs_f64(received as f64 / CONSUMER_RATE);
        let elapsed = started.elapsed();
        if due > elapsed {
            tokio::time::sleep(due - elapsed).await;
        }
    }
    let elapsed = started.elapsed();
    let peak = status_kib("VmHWM:");
    println!(
        "client memory while a slow consumer (<= 256 MiB/s, one 2 s stall) takes 8 GiB of \
         notifications:"
    );
    println!(
        "  received {:.2} GiB, lost {lost} bytes, in {:.1} s ({:.0} MiB/s)",
        received as f64 / (1u64 << 30) as f64,
        elapsed.as_secs_f64(),
        received as f64 / (1 << 20) as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  client resident memory: baseline {baseline} KiB, peak {peak} KiB, \
         growth {:.1} MiB   (goal: peak growth < 64 MiB)\n",
        peak.saturating_sub(baseline) as f64 / 1024.0
    );
}
