//! The `initialize` handshake: [`InitializeParams`], [`InitializeResponse`] and the
//! server's [`Capabilities`].

use serde::Deserialize;
use serde::Serialize;

/// `initialize` params.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InitializeParams {
    /// Free-form name of the client, for logs.
    pub client_name: String,
    /// Resume (and take over) this session instead of creating a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_session_id: Option<String>,
    /// Send `process/output` notifications on this connection (default). A client that
    /// reads output with `process/read` only sets `false`: then output counts as delivered
    /// only when a read passes it, so paced processes wait for its reads (with
    /// notifications, output the client threw away would count as delivered, and a slow
    /// read loop could fall more than the retention window behind). Lifecycle
    /// notifications (`process/exited`, `process/closed`) are sent either way.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub output_notifications: bool,
    /// Ask for output as binary WebSocket frames (default `false`, left out when
    /// `false`): `process/output` notifications and `process/read` replies then come as
    /// binary frames with the bytes raw (see [`super::decode_binary_frame`]), everything
    /// else stays JSON text. The result's `binaryOutput` says whether the server does it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub binary_output: bool,
    /// Count this connection's `process/output` notifications as delivered only once the
    /// client acknowledges them (`process/ack`), not once they are sent (default `false`,
    /// left out when `false`). In `outputMode: "pace"` output on its way when the
    /// connection breaks then stays retained for the resume; the client must acknowledge
    /// as it receives, or its paced processes wait. The result's `acknowledgeOutput` says
    /// whether the server does it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub acknowledge_output: bool,
}

fn default_true() -> bool {
    true
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_true(value: &bool) -> bool {
    *value
}

/// What a server (or an [`crate::Environment`]) can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Capabilities {
    /// Processes can be started.
    pub exec: bool,
    /// `fs/*` methods are available.
    pub filesystem: bool,
}

/// `initialize` result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InitializeResponse {
    /// The (new or resumed) session id, a random UUID.
    pub session_id: String,
    /// What this server offers.
    pub capabilities: Capabilities,
    /// Output comes as binary frames on this connection (only when the client asked with
    /// `binaryOutput: true`; left out when `false`, so a client that did not ask sees the
    /// result it always did).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub binary_output: bool,
    /// Notified output counts as delivered on this connection only once acknowledged
    /// (only when the client asked with `acknowledgeOutput: true` and gets output
    /// notifications; left out when `false`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub acknowledge_output: bool,
}
