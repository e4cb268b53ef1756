use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use pretty_assertions::assert_eq;

use super::LocalProcess;
use super::LocalProcessConfig;
use super::lock;
use super::tasks::EXIT_DRAIN;
use super::tasks::EXIT_DRAIN_EMPTY_GROUP;
use super::tasks::exit_drain;
use crate::error::ExecError;
use crate::protocol::ByteChunk;
use crate::protocol::OutputChunk;
use crate::protocol::OutputNotificationsParams;
use crate::protocol::OutputNotificationsResponse;
use crate::protocol::OutputStream;
use crate::protocol::ProcessSignal;
use crate::protocol::ReadParams;
use crate::protocol::ReadResponse;
use crate::protocol::SignalParams;
use crate::protocol::SignalResponse;
use crate::protocol::StartParams;
use crate::protocol::TerminateParams;
use crate::protocol::TerminateResponse;
use crate::protocol::WriteParams;
use crate::protocol::WriteResponse;
use crate::protocol::WriteStatus;

#[tokio::test]
async fn write_during_start_reports_starting() {
    let local = LocalProcess::default();
    let start = local.start(StartParams {
        process_id: "p".to_string(),
        argv: vec![
            "/bin/sh".to_string(),
            "-c".to_string(),
            "exit 0".to_string(),
        ],
        cwd: "/".try_into().unwrap(),
        env: BTreeMap::new(),
        tty: false,
        pty_size: None,
        pipe_stdin: true,
        arg0: None,
        sandbox_policy: None,
        limits: None,
        output_mode: crate::protocol::OutputMode::Pace,
        escalation: None,
    });
    // The id is reserved before the start future runs, so a write now sees `starting`.
    let write = local
        .write(WriteParams {
            process_id: "p".to_string(),
            chunk: b"x".as_slice().into(),
            write_id: None,
            close_stdin: false,
        })
        .await
        .unwrap();
    assert_eq!(
        write,
        WriteResponse {
            status: WriteStatus::Starting
        }
    );
    tokio::time::timeout(Duration::from_secs(10), start)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn abandoned_start_releases_the_id() {
    let local = LocalProcess::default();
    let params = StartParams {
        process_id: "p".to_string(),
        argv: vec!["/bin/true".to_string()],
        cwd: "/".try_into().unwrap(),
        env: BTreeMap::new(),
        tty: false,
        pty_size: None,
        pipe_stdin: false,
        arg0: None,
        sandbox_policy: None,
        limits: None,
        output_mode: crate::protocol::OutputMode::Pace,
        escalation: None,
    };
    drop(local.start(params.clone()));
    local.start(params).await.unwrap();
}

#[tokio::test]
async fn signal_and_terminate_during_start_report_process_starting() {
    let local = LocalProcess::default();
    let start = local.start(StartParams {
        process_id: "p".to_string(),
        argv: vec!["/bin/true".to_string()],
        cwd: "/".try_into().unwrap(),
        env: BTreeMap::new(),
        tty: false,
        pty_size: None,
        pipe_stdin: false,
        arg0: None,
        sandbox_policy: None,
        limits: None,
        output_mode: crate::protocol::OutputMode::Pace,
        escalation: None,
    });
    // The id is reserved before the start future runs: the process is starting.
    let signal = local
        .signal(SignalParams {
            process_id: "p".to_string(),
            signal: ProcessSignal::Interrupt,
        })
        .await
        .unwrap_err();
    let terminate = local
        .terminate(TerminateParams {
            process_id: "p".to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        [signal.to_rpc_error(), terminate.to_rpc_error()],
        [
            ExecError::ProcessStarting("p".to_string()).to_rpc_error(),
            ExecError::ProcessStarting("p".to_string()).to_rpc_error(),
        ]
    );
    tokio::time::timeout(Duration::from_secs(10), start)
        .await
        .unwrap()
        .unwrap();
}

/// Regression: after a process closed, `terminate`, `signal` and `kill_all` (here: dropping
/// the last handle) still sent `kill(-pgid)`, and once the group is empty its number can be
/// taken by an unrelated process group. A decoy group of our own stands in for such a
/// reuse: the closed process's pgid is pointed at it.
#[tokio::test]
async fn a_closed_process_group_is_never_signalled_again() {
    let local = LocalProcess::default();
    local
        .start(StartParams {
            process_id: "p".to_string(),
            argv: vec!["/bin/true".to_string()],
            cwd: "/".try_into().unwrap(),
            env: BTreeMap::new(),
            tty: false,
            pty_size: None,
            pipe_stdin: false,
            arg0: None,
            sandbox_policy: None,
            limits: None,
            output_mode: crate::protocol::OutputMode::Pace,
            escalation: None,
        })
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), async {
        let mut after_seq = 0;
        loop {
            let read = local
                .read(ReadParams {
                    process_id: "p".to_string(),
                    after_seq: Some(after_seq),
                    max_bytes: None,
                    wait_ms: Some(10_000),
                    resume_notifications: false,
                })
                .await
                .unwrap();
            if read.closed {
                break;
            }
            after_seq = read.next_seq - 1;
        }
    })
    .await
    .unwrap();

    // One decoy per way of signalling, each standing in for the group when it is used.
    let mut decoys: Vec<std::process::Child> = (0..3)
        .map(|_| {
            std::process::Command::new("/bin/sleep")
                .arg("1000")
                .process_group(/*pgroup*/ 0)
                .spawn()
                .unwrap()
        })
        .collect();
    let pids: Vec<i32> = decoys.iter().map(|decoy| decoy.id() as i32).collect();
    let point_at = |pid: i32| lock(&local.lookup("p").unwrap().state).pgid = Some(pid);
    point_at(pids[0]);
    let terminate = local
        .terminate(TerminateParams {
            process_id: "p".to_string(),
        })
        .await
        .unwrap();
    point_at(pids[1]);
    let signal = local
        .signal(SignalParams {
            process_id: "p".to_string(),
            signal: ProcessSignal::Terminate,
        })
        .await
        .unwrap();
    point_at(pids[2]);
    drop(local);

    // The first fatal signal a process gets decides how it ends (later ones are dropped,
    // synchronously in kill(2)). Had anything above reached a decoy, it would have died of
    // SIGKILL or SIGTERM, not of this SIGUSR1.
    let ends: Vec<Option<i32>> = decoys
        .iter_mut()
        .map(|decoy| {
            // SAFETY: kill(2) on our own child; no memory involved.
            let rc = unsafe { libc::kill(decoy.id() as i32, libc::SIGUSR1) };
            assert_eq!(rc, 0);
            decoy.wait().unwrap().signal()
        })
        .collect();
    assert_eq!(
        (terminate, signal, ends),
        (
            TerminateResponse { running: false },
            SignalResponse {},
            vec![Some(libc::SIGUSR1); 3]
        )
    );
}

fn sh_params(process_id: &str, script: &str, tty: bool) -> StartParams {
    StartParams {
        process_id: process_id.to_string(),
        argv: vec!["/bin/sh".to_string(), "-c".to_string(), script.to_string()],
        cwd: "/".try_into().unwrap(),
        env: BTreeMap::from([("PATH".to_string(), "/usr/bin:/bin".to_string())]),
        tty,
        pty_size: None,
        pipe_stdin: false,
        arg0: None,
        sandbox_policy: None,
        limits: None,
        output_mode: crate::protocol::OutputMode::Pace,
        escalation: None,
    }
}

/// Reads `process_id` from the start until a reply satisfies `done`; returns that reply.
async fn read_until(
    local: &LocalProcess,
    process_id: &str,
    done: impl Fn(&ReadResponse) -> bool,
) -> ReadResponse {
    tokio::time::timeout(Duration::from_secs(30), async {
        let mut after_seq = 0;
        loop {
            let read = local
                .read(ReadParams {
                    process_id: process_id.to_string(),
                    after_seq: Some(after_seq),
                    max_bytes: None,
                    wait_ms: Some(10_000),
                    resume_notifications: false,
                })
                .await
                .unwrap();
            if done(&read) {
                return read;
            }
            after_seq = read.next_seq - 1;
        }
    })
    .await
    .unwrap()
}

/// The wait for the pipes after the reap is the long one only once the process group is
/// empty. A process on pipes and one under a PTY (where `setsid` makes it leader of a new
/// session and of a group with its pid, as `process_group(0)` makes it leader of a group)
/// get the short one while they run and the long one after they were reaped. A background
/// child left in the group keeps it short after the reap.
#[tokio::test]
async fn exit_drain_is_long_only_once_the_process_group_is_empty() {
    let local = LocalProcess::default();
    let mut leaders = Vec::new();
    let mut drains = Vec::new();
    for (process_id, tty) in [("pipes", false), ("pty", true)] {
        local
            .start(sh_params(process_id, "exec sleep 1000", tty))
            .await
            .unwrap();
        let pgid = lock(&local.lookup(process_id).unwrap().state).pgid.unwrap();
        // SAFETY: getpgid(2)/getsid(2) only read; no memory involved.
        let (group, session) = unsafe { (libc::getpgid(pgid), libc::getsid(pgid)) };
        leaders.push((process_id, group == pgid, session == pgid));
        let running = exit_drain(Some(pgid));
        local
            .terminate(TerminateParams {
                process_id: process_id.to_string(),
            })
            .await
            .unwrap();
        read_until(&local, process_id, |read| read.closed).await;
        drains.push((process_id, running, exit_drain(Some(pgid))));
    }

    // `sh` forks the background child before it exits, so the group has a member from the
    // start on. The child holds stdout, so terminate still reaches it after the exit.
    local
        .start(sh_params(
            "background",
            "sleep 1000 & exit 0",
            /*tty*/ false,
        ))
        .await
        .unwrap();
    let pgid = lock(&local.lookup("background").unwrap().state)
        .pgid
        .unwrap();
    let running = exit_drain(Some(pgid));
    read_until(&local, "background", |read| read.exited).await;
    drains.push(("background", running, exit_drain(Some(pgid))));
    local
        .terminate(TerminateParams {
            process_id: "background".to_string(),
        })
        .await
        .unwrap();
    read_until(&local, "background", |read| read.closed).await;

    assert_eq!(
        (leaders, drains, exit_drain(None)),
        (
            vec![("pipes", true, false), ("pty", true, true)],
            vec![
                ("pipes", EXIT_DRAIN, EXIT_DRAIN_EMPTY_GROUP),
                ("pty", EXIT_DRAIN, EXIT_DRAIN_EMPTY_GROUP),
                ("background", EXIT_DRAIN, EXIT_DRAIN),
            ],
            EXIT_DRAIN
        )
    );
}

/// Collects what is logged through it.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A process whose pipes are held, after its exit, only by a daemon that left its process
/// group (`setsid`): the group is empty at the reap, so the sequencer waits the long bound
/// for the pipes before it reports the exit (and still reports it, while the daemon holds
/// stdout). The daemon is in its own session before the process exits, and writes only
/// once the test opens its gate after `exited`, so the wait always runs out; the sequencer
/// logs which bound did.
#[tokio::test]
async fn a_daemon_outside_the_group_gets_the_long_exit_drain() {
    let log = Log::default();
    // With a single dispatcher registered, tracing takes a callsite's interest from the
    // default of the thread that hits it first (in a parallel test: one without a
    // subscriber), and the callsite stays off for this thread too. A second registered
    // dispatcher makes it ask every registered one.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    // The current-thread test runtime runs the sequencer on this thread.
    let writer = log.clone();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(/*ansi*/ false)
            .finish(),
    );
    let dir = tempfile::tempdir().unwrap();
    let local = LocalProcess::default();
    local
        .start(StartParams {
            cwd: dir.path().try_into().unwrap(),
            ..sh_params(
                "daemon",
                "mkfifo ready gate; \
                 setsid sh -c 'echo up > ready; read x < gate; echo \"late $x\"' & \
                 read r < ready; echo started; exit 5",
                /*tty*/ false,
            )
        })
        .await
        .unwrap();
    read_until(&local, "daemon", |read| read.exited).await;
    tokio::time::timeout(
        Duration::from_secs(30),
        tokio::fs::write(dir.path().join("gate"), "go\n"),
    )
    .await
    .expect("the daemon opened its gate in time")
    .unwrap();
    read_until(&local, "daemon", |read| read.closed).await;
    let read_after = |after_seq| {
        local.read(ReadParams {
            process_id: "daemon".to_string(),
            after_seq: Some(after_seq),
            max_bytes: None,
            wait_ms: None,
            resume_notifications: false,
        })
    };
    // A read from the start stops at `exited`; the next one has the daemon's output.
    let exited = read_after(/*after_seq*/ 0).await.unwrap();
    let rest = read_after(exited.next_seq - 1).await.unwrap();

    let logged = String::from_utf8(lock(&log.0).clone()).unwrap();
    let bounds: Vec<&str> = logged
        .lines()
        .filter(|line| line.contains("output pipes still open after exit"))
        .filter_map(|line| line.split_whitespace().find(|w| w.starts_with("bound=")))
        .collect();
    let long = format!("bound={EXIT_DRAIN_EMPTY_GROUP:?}");
    let chunk = |seq, data: &'static [u8]| OutputChunk {
        seq,
        stream: OutputStream::Stdout,
        chunk: ByteChunk(bytes::Bytes::from_static(data)),
    };
    assert_eq!(
        (bounds, exited, rest),
        (
            vec![long.as_str()],
            ReadResponse {
                chunks: vec![chunk(1, b"started\n")],
                next_seq: 3,
                exited: true,
                exit_code: Some(5),
                closed: false,
                failure: None,
                gap: None,
                notifications_resumed: false,
            },
            ReadResponse {
                chunks: vec![chunk(3, b"late go\n")],
                next_seq: 5,
                exited: true,
                exit_code: Some(5),
                closed: true,
                failure: None,
                gap: None,
                notifications_resumed: false,
            },
        )
    );
}

/// Pace mode without a subscriber or reader: the process is paused once half the
/// retention window is undelivered, and nothing is dropped.
#[tokio::test]
async fn pace_mode_pauses_an_unread_process_without_dropping() {
    let local = LocalProcess::new(LocalProcessConfig {
        max_retained_bytes: 1 << 20,
        ..LocalProcessConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut params = sh_params(
        "flood",
        "head -c 8388608 /dev/zero; touch finished",
        /*tty*/ false,
    );
    params.cwd = dir.path().try_into().unwrap();
    local.start(params).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!dir.path().join("finished").exists(), "paused");
    let (output, _) = read_all_of(&local, "flood").await;
    assert_eq!(output, 8 << 20);
    assert!(dir.path().join("finished").exists());
}

/// Reads `process_id` until closed; panics on a gap. Returns the byte count and the last
/// reply.
pub(crate) async fn read_all_of(local: &LocalProcess, process_id: &str) -> (usize, ReadResponse) {
    let mut after = 0;
    let mut bytes = 0;
    loop {
        let read = local
            .read(ReadParams {
                process_id: process_id.to_string(),
                after_seq: Some(after),
                max_bytes: None,
                wait_ms: Some(5_000),
                resume_notifications: false,
            })
            .await
            .unwrap();
        assert_eq!(read.gap, None);
        bytes += read
            .chunks
            .iter()
            .map(|c| c.chunk.as_bytes().len())
            .sum::<usize>();
        after = read.next_seq - 1;
        if read.closed {
            return (bytes, read);
        }
    }
}

/// A terminal cannot be resized before its process is spawned: like a signal, the resize
/// answers `processStarting` (retry), and `closeStdin` the `starting` status.
#[tokio::test]
async fn resize_and_close_during_start_report_starting() {
    let local = LocalProcess::default();
    let start = local.start(sh_params("p", "exit 0", /*tty*/ true));

    let resize = local
        .resize(crate::protocol::ResizeParams {
            process_id: "p".to_string(),
            rows: 40,
            cols: 120,
        })
        .await
        .map_err(|err| err.to_string());
    let close = local
        .write(WriteParams {
            process_id: "p".to_string(),
            chunk: ByteChunk::default(),
            write_id: None,
            close_stdin: true,
        })
        .await
        .map_err(|err| err.to_string());

    assert_eq!(
        (resize, close),
        (
            Err(ExecError::ProcessStarting("p".to_string()).to_string()),
            Ok(WriteResponse {
                status: WriteStatus::Starting
            })
        )
    );
    tokio::time::timeout(Duration::from_secs(10), start)
        .await
        .unwrap()
        .unwrap();
}

/// One subscriber event as `(process, kind, bytes)`.
fn event_summary(event: &crate::protocol::ProcessEvent) -> (String, &'static str, usize) {
    use crate::protocol::ProcessEvent;
    let (kind, bytes) = match event {
        ProcessEvent::Output(output) => ("output", output.chunk.as_bytes().len()),
        ProcessEvent::Exited(_) => ("exited", 0),
        ProcessEvent::Closed(_) => ("closed", 0),
        ProcessEvent::Gap { .. } => ("gap", 0),
    };
    (event.process_id().to_string(), kind, bytes)
}

/// Output notifications switched off (while the process is still starting): the
/// subscriber gets none of that process's output, only its `exited` and `closed`; the paced
/// process waits for reads, which return every byte. Another process is not affected.
#[tokio::test]
async fn switched_off_output_is_read_only_and_paced() {
    let local = LocalProcess::new(LocalProcessConfig {
        max_retained_bytes: 1 << 20,
        ..LocalProcessConfig::default()
    });
    let mut events = local.events();
    let dir = tempfile::tempdir().unwrap();
    let mut params = sh_params(
        "quiet",
        "head -c 4194304 /dev/zero; touch finished",
        /*tty*/ false,
    );
    params.cwd = dir.path().try_into().unwrap();
    let start = local.start(params);
    let off = local
        .set_output_notifications(OutputNotificationsParams {
            process_id: "quiet".to_string(),
            enabled: false,
        })
        .await;
    assert_eq!(
        off.map_err(|err| err.to_string()),
        Ok(OutputNotificationsResponse {})
    );
    start.await.unwrap();
    local
        .start(sh_params("loud", "echo hi", /*tty*/ false))
        .await
        .unwrap();

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !dir.path().join("finished").exists(),
        "paused: nothing read"
    );
    let (bytes, last) = read_all_of(&local, "quiet").await;
    assert_eq!((bytes, last.exit_code), (4 << 20, Some(0)));

    let mut seen = Vec::new();
    while seen.iter().filter(|(_, kind, _)| *kind == "closed").count() < 2 {
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("an event")
            .expect("the subscription goes on");
        seen.push(event_summary(&event));
    }
    let of = |id: &str| -> Vec<(&'static str, usize)> {
        seen.iter()
            .filter(|(process, _, _)| process == id)
            .map(|(_, kind, bytes)| (*kind, *bytes))
            .collect()
    };
    assert_eq!(
        (of("quiet"), of("loud")),
        (
            vec![("exited", 0), ("closed", 0)],
            vec![("output", 3), ("exited", 0), ("closed", 0)]
        )
    );
}

/// Off, then on: output still queued when it is switched off is taken back, output in
/// between is only read, later output is queued again; the switch is idempotent, a closed
/// process answers `Ok` and an unknown one `UnknownProcess`.
#[tokio::test]
async fn switched_back_on_later_output_is_queued_again() {
    let local = LocalProcess::default();
    let mut events = local.events();
    let mut params = sh_params("cat", "cat", /*tty*/ false);
    params.pipe_stdin = true;
    local.start(params).await.unwrap();
    let notifications = |enabled| {
        local.set_output_notifications(OutputNotificationsParams {
            process_id: "cat".to_string(),
            enabled,
        })
    };
    let write_cat = |chunk: &'static [u8], close_stdin| {
        local.write(WriteParams {
            process_id: "cat".to_string(),
            chunk: chunk.into(),
            write_id: None,
            close_stdin,
        })
    };
    // Queued (nobody takes it yet), then withdrawn by the switch.
    write_cat(b"zero\n", /*close_stdin*/ false).await.unwrap();
    read_until(&local, "cat", |read| read.next_seq > 1).await;
    notifications(/*enabled*/ false).await.unwrap();
    notifications(/*enabled*/ false).await.unwrap();
    write_cat(b"first\n", /*close_stdin*/ false).await.unwrap();
    read_until(&local, "cat", |read| read.next_seq > 2).await;
    let first = local
        .read(ReadParams {
            process_id: "cat".to_string(),
            after_seq: Some(0),
            max_bytes: None,
            wait_ms: None,
            resume_notifications: false,
        })
        .await
        .unwrap();
    assert_eq!(
        first
            .chunks
            .iter()
            .map(|chunk| chunk.chunk.as_bytes().to_vec())
            .collect::<Vec<_>>(),
        vec![b"zero\n".to_vec(), b"first\n".to_vec()]
    );

    notifications(/*enabled*/ true).await.unwrap();
    notifications(/*enabled*/ true).await.unwrap();
    write_cat(b"second\n", /*close_stdin*/ true).await.unwrap();
    let mut seen = Vec::new();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), events.recv())
            .await
            .expect("an event")
            .expect("the subscription goes on");
        let closed = matches!(event, crate::protocol::ProcessEvent::Closed(_));
        seen.push(event);
        if closed {
            break;
        }
    }
    match &seen[0] {
        crate::protocol::ProcessEvent::Output(output) => assert_eq!(
            (output.seq, output.chunk.as_bytes()),
            (3, b"second\n".as_slice()),
            "the lines before, queued or written while off, were not taken"
        ),
        other => panic!("expected the second line, got {other:?}"),
    }
    assert_eq!(
        seen.iter()
            .map(event_summary)
            .map(|(_, kind, _)| kind)
            .collect::<Vec<_>>(),
        vec!["output", "exited", "closed"]
    );

    assert_eq!(
        notifications(/*enabled*/ false)
            .await
            .map_err(|err| err.to_string()),
        Ok(OutputNotificationsResponse {}),
        "closed: nothing to do"
    );
    let unknown = local
        .set_output_notifications(OutputNotificationsParams {
            process_id: "nope".to_string(),
            enabled: false,
        })
        .await
        .map_err(|err| err.to_string());
    assert_eq!(
        unknown,
        Err(ExecError::UnknownProcess("nope".to_string()).to_string())
    );
}
