//! The typed router: [`Connection::dispatch`] answers `initialize` and checks that the
//! connection is attached to a session, then the table in [`routes`] gives each JSON-RPC
//! method one line naming its method constant, its params type and its handler. The router
//! decodes the params into that type once (a bad one is answered `-32602` and reaches no
//! handler), calls the handler, and answers with the result of the future it returns.
//!
//! Methods whose params carry a `sandboxPolicy` are routed with `gated`: the server's
//! [`crate::PolicyGate`] accepts or refuses the policy before the handler is called.
//!
//! A handler runs in two parts, which is what keeps a connection's requests in order while
//! they run concurrently: the call itself runs on the connection's reader loop, in arrival
//! order, and does the order-sensitive part (reserving a process id, queueing a stdin
//! write, sending a signal, resizing a terminal, switching a process's output
//! notifications); the future it returns (spawning, waiting, file I/O) runs in a
//! task of its own ([`Connection::reply_later`]).

use std::future::Future;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ExecError;
use crate::protocol::AckParams;
use crate::protocol::CheckWriteParams;
use crate::protocol::CopyParams;
use crate::protocol::CreateDirectoryParams;
use crate::protocol::GetMetadataParams;
use crate::protocol::OutputNotificationsParams;
use crate::protocol::ReadDirectoryParams;
use crate::protocol::ReadFileParams;
use crate::protocol::ReadParams;
use crate::protocol::RemoveParams;
use crate::protocol::ResizeParams;
use crate::protocol::SignalParams;
use crate::protocol::StartParams;
use crate::protocol::TerminateParams;
use crate::protocol::WriteFileParams;
use crate::protocol::WriteParams;
use crate::protocol::error_code;
use crate::protocol::method;

use super::connection::Connection;
use super::fs_handlers as fs;
use super::lock;
use super::process_handlers as process;
use super::rpc::ReplyResult;
use super::rpc::parse_params;
use super::sessions::Session;
use crate::policy_gate::GatedParams;

impl Connection {
    /// Answer one request: `initialize`, or a method of the session this connection is
    /// attached to.
    pub(super) fn dispatch(self: &Arc<Self>, id: Value, method_name: &str, params: Value) {
        if method_name == method::INITIALIZE {
            // Not in the table: it runs before there is a session, and answers at once.
            let result = self.initialize(params);
            return match result {
                Ok(response) => {
                    self.send_result(id, Ok(response));
                    self.attach_approvals();
                }
                Err(error) => self.send_rpc_error(id, error),
            };
        }
        let Some((session, generation)) = lock(&self.attached).clone() else {
            return self.send_error(
                id,
                error_code::INVALID_REQUEST,
                "send `initialize` before any other request".to_string(),
                /*data*/ None,
            );
        };
        if *session.generation.borrow() != generation {
            return self.send_result::<()>(id, Err(ExecError::SessionTakenOver));
        }
        let call = Call {
            conn: self,
            id,
            params,
            session: &session,
            generation,
        };
        routes(call, method_name);
    }

    /// Run `future` in its own task and answer `id` with its result, unless the connection
    /// closes first or (with `generation`) the session is taken over by another connection.
    fn reply_later<T, F>(self: &Arc<Self>, id: Value, session: &Session, generation: u64, future: F)
    where
        T: ReplyResult,
        F: Future<Output = Result<T, ExecError>> + Send + 'static,
    {
        let conn = Arc::clone(self);
        let mut closed = self.closed.subscribe();
        let mut current = session.generation.subscribe();
        tokio::spawn(async move {
            let result = tokio::select! {
                result = future => result,
                _ = current.wait_for(|g| *g != generation) => Err(ExecError::SessionTakenOver),
                _ = closed.wait_for(|closed| *closed) => return,
            };
            conn.send_result(id, result);
        });
    }
}

/// The routing table: one line per method, naming its constant, its params type and its
/// handler.
fn routes(call: Call<'_>, method_name: &str) {
    match method_name {
        method::PROCESS_START => call.gated::<StartParams>(process::start),
        method::PROCESS_READ => call.route::<ReadParams>(process::read),
        method::PROCESS_WRITE => call.route::<WriteParams>(process::write),
        method::PROCESS_SIGNAL => call.route::<SignalParams>(process::signal),
        method::PROCESS_TERMINATE => call.route::<TerminateParams>(process::terminate),
        method::PROCESS_RESIZE => call.route::<ResizeParams>(process::resize),
        method::PROCESS_OUTPUT_NOTIFICATIONS => {
            call.route::<OutputNotificationsParams>(process::output_notifications)
        }
        method::PROCESS_ACK => call.route::<AckParams>(process::ack),
        method::FS_READ_FILE => call.gated::<ReadFileParams>(fs::read_file),
        method::FS_WRITE_FILE => call.gated::<WriteFileParams>(fs::write_file),
        method::FS_CREATE_DIRECTORY => call.gated::<CreateDirectoryParams>(fs::create_directory),
        method::FS_GET_METADATA => call.gated::<GetMetadataParams>(fs::get_metadata),
        method::FS_READ_DIRECTORY => call.gated::<ReadDirectoryParams>(fs::read_directory),
        method::FS_REMOVE => call.gated::<RemoveParams>(fs::remove),
        method::FS_CHECK_WRITE => call.gated::<CheckWriteParams>(fs::check_write),
        method::FS_COPY => call.gated::<CopyParams>(fs::copy),
        _ => call.unknown_method(method_name),
    }
}

/// The handler of a method taking params `P`: called with the session on the reader loop,
/// it does the order-sensitive part of the request and returns the rest as a future, whose
/// result is the reply. Every `fn(&Session, P) -> impl Future<Output = Result<T, ExecError>>`
/// is one.
trait Handler<'s, P> {
    /// The `result` of a successful reply.
    type Reply: ReplyResult;
    /// The part that runs in a task of its own.
    type Future: Future<Output = Result<Self::Reply, ExecError>> + Send + 'static;

    /// Run the synchronous part; return the rest.
    fn call(self, session: &'s Session, params: P) -> Self::Future;
}

impl<'s, P, T, F, H> Handler<'s, P> for H
where
    H: FnOnce(&'s Session, P) -> F,
    F: Future<Output = Result<T, ExecError>> + Send + 'static,
    T: ReplyResult,
{
    type Reply = T;
    type Future = F;

    fn call(self, session: &'s Session, params: P) -> F {
        self(session, params)
    }
}

/// One request of an attached connection, on its way to its handler.
struct Call<'s> {
    conn: &'s Arc<Connection>,
    id: Value,
    params: Value,
    session: &'s Session,
    generation: u64,
}

impl<'s> Call<'s> {
    /// Decode the params into `P` (or answer `-32602`), call `handler` here, and answer with
    /// the result of the future it returns, from a task of its own.
    fn route<P: DeserializeOwned>(self, handler: impl Handler<'s, P>) {
        let params = match parse_params::<P>(self.params) {
            Ok(params) => params,
            Err(error) => return self.conn.send_rpc_error(self.id, error),
        };
        let future = handler.call(self.session, params);
        self.conn
            .reply_later(self.id, self.session, self.generation, future);
    }

    /// [`Call::route`] for a method whose params carry a `sandboxPolicy`: the server's
    /// [`crate::PolicyGate`] checks it first, and a refused policy is answered
    /// `sandboxDenied` without calling the handler.
    fn gated<P: DeserializeOwned + GatedParams>(self, handler: impl Handler<'s, P>) {
        let params = match parse_params::<P>(self.params) {
            Ok(params) => params,
            Err(error) => return self.conn.send_rpc_error(self.id, error),
        };
        if let Err(refused) = self.session.policy_gate.check(params.sandbox_policy()) {
            return self.conn.send_result::<()>(self.id, Err(refused));
        }
        let future = handler.call(self.session, params);
        self.conn
            .reply_later(self.id, self.session, self.generation, future);
    }

    /// Answer a method that is not in the table: `-32601`.
    fn unknown_method(self, method_name: &str) {
        self.conn.send_error(
            self.id,
            error_code::METHOD_NOT_FOUND,
            format!("unknown method `{method_name}`"),
            /*data*/ None,
        );
    }
}
