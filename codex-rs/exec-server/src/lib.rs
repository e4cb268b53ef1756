//! `codex-exec-server`: run processes for a coding agent, here or on another machine.
//!
//! The crate holds the wire protocol ([`protocol`]), the server that speaks it over
//! WebSocket, a client with automatic reconnect and resume, and the [`Environment`] that lets
//! agent code run processes and filesystem operations without knowing whether they run
//! locally or remotely: both backends implement [`ExecProcess`] and `codex_file_system::ExecutorFileSystem`.
//! The contract lives in `docs/exec-server-protocol.md`.
#![deny(missing_docs)]

mod auth;
mod child;
pub mod cli;
mod client;
mod command;
mod environment;
mod error;
mod escalation;
mod event_router;
mod exec_process;
mod fs_error;
mod local_process;
mod policy_gate;
mod process_stream;
pub mod protocol;
mod pty;
mod remote_file_system;
mod retention;
mod sandbox;
mod server;
mod tls;

pub use auth::TOKEN_QUERY_PARAMETER;
pub use auth::UrlTokenError;
pub use auth::generate_token;
pub use auth::url_with_token;
pub use child::Child;
pub use child::ChildEvent;
pub use child::ChildStdin;
pub use child::ExitStatus;
pub use child::Output;
pub use client::ApprovalHandler;
pub use client::ClientConfig;
pub use client::ConnectionState;
pub use client::ExecServerClient;
pub use client::RemoteProcess;
pub use command::Command;
pub use command::DEFAULT_PATH;
pub use command::OnDrop;
pub use environment::EXEC_SERVER_CA_FILE_ENV_VAR;
pub use environment::EXEC_SERVER_TOKEN_ENV_VAR;
pub use environment::EXEC_SERVER_URL_ENV_VAR;
pub use environment::Environment;
pub use environment::EnvironmentExec;
pub use environment::RemoteSettings;
pub use error::ExecError;
pub use error::SessionLoss;
pub use escalation::ConfigLocations;
pub use escalation::DEFAULT_APPROVAL_TIMEOUT;
pub use escalation::ESCALATED_ENV_FROM_SHELL;
pub use escalation::ESCALATION_SHELLS;
pub use escalation::EscalationConfig;
pub use exec_process::BoxFuture;
pub use exec_process::ExecFuture;
pub use exec_process::ExecProcess;
pub use exec_process::ProcessEvents;
pub use local_process::DEFAULT_CLOSED_GRACE;
pub use local_process::DEFAULT_EVENT_QUEUE;
pub use local_process::DEFAULT_EVENT_QUEUE_BYTES;
pub use local_process::DEFAULT_MAX_RETAINED_BYTES;
pub use local_process::LocalProcess;
pub use local_process::LocalProcessConfig;
pub use policy_gate::PolicyGate;
pub use process_stream::ProcessStream;
pub use process_stream::StreamItem;
pub use remote_file_system::RemoteFileSystem;
pub use sandbox::dispatch_linux_sandbox;
pub use server::DEFAULT_CLIENT_TIMEOUT;
pub use server::DEFAULT_MAX_MESSAGE_BYTES;
pub use server::DEFAULT_SESSION_TTL;
pub use server::ExecServer;
pub use server::ListenUrl;
pub use server::LoopbackServer;
pub use server::MAX_UNWRITTEN_RESPONSES;
pub use server::ServerConfig;
pub use server::ServerError;
pub use server::load_tls_config;
pub use server::parse_listen_url;
