//! The `ExecProcess` trait: the seam between callers and where processes actually run.
//!
//! `LocalProcess` runs them on this machine; `RemoteProcess` forwards the same calls to an
//! exec-server. Both speak the wire types of [`crate::protocol`], so a caller written against
//! the trait cannot tell them apart. (The filesystem seam, `ExecutorFileSystem`, will sit
//! beside this trait in its own module once the `fs/*` methods land.)

use std::future::Future;

use tokio::sync::mpsc;

use crate::error::ExecError;
use crate::protocol::ProcessEvent;
use crate::protocol::ReadParams;
use crate::protocol::ReadResponse;
use crate::protocol::SignalParams;
use crate::protocol::SignalResponse;
use crate::protocol::StartParams;
use crate::protocol::StartResponse;
use crate::protocol::TerminateParams;
use crate::protocol::TerminateResponse;
use crate::protocol::WriteParams;
use crate::protocol::WriteResponse;

/// Start and drive processes, locally or remotely.
pub trait ExecProcess: Send + Sync {
    /// Start a process (`process/start`).
    fn start(
        &self,
        params: StartParams,
    ) -> impl Future<Output = Result<StartResponse, ExecError>> + Send;

    /// Read retained output and lifecycle state (`process/read`).
    fn read(
        &self,
        params: ReadParams,
    ) -> impl Future<Output = Result<ReadResponse, ExecError>> + Send;

    /// Write to stdin (`process/write`).
    fn write(
        &self,
        params: WriteParams,
    ) -> impl Future<Output = Result<WriteResponse, ExecError>> + Send;

    /// Signal the process group (`process/signal`).
    fn signal(
        &self,
        params: SignalParams,
    ) -> impl Future<Output = Result<SignalResponse, ExecError>> + Send;

    /// Kill the process group (`process/terminate`).
    fn terminate(
        &self,
        params: TerminateParams,
    ) -> impl Future<Output = Result<TerminateResponse, ExecError>> + Send;

    /// Subscribe to output/exited/closed events of all processes; replaces any previous
    /// subscription of this backend.
    fn events(&self) -> ProcessEvents;
}

/// A stream of [`ProcessEvent`]s, in `seq` order per process.
pub struct ProcessEvents {
    inner: EventsInner,
}

enum EventsInner {
    Bounded(mpsc::Receiver<ProcessEvent>),
    Unbounded(mpsc::UnboundedReceiver<ProcessEvent>),
}

impl ProcessEvents {
    pub(crate) fn bounded(rx: mpsc::Receiver<ProcessEvent>) -> Self {
        Self {
            inner: EventsInner::Bounded(rx),
        }
    }

    pub(crate) fn unbounded(rx: mpsc::UnboundedReceiver<ProcessEvent>) -> Self {
        Self {
            inner: EventsInner::Unbounded(rx),
        }
    }

    /// The next event; `None` once the subscription was replaced or the backend is gone.
    pub async fn recv(&mut self) -> Option<ProcessEvent> {
        match &mut self.inner {
            EventsInner::Bounded(rx) => rx.recv().await,
            EventsInner::Unbounded(rx) => rx.recv().await,
        }
    }
}
