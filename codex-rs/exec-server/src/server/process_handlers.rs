//! The `process/*` handlers: each runs its order-sensitive part (reserving the process
//! id, queueing the stdin write) when it is called, on the connection's reader loop and
//! so in arrival order, and returns the rest as a future that the router runs in its own
//! task (see [`crate::LocalProcess`]).

use std::future::Future;

use crate::error::ExecError;
use crate::protocol::AckParams;
use crate::protocol::AckResponse;
use crate::protocol::OutputNotificationsParams;
use crate::protocol::OutputNotificationsResponse;
use crate::protocol::ReadParams;
use crate::protocol::ResizeParams;
use crate::protocol::ResizeResponse;
use crate::protocol::SignalParams;
use crate::protocol::SignalResponse;
use crate::protocol::StartParams;
use crate::protocol::StartResponse;
use crate::protocol::TerminateParams;
use crate::protocol::TerminateResponse;
use crate::protocol::WriteParams;
use crate::protocol::WriteResponse;

use super::rpc::ReadReply;
use super::sessions::Session;

/// `process/start`: the id is reserved now, the process is spawned by the future.
pub(super) fn start(
    session: &Session,
    params: StartParams,
) -> impl Future<Output = Result<StartResponse, ExecError>> + Send + 'static {
    session.processes.start(params)
}

/// `process/read`: its reply is written directly (see [`ReadReply`]).
pub(super) fn read(
    session: &Session,
    params: ReadParams,
) -> impl Future<Output = Result<ReadReply, ExecError>> + Send + 'static {
    let read = session.processes.read(params);
    async move { read.await.map(ReadReply) }
}

/// `process/write`: the write is queued now, in arrival order.
pub(super) fn write(
    session: &Session,
    params: WriteParams,
) -> impl Future<Output = Result<WriteResponse, ExecError>> + Send + 'static {
    session.processes.write(params)
}

/// `process/signal`: the signal is sent now; the future only carries the answer.
pub(super) fn signal(
    session: &Session,
    params: SignalParams,
) -> impl Future<Output = Result<SignalResponse, ExecError>> + Send + 'static {
    session.processes.signal(params)
}

/// `process/resize`: the window size is set now (before a write that follows it); the
/// future only carries the answer.
pub(super) fn resize(
    session: &Session,
    params: ResizeParams,
) -> impl Future<Output = Result<ResizeResponse, ExecError>> + Send + 'static {
    session.processes.resize(params)
}

/// `process/terminate`: the kill is sent now; the future only carries the answer.
pub(super) fn terminate(
    session: &Session,
    params: TerminateParams,
) -> impl Future<Output = Result<TerminateResponse, ExecError>> + Send + 'static {
    session.processes.terminate(params)
}

/// `process/outputNotifications`: the switch is applied now, so a `process/read` sent
/// after it covers whatever output was not notified; the future only carries the answer.
pub(super) fn output_notifications(
    session: &Session,
    params: OutputNotificationsParams,
) -> impl Future<Output = Result<OutputNotificationsResponse, ExecError>> + Send + 'static {
    session.processes.set_output_notifications(params)
}

/// `process/ack`: the acknowledged output counts as delivered now; the future only carries
/// the answer.
pub(super) fn ack(
    session: &Session,
    params: AckParams,
) -> impl Future<Output = Result<AckResponse, ExecError>> + Send + 'static {
    session.processes.acknowledge(params)
}
