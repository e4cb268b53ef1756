use std::collections::BTreeMap;
use std::time::Duration;

use pretty_assertions::assert_eq;

use super::LocalProcess;
use crate::error::ExecError;
use crate::protocol::ProcessSignal;
use crate::protocol::SignalParams;
use crate::protocol::StartParams;
use crate::protocol::TerminateParams;
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
