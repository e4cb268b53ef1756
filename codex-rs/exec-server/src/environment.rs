//! `Environment`: where an agent's processes run and its files live, chosen once from
//! `CODEX_EXEC_SERVER_URL`.
//!
//! Unset or empty → on this machine ([`LocalProcess`]); `ws://…`/`wss://…` → on that exec-server
//! ([`RemoteProcess`]); `none` → nowhere: both capabilities are off and every call returns
//! [`ExecError::Disabled`] without running anything. Callers check [`Environment::capabilities`]
//! to decide which tools to offer, and use [`Environment::exec`] without caring where it runs.
//!
//! Beside `exec`, [`Environment::file_system`] gives the filesystem of the same place
//! ([`LocalFileSystem`] or [`RemoteFileSystem`], both [`ExecutorFileSystem`]); it is gated by
//! the `filesystem` capability the same way (disabled → [`FileSystemError::Disabled`], nothing
//! touched).

use std::sync::Arc;

use codex_file_system::ExecutorFileSystem;
use codex_file_system::FileSystemError;
use codex_file_system::LocalFileSystem;

use crate::client::ClientConfig;
use crate::client::ExecServerClient;
use crate::client::RemoteProcess;
use crate::error::ExecError;
use crate::exec_process::BoxFuture;
use crate::exec_process::ExecFuture;
use crate::exec_process::ExecProcess;
use crate::local_process::LocalProcess;
use crate::process_stream::ProcessStream;
use crate::protocol::Capabilities;
use crate::protocol::ReadParams;
use crate::protocol::ReadResponse;
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
use crate::remote_file_system::RemoteFileSystem;

/// Variable naming the exec-server (or `none`).
pub const EXEC_SERVER_URL_ENV_VAR: &str = "CODEX_EXEC_SERVER_URL";
/// Variable holding the bearer token for a remote exec-server.
pub const EXEC_SERVER_TOKEN_ENV_VAR: &str = "CODEX_EXEC_SERVER_TOKEN";
/// Variable naming a PEM file of the certificate authorities to trust for a `wss://`
/// exec-server instead of the built-in web PKI roots.
pub const EXEC_SERVER_CA_FILE_ENV_VAR: &str = "CODEX_EXEC_SERVER_CA_FILE";

/// Where processes run, and what is available there.
pub struct Environment {
    exec: Option<EnvironmentExec>,
    file_system: Option<Arc<dyn ExecutorFileSystem>>,
    capabilities: Capabilities,
}

/// What an [`Environment`] needs to reach a remote exec-server, beside its URL.
#[derive(Clone, Debug, Default)]
pub struct RemoteSettings {
    /// Bearer token (`CODEX_EXEC_SERVER_TOKEN`); an empty one counts as none.
    pub auth_token: Option<String>,
    /// For `wss://`: the CA certificates to trust instead of the web PKI roots
    /// (`CODEX_EXEC_SERVER_CA_FILE`).
    pub tls_ca_file: Option<std::path::PathBuf>,
}

/// The process backend of an [`Environment`]; local or remote, indistinguishable to callers.
#[derive(Clone)]
pub struct EnvironmentExec {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Local(LocalProcess),
    Remote(RemoteProcess),
}

impl EnvironmentExec {
    fn backend(&self) -> &dyn ExecProcess {
        match &self.backend {
            Backend::Local(local) => local,
            Backend::Remote(remote) => remote,
        }
    }
}

impl Environment {
    /// Processes run and files live on this machine.
    pub fn local(local: LocalProcess) -> Self {
        Self::local_with_file_system(local, LocalFileSystem::default())
    }

    /// Like [`Environment::local`], with a configured filesystem.
    pub fn local_with_file_system(local: LocalProcess, file_system: LocalFileSystem) -> Self {
        // Both sides agree on where the sandbox roots resolved first.
        let file_system = file_system.with_root_pins(local.root_pins());
        Self {
            exec: Some(EnvironmentExec {
                backend: Backend::Local(local),
            }),
            file_system: Some(Arc::new(file_system)),
            capabilities: Capabilities {
                exec: true,
                filesystem: true,
            },
        }
    }

    /// Nothing runs anywhere.
    pub fn disabled() -> Self {
        Self {
            exec: None,
            file_system: None,
            capabilities: Capabilities {
                exec: false,
                filesystem: false,
            },
        }
    }

    /// Processes run on the exec-server `config` points at.
    pub async fn remote(config: ClientConfig) -> Result<Self, ExecError> {
        Ok(Self::from_client(ExecServerClient::connect(config).await?))
    }

    /// Processes run on the server `client` is connected to: for example a client from
    /// [`ExecServerClient::new_session`] after the previous session was lost.
    pub fn from_client(client: ExecServerClient) -> Self {
        let capabilities = client.capabilities();
        Self {
            exec: capabilities.exec.then(|| EnvironmentExec {
                backend: Backend::Remote(RemoteProcess::new(client.clone())),
            }),
            file_system: capabilities
                .filesystem
                .then(|| Arc::new(RemoteFileSystem::new(client)) as Arc<dyn ExecutorFileSystem>),
            capabilities,
        }
    }

    /// Build from `CODEX_EXEC_SERVER_URL` (and `CODEX_EXEC_SERVER_TOKEN`,
    /// `CODEX_EXEC_SERVER_CA_FILE` for a remote server).
    pub async fn from_env() -> Result<Self, ExecError> {
        let url = std::env::var(EXEC_SERVER_URL_ENV_VAR).ok();
        let remote = RemoteSettings {
            auth_token: std::env::var(EXEC_SERVER_TOKEN_ENV_VAR).ok(),
            tls_ca_file: std::env::var_os(EXEC_SERVER_CA_FILE_ENV_VAR)
                .filter(|value| !value.is_empty())
                .map(std::path::PathBuf::from),
        };
        Self::from_env_value_with(url.as_deref(), remote).await
    }

    /// Build from a value of `CODEX_EXEC_SERVER_URL`, without reading the process
    /// environment (for tests and embedders).
    pub async fn from_env_value(value: Option<&str>) -> Result<Self, ExecError> {
        Self::from_env_value_with_token(value, /*auth_token*/ None).await
    }

    /// Like [`Environment::from_env_value`], with a bearer token for a remote server.
    pub async fn from_env_value_with_token(
        value: Option<&str>,
        auth_token: Option<String>,
    ) -> Result<Self, ExecError> {
        let remote = RemoteSettings {
            auth_token,
            tls_ca_file: None,
        };
        Self::from_env_value_with(value, remote).await
    }

    /// Like [`Environment::from_env_value`], with what a remote server may need.
    pub async fn from_env_value_with(
        value: Option<&str>,
        remote: RemoteSettings,
    ) -> Result<Self, ExecError> {
        match value.map(str::trim) {
            None | Some("") => Ok(Self::local(LocalProcess::default())),
            Some(none) if none.eq_ignore_ascii_case("none") => Ok(Self::disabled()),
            Some(url) if url.starts_with("ws://") || url.starts_with("wss://") => {
                let mut config = ClientConfig::new(url);
                config.auth_token = remote.auth_token.filter(|token| !token.is_empty());
                config.tls_ca_file = remote.tls_ca_file;
                Self::remote(config).await
            }
            Some(other) => Err(ExecError::InvalidEnvironment(other.to_string())),
        }
    }

    /// What this environment offers; tools that need a missing capability should not be
    /// offered at all.
    pub fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    /// Whether processes run on another machine (so local paths mean nothing there).
    pub fn is_remote(&self) -> bool {
        match &self.exec {
            Some(EnvironmentExec {
                backend: Backend::Remote(_),
            }) => true,
            Some(EnvironmentExec {
                backend: Backend::Local(_),
            })
            | None => false,
        }
    }

    /// The process backend, or [`ExecError::Disabled`].
    pub fn exec(&self) -> Result<&EnvironmentExec, ExecError> {
        self.exec.as_ref().ok_or(ExecError::Disabled)
    }

    /// The client of a remote environment: its [`ConnectionState`](crate::ConnectionState),
    /// session id, and [`ExecServerClient::new_session`] after the session was lost.
    /// `None` for a local or disabled environment.
    pub fn client(&self) -> Option<&ExecServerClient> {
        match &self.exec {
            Some(EnvironmentExec {
                backend: Backend::Remote(remote),
            }) => Some(remote.client()),
            Some(EnvironmentExec {
                backend: Backend::Local(_),
            })
            | None => None,
        }
    }

    /// The filesystem of this environment, or [`FileSystemError::Disabled`].
    pub fn file_system(&self) -> Result<Arc<dyn ExecutorFileSystem>, FileSystemError> {
        self.file_system.clone().ok_or(FileSystemError::Disabled)
    }
}

impl ExecProcess for EnvironmentExec {
    fn start(&self, params: StartParams) -> ExecFuture<'_, StartResponse> {
        self.backend().start(params)
    }

    fn start_streaming(
        &self,
        params: StartParams,
    ) -> ExecFuture<'_, (StartResponse, ProcessStream)> {
        self.backend().start_streaming(params)
    }

    fn subscribe<'a>(&'a self, process_id: &'a str) -> BoxFuture<'a, ProcessStream> {
        self.backend().subscribe(process_id)
    }

    fn read(&self, params: ReadParams) -> ExecFuture<'_, ReadResponse> {
        self.backend().read(params)
    }

    fn write(&self, params: WriteParams) -> ExecFuture<'_, WriteResponse> {
        self.backend().write(params)
    }

    fn signal(&self, params: SignalParams) -> ExecFuture<'_, SignalResponse> {
        self.backend().signal(params)
    }

    fn terminate(&self, params: TerminateParams) -> ExecFuture<'_, TerminateResponse> {
        self.backend().terminate(params)
    }

    fn resize(&self, params: ResizeParams) -> ExecFuture<'_, ResizeResponse> {
        self.backend().resize(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[tokio::test]
    async fn env_value_selects_the_backend() {
        let local = Environment::from_env_value(/*value*/ None).await.unwrap();
        assert_eq!(
            (local.capabilities(), local.is_remote()),
            (
                Capabilities {
                    exec: true,
                    filesystem: true
                },
                false
            )
        );
        let empty = Environment::from_env_value(Some("")).await.unwrap();
        assert!(empty.exec().is_ok());
        let disabled = Environment::from_env_value(Some("none")).await.unwrap();
        assert_eq!(
            disabled.capabilities(),
            Capabilities {
                exec: false,
                filesystem: false
            }
        );
        assert!(matches!(disabled.exec(), Err(ExecError::Disabled)));
        assert!(matches!(
            disabled.file_system(),
            Err(FileSystemError::Disabled)
        ));
        assert!(matches!(
            Environment::from_env_value(Some("http://x")).await,
            Err(ExecError::InvalidEnvironment(_))
        ));
    }
}
