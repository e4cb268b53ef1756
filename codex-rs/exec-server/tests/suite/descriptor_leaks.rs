//! Descriptors the server creates for one start (a terminal pair, pipes) never reach a
//! process started at the same moment from another thread.
#![cfg(target_os = "linux")]

use codex_exec_server::ClientConfig;
use codex_exec_server::ExecServerClient;
use codex_exec_server::LocalProcess;
use codex_exec_server::RemoteProcess;
use futures_util::future::join_all;
use pretty_assertions::assert_eq;

use super::harness::TestServer;
use super::harness::cwd;
use super::harness::read_until_closed;
use super::harness::typed_start;

/// `ls /proc/self/fd`'s output as one line: "0 1 2 3" (stdio and the directory `ls`
/// opens to list them), or e.g. "0 1 129 2 3 859" with a leak (`ls` sorts by name).
fn listed_fds(output: &[u8]) -> String {
    String::from_utf8_lossy(output)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Starts of each kind (terminal, plain) per round, and rounds. A terminal pair that was
/// not created close-on-exec leaked into about one start in two hundred here: one round
/// caught it in nine runs out of ten, three rounds (about two seconds) nearly always.
const STARTS_PER_KIND: usize = 200;
const ROUNDS: usize = 3;

/// Terminal starts and plain starts, interleaved and all at once (the server spawns
/// each start on its own task, so two of them run on its two worker threads at the same
/// moment), each listing its open descriptors: every one must see its stdio and the
/// directory `ls` opens to list them (3), and nothing else — no other start's `/dev/ptmx`
/// or terminal, which would let it read and write another command's terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_never_inherit_each_others_descriptors() {
    let server = TestServer::start();
    let client = ExecServerClient::connect(ClientConfig::new(server.url.clone()))
        .await
        .unwrap();
    let remote = RemoteProcess::new(client.clone());
    let dir = cwd();
    let mut leaks = Vec::new();

    for round in 0..ROUNDS {
        let ids: Vec<String> = (0..STARTS_PER_KIND)
            .flat_map(|i| [format!("tty{round}.{i}"), format!("plain{round}.{i}")])
            .collect();
        let starts = ids.iter().map(|id| {
            let mut params = typed_start(id, &["/bin/ls", "/proc/self/fd"], dir.path());
            params.tty = id.starts_with("tty");
            client.start(params)
        });
        for result in join_all(starts).await {
            result.unwrap();
        }
        let results = join_all(ids.iter().map(|id| read_until_closed(&remote, id))).await;
        for (id, (output, exit_code)) in ids.into_iter().zip(results) {
            let fds = listed_fds(&output);
            if (fds.as_str(), exit_code) != ("0 1 2 3", Some(0)) {
                leaks.push((id, fds, exit_code));
            }
        }
    }

    assert_eq!(leaks, Vec::new());
}

/// A library host has no server `main` that marks the descriptors it inherited
/// close-on-exec; a terminal command, which is forked anyway (for its session and
/// controlling terminal), still gets only its stdio.
#[tokio::test]
async fn a_terminal_command_gets_only_its_stdio_even_from_a_careless_host() {
    // SAFETY: open with a static NUL-terminated path returns a new descriptor or -1.
    let careless = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
    assert!(careless > 2, "opened /dev/null without close-on-exec");
    let local = LocalProcess::default();
    let dir = cwd();
    let mut params = typed_start("tty", &["/bin/ls", "/proc/self/fd"], dir.path());
    params.tty = true;

    local.start(params).await.unwrap();
    let (output, exit_code) = read_until_closed(&local, "tty").await;
    // SAFETY: closing the descriptor opened above, used by nothing else.
    unsafe { libc::close(careless) };

    assert_eq!(
        (listed_fds(&output), exit_code),
        ("0 1 2 3".to_string(), Some(0))
    );
}
