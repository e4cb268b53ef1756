//! Wire types of the exec-server protocol (see `docs/exec-server-protocol.md`).
//!
//! These structs are the contract: field names are camelCase on the wire, byte payloads are
//! base64 (or raw, in the binary output frames a client may ask for), and every params struct refuses unknown fields so that a restriction the caller
//! relies on is never silently ignored (fail closed). Both the server and the client use
//! these same types, so they cannot drift apart.

// One module per concern: `rpc` (JSON-RPC: version, method names, error codes, the error
// object), `initialize` (the handshake), `process` (`process/*` and its notifications),
// `fs` (`fs/*`), `limits` (`process/start`'s `limits`), `terminal` (`ptySize` and
// `process/resize`), `escalation` (`process/start`'s `escalation` and `approval/request`),
// `byte_chunk` (base64 bytes) and `binary_frame` (output as binary WebSocket frames).
// Every item is re-exported here, so its public path stays `protocol::Item`.
mod binary_frame;
mod byte_chunk;
mod escalation;
mod fs;
mod initialize;
mod limits;
mod process;
mod rpc;
mod terminal;

pub use binary_frame::BINARY_FRAME_PREFIX_BYTES;
pub use binary_frame::BINARY_FRAME_VERSION;
pub use binary_frame::BinaryFrameError;
pub use binary_frame::BinaryMessage;
pub use binary_frame::decode_binary_frame;
pub use byte_chunk::ByteChunk;
pub(crate) use byte_chunk::base64_len;
pub(crate) use byte_chunk::decode_base64_string;
pub(crate) use byte_chunk::encode_base64_into;
pub use escalation::ApprovalDecision;
pub use escalation::ApprovalKind;
pub use escalation::ApprovalRequest;
pub use escalation::ApprovalResponse;
pub use escalation::EscalationParams;
pub use fs::CheckWriteParams;
pub use fs::CopyParams;
pub use fs::CreateDirectoryParams;
pub use fs::EmptyResponse;
pub use fs::GetMetadataParams;
pub use fs::ReadDirectoryParams;
pub use fs::ReadDirectoryResponse;
pub use fs::ReadFileParams;
pub use fs::ReadFileResponse;
pub use fs::RemoveParams;
pub use fs::WriteFileParams;
pub use initialize::Capabilities;
pub use initialize::InitializeParams;
pub use initialize::InitializeResponse;
pub use limits::ProcessLimits;
pub use process::AckParams;
pub use process::AckResponse;
pub use process::ClosedNotification;
pub use process::ExitedNotification;
pub use process::Gap;
pub use process::OutputChunk;
pub use process::OutputMode;
pub use process::OutputNotification;
pub use process::OutputNotificationsParams;
pub use process::OutputNotificationsResponse;
pub use process::OutputStream;
pub use process::ProcessEvent;
pub use process::ProcessSignal;
pub use process::ReadParams;
pub use process::ReadResponse;
pub use process::SignalParams;
pub use process::SignalResponse;
pub use process::StartParams;
pub use process::StartResponse;
pub use process::TerminateParams;
pub use process::TerminateResponse;
pub use process::WriteParams;
pub use process::WriteResponse;
pub use process::WriteStatus;
pub use rpc::JSONRPC_VERSION;
pub use rpc::RpcError;
pub use rpc::error_code;
pub use rpc::method;
pub use terminal::PtySize;
pub use terminal::ResizeParams;
pub use terminal::ResizeResponse;

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
