//! [`Child`]: a process started by [`Command::spawn`](crate::Command::spawn), local or
//! remote alike: its output as a stream of [`ChildEvent`]s, stdin, signals, terminal size,
//! and its end ([`Child::wait`], [`Child::output`]).

use std::pin::Pin;
use std::sync::Arc;
use std::task::Context;
use std::task::Poll;
use std::time::Duration;

use futures_util::Stream;
use futures_util::StreamExt;

use crate::command::OnDrop;
use crate::error::ExecError;
use crate::exec_process::ExecProcess;
use crate::process_stream::ProcessStream;
use crate::protocol::Gap;
use crate::protocol::OutputStream;
use crate::protocol::ProcessEvent;
use crate::protocol::ProcessSignal;
use crate::protocol::PtySize;
use crate::protocol::ResizeParams;
use crate::protocol::SignalParams;
use crate::protocol::TerminateParams;
use crate::protocol::WriteParams;
use crate::protocol::WriteStatus;

/// How often a write to a process that is still being started is retried.
const STARTING_RETRY: Duration = Duration::from_millis(5);

/// How a process ended: its exit code, or 128 + the signal that killed it (as a shell
/// reports it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExitStatus {
    code: i32,
}

impl ExitStatus {
    /// The status for `code` (128 + signal for a process killed by a signal).
    pub fn from_code(code: i32) -> Self {
        Self { code }
    }

    /// The exit code (128 + signal for a process killed by a signal).
    pub fn code(&self) -> i32 {
        self.code
    }

    /// Whether the process exited with 0.
    pub fn success(&self) -> bool {
        self.code == 0
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code)
    }
}

/// One thing a [`Child`] reports, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildEvent {
    /// Bytes the process wrote to stdout.
    Stdout(Vec<u8>),
    /// Bytes the process wrote to stderr.
    Stderr(Vec<u8>),
    /// Bytes from the process's terminal (a [`Command::pty`](crate::Command::pty) process
    /// has only this stream).
    Pty(Vec<u8>),
    /// Output that was no longer retained when it was needed (only with
    /// `OutputMode::Drop`, or a subscription made late).
    Gap(Gap),
    /// The process exited. Output may still follow (from something that outlived it and
    /// held its pipes); the stream ends once all of it was delivered.
    Exited(ExitStatus),
}

/// Everything a process wrote, and how it ended ([`Child::output`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// How it ended.
    pub status: ExitStatus,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
    /// Everything read from the terminal (terminal processes only).
    pub pty: Vec<u8>,
    /// Output that was lost (empty unless `OutputMode::Drop` or a late subscription).
    pub gaps: Vec<Gap>,
}

/// A running (or finished) process. Take its events ([`Child::next_event`], or use it as a
/// [`Stream`]) or let [`Child::wait`] / [`Child::output`] do it: events are bounded, and a
/// child whose events nobody takes makes its backend stop reading (see
/// [`ProcessStream`]).
///
/// Dropping a `Child` whose process has not exited kills its process group unless the
/// command said [`OnDrop::Detach`] (or [`Child::detach`] was called).
pub struct Child {
    id: String,
    exec: Arc<dyn ExecProcess>,
    stream: ProcessStream,
    tty: bool,
    on_drop: OnDrop,
    status: Option<ExitStatus>,
    ended: bool,
}

/// The stdin of a [`Child`] (a [`Command::stdin_piped`](crate::Command::stdin_piped) or
/// terminal process). Cheap to clone; usable after the `Child` moved elsewhere.
#[derive(Clone)]
pub struct ChildStdin {
    id: String,
    exec: Arc<dyn ExecProcess>,
}

impl ChildStdin {
    /// Write `bytes`; [`ExecError::StdinClosed`] once stdin was closed (or the process
    /// never had one), [`ExecError::UnknownProcess`] once the process is forgotten.
    pub async fn write(&self, bytes: &[u8]) -> Result<(), ExecError> {
        self.send(bytes, /*close_stdin*/ false).await
    }

    /// Close stdin so the process sees end of file (for a terminal, the terminal's EOF
    /// character is sent). Closing again is not an error.
    pub async fn close(&self) -> Result<(), ExecError> {
        self.send(&[], /*close_stdin*/ true).await
    }

    async fn send(&self, bytes: &[u8], close_stdin: bool) -> Result<(), ExecError> {
        let write_id = uuid::Uuid::new_v4().to_string();
        loop {
            let response = self
                .exec
                .write(WriteParams {
                    process_id: self.id.clone(),
                    chunk: bytes.to_vec().into(),
                    write_id: Some(write_id.clone()),
                    close_stdin,
                })
                .await?;
            match response.status {
                WriteStatus::Accepted => return Ok(()),
                WriteStatus::StdinClosed => return Err(ExecError::StdinClosed(self.id.clone())),
                WriteStatus::UnknownProcess => {
                    return Err(ExecError::UnknownProcess(self.id.clone()));
                }
                WriteStatus::Starting => tokio::time::sleep(STARTING_RETRY).await,
            }
        }
    }
}

impl Child {
    pub(crate) fn new(
        id: String,
        exec: Arc<dyn ExecProcess>,
        stream: ProcessStream,
        tty: bool,
        on_drop: OnDrop,
    ) -> Self {
        Self {
            id,
            exec,
            stream,
            tty,
            on_drop,
            status: None,
            ended: false,
        }
    }

    /// The process id (unique within its session).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The exit status, once [`ChildEvent::Exited`] was seen.
    pub fn status(&self) -> Option<ExitStatus> {
        self.status
    }

    /// Its stdin.
    pub fn stdin(&self) -> ChildStdin {
        ChildStdin {
            id: self.id.clone(),
            exec: Arc::clone(&self.exec),
        }
    }

    /// The next event; `None` once everything was delivered (after the exit and the last
    /// output). An `Err` reports a failure: the session was lost (the stream then ends),
    /// or output could not be caught up (the stream goes on).
    pub async fn next_event(&mut self) -> Option<Result<ChildEvent, ExecError>> {
        self.next().await
    }

    /// Wait for the process to exit. Output not taken yet is discarded (use
    /// [`Child::output`] to keep it).
    pub async fn wait(&mut self) -> Result<ExitStatus, ExecError> {
        while self.status.is_none() {
            match self.next().await {
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(err),
                None => return Err(self.ended_without_exit()),
            }
        }
        Ok(self.status.unwrap_or(ExitStatus { code: -1 }))
    }

    /// Wait for the process to exit and every byte of its output, and return them.
    pub async fn output(mut self) -> Result<Output, ExecError> {
        let mut output = Output {
            status: ExitStatus::from_code(/*code*/ -1),
            stdout: Vec::new(),
            stderr: Vec::new(),
            pty: Vec::new(),
            gaps: Vec::new(),
        };
        let mut status = None;
        while let Some(event) = self.next().await {
            match event? {
                ChildEvent::Stdout(bytes) => output.stdout.extend_from_slice(&bytes),
                ChildEvent::Stderr(bytes) => output.stderr.extend_from_slice(&bytes),
                ChildEvent::Pty(bytes) => output.pty.extend_from_slice(&bytes),
                ChildEvent::Gap(gap) => output.gaps.push(gap),
                ChildEvent::Exited(exited) => status = Some(exited),
            }
        }
        output.status = status.ok_or_else(|| self.ended_without_exit())?;
        Ok(output)
    }

    fn ended_without_exit(&self) -> ExecError {
        ExecError::Internal(format!(
            "the events of process `{}` ended without its exit",
            self.id
        ))
    }

    /// Kill the process group (SIGKILL).
    pub async fn kill(&self) -> Result<(), ExecError> {
        self.exec
            .terminate(TerminateParams {
                process_id: self.id.clone(),
            })
            .await
            .map(|_| ())
    }

    /// Send `signal` to the process group.
    pub async fn signal(&self, signal: ProcessSignal) -> Result<(), ExecError> {
        self.exec
            .signal(SignalParams {
                process_id: self.id.clone(),
                signal,
            })
            .await
            .map(|_| ())
    }

    /// Change the terminal's size ([`ExecError::NotATerminal`] for a process without one;
    /// [`ExecError::InvalidParams`] for a dimension outside 1 to
    /// [`PtySize::MAX_DIMENSION`]).
    pub async fn resize(&self, size: PtySize) -> Result<(), ExecError> {
        self.exec
            .resize(ResizeParams {
                process_id: self.id.clone(),
                rows: size.rows,
                cols: size.cols,
            })
            .await
            .map(|_| ())
    }

    /// Whether the process runs under a terminal.
    pub fn is_terminal(&self) -> bool {
        self.tty
    }

    /// Let the process run on when this `Child` is dropped.
    pub fn detach(mut self) {
        self.on_drop = OnDrop::Detach;
    }

    /// The event for `event`; `None` for `closed`, which is not an event of its own here
    /// (the stream ends right after it).
    fn convert(&mut self, event: ProcessEvent) -> Option<ChildEvent> {
        match event {
            ProcessEvent::Output(output) => {
                let bytes = output.chunk.0.to_vec();
                Some(match output.stream {
                    OutputStream::Stdout => ChildEvent::Stdout(bytes),
                    OutputStream::Stderr => ChildEvent::Stderr(bytes),
                    OutputStream::Pty => ChildEvent::Pty(bytes),
                })
            }
            ProcessEvent::Gap { gap, .. } => Some(ChildEvent::Gap(gap)),
            ProcessEvent::Exited(exited) => {
                let status = ExitStatus {
                    code: exited.exit_code,
                };
                self.status = Some(status);
                Some(ChildEvent::Exited(status))
            }
            ProcessEvent::Closed(_) => None,
        }
    }
}

impl Stream for Child {
    type Item = Result<ChildEvent, ExecError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.ended {
                return Poll::Ready(None);
            }
            let event = match Pin::new(&mut this.stream).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.ended = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(err))) => return Poll::Ready(Some(Err(err))),
                Poll::Ready(Some(Ok(event))) => event,
            };
            match this.convert(event) {
                Some(event) => return Poll::Ready(Some(Ok(event))),
                None => this.ended = true,
            }
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.on_drop == OnDrop::Detach || self.status.is_some() || self.ended {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                "process `{}` dropped outside a tokio runtime; it was not killed",
                self.id
            );
            return;
        };
        let exec = Arc::clone(&self.exec);
        let process_id = self.id.clone();
        runtime.spawn(async move {
            let _ = exec.terminate(TerminateParams { process_id }).await;
        });
    }
}
