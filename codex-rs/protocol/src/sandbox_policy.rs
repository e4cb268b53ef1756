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
//!
//! Constructors (`SandboxPolicy::read_only`, `SandboxPolicy::workspace_write`, ...) and
//! modifiers (`with_network_access`, `with_readable_roots`, `excluding_tmp`) build the
//! common policies without spelling out every field. A modifier the variant cannot honour
//! returns a [`PolicyModifierError`] instead of being ignored, for the same reason.

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

/// Constructors for the common policies, so callers need not spell out every field.
///
/// Each gives the same value as writing the variant out; the modifiers below adjust one
/// setting and keep the rest.
impl SandboxPolicy {
    /// No restrictions: every path is readable and writable, network is open.
    ///
    /// ```
    /// use codex_protocol::SandboxPolicy;
    ///
    /// assert_eq!(SandboxPolicy::danger_full_access(), SandboxPolicy::DangerFullAccess);
    /// ```
    pub fn danger_full_access() -> Self {
        SandboxPolicy::DangerFullAccess
    }

    /// Reads everywhere, writes nowhere, no network.
    ///
    /// ```
    /// use codex_protocol::ReadOnlyAccess;
    /// use codex_protocol::SandboxPolicy;
    ///
    /// assert_eq!(
    ///     SandboxPolicy::read_only(),
    ///     SandboxPolicy::ReadOnly {
    ///         access: ReadOnlyAccess::FullAccess,
    ///     }
    /// );
    /// ```
    pub fn read_only() -> Self {
        SandboxPolicy::ReadOnly {
            access: ReadOnlyAccess::FullAccess,
        }
    }

    /// Reads only under `readable_roots`, the platform defaults
    /// ([`crate::PLATFORM_DEFAULT_READ_ROOTS`]) and the policy cwd; writes nowhere; no
    /// network.
    ///
    /// ```
    /// use codex_protocol::ReadOnlyAccess;
    /// use codex_protocol::SandboxPolicy;
    /// use codex_utils_absolute_path::AbsolutePathBuf;
    ///
    /// let data = AbsolutePathBuf::try_from("/srv/data")?;
    /// assert_eq!(
    ///     SandboxPolicy::read_only_restricted([data.clone()]),
    ///     SandboxPolicy::ReadOnly {
    ///         access: ReadOnlyAccess::Restricted {
    ///             include_platform_defaults: true,
    ///             readable_roots: vec![data],
    ///         },
    ///     }
    /// );
    /// # Ok::<(), codex_utils_absolute_path::AbsolutePathError>(())
    /// ```
    pub fn read_only_restricted(readable_roots: impl IntoIterator<Item = AbsolutePathBuf>) -> Self {
        SandboxPolicy::ReadOnly {
            access: ReadOnlyAccess::restricted_with_platform_defaults(readable_roots),
        }
    }

    /// Writes under `writable_roots`, the policy cwd (when the caller binds one, see
    /// [`SandboxPolicy::writable_roots_with_cwd`]), `/tmp` (Unix) and `$TMPDIR`, with
    /// `.git`, `.codex` and `.agents` kept read-only inside each; reads everywhere; no
    /// network. Pass no roots to write only in the cwd and the temp directories.
    ///
    /// ```
    /// use codex_protocol::ReadOnlyAccess;
    /// use codex_protocol::SandboxPolicy;
    /// use codex_utils_absolute_path::AbsolutePathBuf;
    ///
    /// let cache = AbsolutePathBuf::try_from("/var/cache/build")?;
    /// assert_eq!(
    ///     SandboxPolicy::workspace_write([cache.clone()]),
    ///     SandboxPolicy::WorkspaceWrite {
    ///         writable_roots: vec![cache],
    ///         read_only_access: ReadOnlyAccess::FullAccess,
    ///         network_access: false,
    ///         exclude_tmpdir_env_var: false,
    ///         exclude_slash_tmp: false,
    ///     }
    /// );
    /// # Ok::<(), codex_utils_absolute_path::AbsolutePathError>(())
    /// ```
    pub fn workspace_write(writable_roots: impl IntoIterator<Item = AbsolutePathBuf>) -> Self {
        SandboxPolicy::WorkspaceWrite {
            writable_roots: writable_roots.into_iter().collect(),
            read_only_access: ReadOnlyAccess::FullAccess,
            network_access: false,
            exclude_tmpdir_env_var: false,
            exclude_slash_tmp: false,
        }
    }

    /// Allows or forbids network access.
    ///
    /// - `workspaceWrite`: sets `network_access`.
    /// - `externalSandbox`: sets `network_access` to [`NetworkAccess::Enabled`] or
    ///   [`NetworkAccess::Restricted`].
    /// - `readOnly` never has network: `false` returns it unchanged, `true` is
    ///   [`PolicyModifierError::ReadOnlyHasNoNetwork`].
    /// - `dangerFullAccess` always has network: `true` returns it unchanged, `false` is
    ///   [`PolicyModifierError::Unrestricted`].
    ///
    /// A request the policy cannot honour is an error rather than ignored, so the
    /// policy never grants more (or silently less) than the caller asked for.
    ///
    /// ```
    /// use codex_protocol::PolicyModifierError;
    /// use codex_protocol::SandboxPolicy;
    ///
    /// let policy = SandboxPolicy::workspace_write([]).with_network_access(/*enabled*/ true)?;
    /// assert!(policy.has_full_network_access());
    /// assert_eq!(
    ///     SandboxPolicy::read_only().with_network_access(/*enabled*/ true),
    ///     Err(PolicyModifierError::ReadOnlyHasNoNetwork)
    /// );
    /// # Ok::<(), PolicyModifierError>(())
    /// ```
    pub fn with_network_access(self, enabled: bool) -> Result<Self, PolicyModifierError> {
        match self {
            SandboxPolicy::WorkspaceWrite {
                writable_roots,
                read_only_access,
                network_access: _,
                exclude_tmpdir_env_var,
                exclude_slash_tmp,
            } => Ok(SandboxPolicy::WorkspaceWrite {
                writable_roots,
                read_only_access,
                network_access: enabled,
                exclude_tmpdir_env_var,
                exclude_slash_tmp,
            }),
            SandboxPolicy::ExternalSandbox { network_access: _ } => {
                Ok(SandboxPolicy::ExternalSandbox {
                    network_access: if enabled {
                        NetworkAccess::Enabled
                    } else {
                        NetworkAccess::Restricted
                    },
                })
            }
            SandboxPolicy::ReadOnly { .. } if enabled => {
                Err(PolicyModifierError::ReadOnlyHasNoNetwork)
            }
            SandboxPolicy::DangerFullAccess if !enabled => Err(PolicyModifierError::Unrestricted {
                modifier: "with_network_access(false)",
                policy_type: "dangerFullAccess",
            }),
            SandboxPolicy::ReadOnly { .. } | SandboxPolicy::DangerFullAccess => Ok(self),
        }
    }

    /// Restricts reads to `readable_roots`, the platform defaults
    /// ([`crate::PLATFORM_DEFAULT_READ_ROOTS`]) and the policy cwd (plus, for
    /// `workspaceWrite`, everything writable), replacing the previous read access.
    ///
    /// `readOnly` and `workspaceWrite` only; `dangerFullAccess` and `externalSandbox`
    /// do not restrict reads, so they give [`PolicyModifierError::Unrestricted`].
    ///
    /// ```
    /// use codex_protocol::ReadOnlyAccess;
    /// use codex_protocol::SandboxPolicy;
    /// use codex_utils_absolute_path::AbsolutePathBuf;
    ///
    /// let docs = AbsolutePathBuf::try_from("/usr/share/doc")?;
    /// let policy = SandboxPolicy::workspace_write([]).with_readable_roots([docs.clone()])?;
    /// assert_eq!(
    ///     policy,
    ///     SandboxPolicy::WorkspaceWrite {
    ///         writable_roots: vec![],
    ///         read_only_access: ReadOnlyAccess::Restricted {
    ///             include_platform_defaults: true,
    ///             readable_roots: vec![docs],
    ///         },
    ///         network_access: false,
    ///         exclude_tmpdir_env_var: false,
    ///         exclude_slash_tmp: false,
    ///     }
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_readable_roots(
        self,
        readable_roots: impl IntoIterator<Item = AbsolutePathBuf>,
    ) -> Result<Self, PolicyModifierError> {
        let restricted = ReadOnlyAccess::restricted_with_platform_defaults(readable_roots);
        match self {
            SandboxPolicy::ReadOnly { access: _ } => {
                Ok(SandboxPolicy::ReadOnly { access: restricted })
            }
            SandboxPolicy::WorkspaceWrite {
                writable_roots,
                read_only_access: _,
                network_access,
                exclude_tmpdir_env_var,
                exclude_slash_tmp,
            } => Ok(SandboxPolicy::WorkspaceWrite {
                writable_roots,
                read_only_access: restricted,
                network_access,
                exclude_tmpdir_env_var,
                exclude_slash_tmp,
            }),
            SandboxPolicy::DangerFullAccess | SandboxPolicy::ExternalSandbox { .. } => {
                Err(PolicyModifierError::Unrestricted {
                    modifier: "with_readable_roots",
                    policy_type: self.type_name(),
                })
            }
        }
    }

    /// Keeps `/tmp` and `$TMPDIR` out of the writable roots (sets both
    /// `exclude_slash_tmp` and `exclude_tmpdir_env_var`).
    ///
    /// `workspaceWrite` only; `readOnly` writes nowhere and is returned unchanged;
    /// `dangerFullAccess` and `externalSandbox` do not restrict writes, so they give
    /// [`PolicyModifierError::Unrestricted`].
    ///
    /// ```
    /// use codex_protocol::PolicyModifierError;
    /// use codex_protocol::ReadOnlyAccess;
    /// use codex_protocol::SandboxPolicy;
    ///
    /// assert_eq!(
    ///     SandboxPolicy::workspace_write([]).excluding_tmp()?,
    ///     SandboxPolicy::WorkspaceWrite {
    ///         writable_roots: vec![],
    ///         read_only_access: ReadOnlyAccess::FullAccess,
    ///         network_access: false,
    ///         exclude_tmpdir_env_var: true,
    ///         exclude_slash_tmp: true,
    ///     }
    /// );
    /// # Ok::<(), PolicyModifierError>(())
    /// ```
    pub fn excluding_tmp(self) -> Result<Self, PolicyModifierError> {
        match self {
            SandboxPolicy::WorkspaceWrite {
                writable_roots,
                read_only_access,
                network_access,
                exclude_tmpdir_env_var: _,
                exclude_slash_tmp: _,
            } => Ok(SandboxPolicy::WorkspaceWrite {
                writable_roots,
                read_only_access,
                network_access,
                exclude_tmpdir_env_var: true,
                exclude_slash_tmp: true,
            }),
            SandboxPolicy::ReadOnly { .. } => Ok(self),
            SandboxPolicy::DangerFullAccess | SandboxPolicy::ExternalSandbox { .. } => {
                Err(PolicyModifierError::Unrestricted {
                    modifier: "excluding_tmp",
                    policy_type: self.type_name(),
                })
            }
        }
    }

    /// The wire `type` of this policy, for messages.
    fn type_name(&self) -> &'static str {
        match self {
            SandboxPolicy::DangerFullAccess => "dangerFullAccess",
            SandboxPolicy::ReadOnly { .. } => "readOnly",
            SandboxPolicy::WorkspaceWrite { .. } => "workspaceWrite",
            SandboxPolicy::ExternalSandbox { .. } => "externalSandbox",
        }
    }
}

impl ReadOnlyAccess {
    /// `Restricted` to `readable_roots` plus the platform defaults.
    fn restricted_with_platform_defaults(
        readable_roots: impl IntoIterator<Item = AbsolutePathBuf>,
    ) -> Self {
        ReadOnlyAccess::Restricted {
            include_platform_defaults: true,
            readable_roots: readable_roots.into_iter().collect(),
        }
    }
}

/// A [`SandboxPolicy`] modifier asked for something the policy's variant cannot
/// express.
///
/// Ignoring such a request would leave the policy granting either less than the caller
/// asked (network on `readOnly`) or, worse, more (no network, restricted reads or no
/// temp directories on `dangerFullAccess`), so the modifier refuses instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyModifierError {
    /// `with_network_access(true)` on a `readOnly` policy, which never has network.
    #[error(
        "`with_network_access(true)` cannot apply to a `readOnly` policy: read-only \
         policies never have network access; use `SandboxPolicy::workspace_write` if the \
         command needs the network"
    )]
    ReadOnlyHasNoNetwork,
    /// A restriction asked of a policy that leaves that resource unrestricted
    /// (`dangerFullAccess`, or `externalSandbox` for the filesystem).
    #[error(
        "`{modifier}` cannot apply to a `{policy_type}` policy, which does not restrict \
         it; start from `SandboxPolicy::read_only` or `SandboxPolicy::workspace_write`"
    )]
    Unrestricted {
        /// The modifier that was refused, e.g. `excluding_tmp`.
        modifier: &'static str,
        /// The wire `type` of the policy it was applied to, e.g. `dangerFullAccess`.
        policy_type: &'static str,
    },
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
