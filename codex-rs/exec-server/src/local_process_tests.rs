use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use pretty_assertions::assert_eq;

use super::LocalProcess;
use super::lock;
use crate::error::ExecError;
use crate::protocol::ProcessSignal;
use crate::protocol::ReadParams;
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
        cwd: "/".into(),
        env: BTreeMap::new(),
        tty: false,
        pipe_stdin: true,
        arg0: None,
        sandbox_policy: None,
    });
    // The id is reserved before the start future runs, so a write now sees `starting`.
    let write = local
        .write(WriteParams {
            process_id: "p".to_string(),
            chunk: b"x".as_slice().into(),
            write_id: None,
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
        cwd: "/".into(),
        env: BTreeMap::new(),
        tty: false,
        pipe_stdin: false,
        arg0: None,
        sandbox_policy: None,
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
        cwd: "/".into(),
        env: BTreeMap::new(),
        tty: false,
        pipe_stdin: false,
        arg0: None,
        sandbox_policy: None,
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
            cwd: "/".into(),
            env: BTreeMap::new(),
            tty: false,
            pipe_stdin: false,
            arg0: None,
            sandbox_policy: None,
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
                .process_group(0)
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
