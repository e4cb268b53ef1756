//! [`ConnectionState`]: where a client's connection to its session stands, as data.

use crate::error::SessionLoss;

/// Where a client's connection to its session stands
/// ([`ExecServerClient::state`](crate::ExecServerClient::state)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Connected; requests are sent and answered.
    Connected,
    /// The connection was lost and the client is reconnecting to resume the session.
    /// Requests made now fail fast with `ExecError::Disconnected` once an attempt failed.
    Reconnecting {
        /// Failed attempts so far.
        attempts: u32,
        /// The last attempt's failure, if one failed yet.
        last_error: Option<String>,
    },
    /// The session is gone for good; every call fails with `ExecError::SessionLost`.
    Lost(SessionLoss),
}
