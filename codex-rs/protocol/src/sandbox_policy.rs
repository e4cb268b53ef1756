//! The sandbox policy as it travels on the wire (`sandboxPolicy` in `process/start` and
//! every `fs/*` request).
//!
//! The JSON shape is the contract in `docs/exec-server-protocol.md` ("Sandbox policy
//! (JSON)"): objects tagged by `type`, camelCase variant and field names. Two choices make
//! the policy fail closed rather than quietly grant more than the caller meant:
//!
//! - **Unknown fields are refused** (`deny_unknown_fields` on every type that is
//!   parsed): an unknown field may be a restriction a newer client relies on, so
//!   ignoring it would widen access.
//! - **Every field is required**: the protocol lists no defaults, and a default chosen
//!   here (say `networkAccess: false` vs `true`) would be a policy decision the sender
//!   did not make. A missing field is an error that names it (serde's
//!   ``missing field `networkAccess` ``).
//!
//! Paths are [`AbsolutePathBuf`], so a relative path is refused while parsing and `..` is
//! normalised lexically before any containment check sees it.

use codex_utils_absolute_path::AbsolutePathBuf;
use serde::Deserialize;
use serde::Serialize;

/// What a sandboxed command or filesystem request may do.
///
/// Serialised as `{"type": "dangerFullAccess"}`, `{"type": "readOnly", ...}`,
/// `{"type": "workspaceWrite", ...}` or `{"type": "externalSandbox", ...}`.
// Parsing goes through `wire::SandboxPolicy`, which refuses unknown fields (see there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    from = "wire::SandboxPolicy"
)]
pub enum SandboxPolicy {
    /// No restrictions at all: every path is readable and writable, network is open.
    DangerFullAccess,
    /// Nothing is writable; reads are governed by `access`. No network.
    ReadOnly {
        /// Which paths may be read.
        access: ReadOnlyAccess,
    },
    /// Writes are allowed under the effective writable roots (see
    /// [`SandboxPolicy::writable_roots_with_cwd`]); reads are governed by
    /// `read_only_access`, plus everything writable.
    WorkspaceWrite {
        /// Extra writable roots besides the cwd and the temp directories.
        writable_roots: Vec<AbsolutePathBuf>,
        /// Which paths outside the writable roots may be read.
        read_only_access: ReadOnlyAccess,
        /// Whether outbound network access is allowed.
        network_access: bool,
        /// Leave `$TMPDIR` out of the writable roots.
        exclude_tmpdir_env_var: bool,
        /// Leave `/tmp` out of the writable roots.
        exclude_slash_tmp: bool,
    },
    /// The caller already runs inside a sandbox of its own (a container, a VM); we do not
    /// restrict the filesystem further, only report the network setting.
    ExternalSandbox {
        /// Whether the external sandbox lets the command reach the network.
        network_access: NetworkAccess,
    },
}

/// Which paths may be read when the policy does not grant full disk access.
///
/// Serialised as `{"type": "fullAccess"}` or
/// `{"type": "restricted", "includePlatformDefaults": bool, "readableRoots": [...]}`.
// Parsing goes through `wire::ReadOnlyAccess`, which refuses unknown fields (see there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    from = "wire::ReadOnlyAccess"
)]
pub enum ReadOnlyAccess {
    /// Reads only under `readable_roots` (and, if asked, the platform defaults).
    Restricted {
        /// Also allow the read-only system locations a process needs to run (see
        /// [`crate::PLATFORM_DEFAULT_READ_ROOTS`]) and the cwd.
        include_platform_defaults: bool,
        /// Directories (or files) whose contents may be read.
        readable_roots: Vec<AbsolutePathBuf>,
    },
    /// Every path may be read.
    FullAccess,
}

/// Network access as reported by an external sandbox: `"restricted"` or `"enabled"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NetworkAccess {
    /// No (or only filtered) network access.
    Restricted,
    /// Full network access.
    Enabled,
}

impl SandboxPolicy {
    /// Whether commands may use the network without restriction.
    pub fn has_full_network_access(&self) -> bool {
        match self {
            SandboxPolicy::DangerFullAccess => true,
            SandboxPolicy::ReadOnly { .. } => false,
            SandboxPolicy::WorkspaceWrite { network_access, .. } => *network_access,
            SandboxPolicy::ExternalSandbox { network_access } => match network_access {
                NetworkAccess::Restricted => false,
                NetworkAccess::Enabled => true,
            },
        }
    }

    /// Whether every path may be read.
    pub fn has_full_disk_read_access(&self) -> bool {
        match self {
            SandboxPolicy::DangerFullAccess | SandboxPolicy::ExternalSandbox { .. } => true,
            SandboxPolicy::ReadOnly { access } => access.is_full_access(),
            SandboxPolicy::WorkspaceWrite {
                read_only_access, ..
            } => read_only_access.is_full_access(),
        }
    }

    /// Whether every path may be written.
    pub fn has_full_disk_write_access(&self) -> bool {
        match self {
            SandboxPolicy::DangerFullAccess | SandboxPolicy::ExternalSandbox { .. } => true,
            SandboxPolicy::ReadOnly { .. } | SandboxPolicy::WorkspaceWrite { .. } => false,
        }
    }
}

impl ReadOnlyAccess {
    /// Whether this grants reads everywhere.
    pub fn is_full_access(&self) -> bool {
        match self {
            ReadOnlyAccess::Restricted { .. } => false,
            ReadOnlyAccess::FullAccess => true,
        }
    }
}

/// What the JSON is parsed into before it becomes the public types.
///
/// Serde ignores extra fields next to the tag of an internally tagged *unit* variant even
/// with `deny_unknown_fields`, so `{"type": "dangerFullAccess", "x": 1}` would parse. Here
/// the unit variants are empty struct variants, which do refuse unknown fields; the rest
/// mirrors the public types field for field, so their messages are the same.
mod wire {
    use codex_utils_absolute_path::AbsolutePathBuf;
    use serde::Deserialize;

    use super::NetworkAccess;

    #[derive(Deserialize)]
    #[serde(
        tag = "type",
        rename_all = "camelCase",
        rename_all_fields = "camelCase",
        deny_unknown_fields
    )]
    pub(super) enum SandboxPolicy {
        DangerFullAccess {},
        ReadOnly {
            access: super::ReadOnlyAccess,
        },
        WorkspaceWrite {
            writable_roots: Vec<AbsolutePathBuf>,
            read_only_access: super::ReadOnlyAccess,
            network_access: bool,
            exclude_tmpdir_env_var: bool,
            exclude_slash_tmp: bool,
        },
        ExternalSandbox {
            network_access: NetworkAccess,
        },
    }

    #[derive(Deserialize)]
    #[serde(
        tag = "type",
        rename_all = "camelCase",
        rename_all_fields = "camelCase",
        deny_unknown_fields
    )]
    pub(super) enum ReadOnlyAccess {
        Restricted {
            include_platform_defaults: bool,
            readable_roots: Vec<AbsolutePathBuf>,
        },
        FullAccess {},
    }

    impl From<SandboxPolicy> for super::SandboxPolicy {
        fn from(value: SandboxPolicy) -> Self {
            match value {
                SandboxPolicy::DangerFullAccess {} => Self::DangerFullAccess,
                SandboxPolicy::ReadOnly { access } => Self::ReadOnly { access },
                SandboxPolicy::WorkspaceWrite {
                    writable_roots,
                    read_only_access,
                    network_access,
                    exclude_tmpdir_env_var,
                    exclude_slash_tmp,
                } => Self::WorkspaceWrite {
                    writable_roots,
                    read_only_access,
                    network_access,
                    exclude_tmpdir_env_var,
                    exclude_slash_tmp,
                },
                SandboxPolicy::ExternalSandbox { network_access } => {
                    Self::ExternalSandbox { network_access }
                }
            }
        }
    }

    impl From<ReadOnlyAccess> for super::ReadOnlyAccess {
        fn from(value: ReadOnlyAccess) -> Self {
            match value {
                ReadOnlyAccess::Restricted {
                    include_platform_defaults,
                    readable_roots,
                } => Self::Restricted {
                    include_platform_defaults,
                    readable_roots,
                },
                ReadOnlyAccess::FullAccess {} => Self::FullAccess,
            }
        }
    }
}
