//! Run one command under bubblewrap and a seccomp network filter, as a
//! [`codex_protocol::SandboxPolicy`] says.
//!
//! Two ways in, sharing everything but the process layout:
//!
//! - **the `codex-linux-sandbox` binary** (also any binary that calls
//!   [`arg0_dispatch`] and is started under that name): sets everything up, runs
//!   bubblewrap, which runs this executable again as the seccomp stage, which executes
//!   the command. A standalone tool: it retries without `/proc` by itself and keeps
//!   bubblewrap's messages apart from the command's output;
//! - **a host that spawns bubblewrap itself** ([`BwrapLaunch`], used by the
//!   exec-server): bubblewrap executes the command directly and installs the seccomp
//!   filter itself (`--add-seccomp-fd`), so no extra process sits between the host and the
//!   command and none of this crate's code runs in the sandbox. A host that opts in
//!   ([`enable_mount_launcher`]) runs `codex-sandbox-launcher` ([`run_mount_launcher`])
//!   in bubblewrap's place where it is usable: the same sandbox from the same options,
//!   built with the kernel's descriptor-based mount calls in less than half the time.
//!
//! The sandbox never depends on the server that asks for it (the server uses the
//! sandbox, never the reverse).
//!
//! What is enforced and how:
//!
//! - **filesystem** — bubblewrap mounts: readable roots read-only, writable roots
//!   read-write, `.git` / `.codex` / `.agents` / gitdir targets inside writable roots
//!   read-only again (and impossible to create when absent) — [`build_bwrap_argv`];
//! - **network off** — a private network namespace (`--unshare-net`) plus a seccomp
//!   filter refusing every non-`AF_UNIX` socket — [`NetworkFilter`]; on the host
//!   (`externalSandbox`), the filter also refuses the calls that reach into other
//!   processes ([`FilterKind::Host`]);
//! - **privileges** — a user namespace of its own with no capabilities (root is mapped
//!   to `nobody`), nested user namespaces disabled, no new privileges — also when the
//!   caller is root;
//! - **processes** — a PID namespace, a new session, and death with the parent;
//! - **resources** — optional `setrlimit` limits ([`ResourceLimits`]): data memory, file
//!   size, descriptors, and processes (per user, not for root; see the README);
//! - **the launcher** — bubblewrap trusted once ([`TrustedBwrap`]), run with an empty
//!   environment, its arguments (the command's environment among them) passed in a
//!   sealed memory file.
//!
//! The policy's meaning (which roots, which protected paths) comes from
//! `codex-protocol`; this crate only turns it into mounts and filters.
#![deny(missing_docs)]

mod bwrap_argv;
mod bwrap_exe;
mod cli;
mod error;
mod host;
mod launch_plan;
mod launcher;
mod launcher_build;
mod limits;
mod mount_api;
mod mount_launcher;
mod mount_launcher_exec;
mod mount_launcher_root;
mod netns_pool;
mod pin;
mod placeholder;
mod private_mounts;
mod seccomp;
mod trampoline;

/// The exit status that says the sandbox could not be set up, so the command never ran
/// (as `env`, `timeout` and container runtimes use it): `codex-linux-sandbox` exits with
/// it, and a host that runs bubblewrap itself reports it for a
/// [`BwrapEnd::SetupFailed`] run.
pub const SETUP_FAILED_EXIT_CODE: i32 = 125;

pub use bwrap_argv::ARG0_DIR;
pub use bwrap_argv::BwrapArgv;
pub use bwrap_argv::BwrapOptions;
pub use bwrap_argv::ProcMount;
pub use bwrap_argv::SandboxPlan;
pub use bwrap_argv::build_bwrap_argv;
pub use bwrap_exe::TrustedBwrap;
pub use cli::arg0_dispatch;
pub use cli::run_main;
pub use error::LinuxSandboxError;
pub use host::BwrapChildSetup;
pub use host::BwrapEnd;
pub use host::BwrapLaunch;
pub use host::BwrapRun;
pub use host::find_program;
pub use launcher::check_inherit_only;
pub use launcher::find_bwrap;
pub use launcher::inherit_only;
pub use launcher::probe_proc_mount;
pub use launcher_build::launcher_build as mount_launcher_build;
pub use limits::MAX_FILE_SIZE_BYTES;
pub use limits::MAX_MEMORY_BYTES;
pub use limits::MAX_OPEN_FILES;
pub use limits::MAX_PROCESSES_LIMIT;
pub use limits::MIN_MEMORY_BYTES;
pub use limits::MIN_OPEN_FILES;
pub use limits::ResourceLimits;
pub use limits::default_memory_bytes;
pub use mount_launcher::MOUNT_LAUNCHER_NAME;
pub use mount_launcher::enable_mount_launcher;
pub use mount_launcher::run_mount_launcher;
pub use placeholder::PlaceholderLease;
pub use private_mounts::PrivateMounts;
pub use seccomp::FilterKind;
pub use seccomp::NetworkFilter;
