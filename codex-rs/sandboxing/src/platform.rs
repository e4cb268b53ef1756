//! Which sandbox backend confines a command, decided from the policy and the platform.
//!
//! This is the platform-neutral front: callers ask it first and then call the backend
//! it names (this crate's Seatbelt generator, or the `codex-linux-sandbox` crate for
//! bubblewrap). It deliberately knows nothing about how a backend builds its argv, so
//! neither backend crate has to depend on the other.
//!
//! It fails closed: a policy that restricts anything on a platform without a backend
//! (Windows, the BSDs) is an error, never an unsandboxed run.

use std::fmt;

use codex_protocol::SandboxPolicy;

use crate::SandboxingError;

/// An operating system, as far as sandboxing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// macOS: Seatbelt (`sandbox-exec`).
    Macos,
    /// Linux: bubblewrap plus seccomp, through `codex-linux-sandbox`.
    Linux,
    /// Windows: no backend yet.
    Windows,
    /// Any other OS: no backend.
    Other,
}

/// The sandbox a command runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxType {
    /// No sandbox: the policy restricts nothing (`dangerFullAccess`), or an external
    /// sandbox already confines the process (`externalSandbox`).
    None,
    /// `sandbox-exec` with a profile from [`crate::seatbelt_policy`].
    MacosSeatbelt,
    /// bubblewrap and seccomp, set up by the `codex-linux-sandbox` crate.
    LinuxBubblewrap,
}

impl Platform {
    /// The platform this crate was compiled for.
    pub fn current() -> Self {
        if cfg!(target_os = "macos") {
            Platform::Macos
        } else if cfg!(target_os = "linux") {
            Platform::Linux
        } else if cfg!(target_os = "windows") {
            Platform::Windows
        } else {
            Platform::Other
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Platform::Macos => "macOS",
            Platform::Linux => "Linux",
            Platform::Windows => "Windows",
            Platform::Other => "this platform",
        })
    }
}

/// The sandbox that enforces `policy` on `platform`.
///
/// `dangerFullAccess` and `externalSandbox` need none anywhere (see
/// [`crate::NoSandboxReason`] for why `externalSandbox` is not layered on). `readOnly`
/// and `workspaceWrite` get the platform's backend, or
/// [`SandboxingError::UnsupportedPlatform`] where there is none.
pub fn sandbox_type(
    policy: &SandboxPolicy,
    platform: Platform,
) -> Result<SandboxType, SandboxingError> {
    let policy_type = match policy {
        SandboxPolicy::DangerFullAccess | SandboxPolicy::ExternalSandbox { .. } => {
            return Ok(SandboxType::None);
        }
        SandboxPolicy::ReadOnly { .. } => "readOnly",
        SandboxPolicy::WorkspaceWrite { .. } => "workspaceWrite",
    };
    match platform {
        Platform::Macos => Ok(SandboxType::MacosSeatbelt),
        Platform::Linux => Ok(SandboxType::LinuxBubblewrap),
        Platform::Windows | Platform::Other => Err(SandboxingError::UnsupportedPlatform {
            platform,
            policy_type,
        }),
    }
}

/// [`sandbox_type`] for the platform this crate was compiled for.
pub fn sandbox_type_for_platform(policy: &SandboxPolicy) -> Result<SandboxType, SandboxingError> {
    sandbox_type(policy, Platform::current())
}

#[cfg(test)]
#[path = "platform_tests.rs"]
mod tests;
