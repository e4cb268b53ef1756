//! The in-process half of the sandbox: `PR_SET_NO_NEW_PRIVS` and the seccomp network
//! filter, installed right before the command is executed.
//!
//! Why seccomp on top of bubblewrap's `--unshare-net`: the private network namespace
//! already has no route out, but some socket families are not confined by network
//! namespaces at all (`AF_VSOCK` reaches the hypervisor, `AF_NETLINK` talks to the
//! kernel). Refusing every non-Unix socket closes those, and it is the only network
//! restriction we can apply under `externalSandbox`, where we create no namespaces.
//! Unix sockets stay allowed: build tools and language servers use them locally, and a
//! Unix socket reaches only what the filesystem view already exposes.
//!
//! Under `externalSandbox` the command also shares the host's PID namespace and user
//! with whoever started it (the exec-server, which may run as root): without more
//! rules it could take the server's listening socket or a client's connection with
//! `pidfd_getfd`, or read and write the server's memory, and so reach the network
//! through it. The [`FilterKind::Host`] variant refuses those calls too.
//!
//! The filter is installed right before the command is executed, never earlier in
//! bubblewrap (which needs a netlink socket to bring up the loopback of the private
//! network namespace), and is inherited by every child and kept across `execve`.

use std::collections::BTreeMap;

use seccompiler::BpfProgram;
use seccompiler::SeccompAction;
use seccompiler::SeccompCmpArgLen;
use seccompiler::SeccompCmpOp;
use seccompiler::SeccompCondition;
use seccompiler::SeccompFilter;
use seccompiler::SeccompRule;
use seccompiler::TargetArch;

use crate::LinuxSandboxError;

/// The bit that marks an x32 system call on x86_64 (`__X32_SYSCALL_BIT`).
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: i64 = 0x4000_0000;

/// Calls that reach into another process or around file permissions, refused by the
/// [`FilterKind::Host`] variant:
///
/// - `pidfd_open` + `pidfd_getfd`: take a copy of any descriptor of another process of
///   the same user (the server's listening socket, a client's connection);
/// - `ptrace`, `process_vm_readv`, `process_vm_writev`: read or write its memory;
/// - `kcmp`: compare its descriptors with ours (learn what it holds);
/// - `open_by_handle_at`: open a file by handle, bypassing path permission checks (it
///   needs `CAP_DAC_READ_SEARCH`, which a command of a root server has).
const HOST_DENIED_SYSCALLS: [i64; 7] = [
    libc::SYS_pidfd_open,
    libc::SYS_pidfd_getfd,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_kcmp,
    libc::SYS_open_by_handle_at,
];

/// The calls that set a file's mode, with the index of their mode argument: inside
/// bubblewrap a mode with the setuid or setgid bit is refused (`EPERM`).
const MODE_SETTING_SYSCALLS: &[(i64, u8)] = &[
    (libc::SYS_fchmod, 1),
    (libc::SYS_fchmodat, 2),
    (libc::SYS_fchmodat2, 2),
    (libc::SYS_openat, 3),
    (libc::SYS_mknodat, 2),
    #[cfg(target_arch = "x86_64")]
    (libc::SYS_chmod, 1),
    #[cfg(target_arch = "x86_64")]
    (libc::SYS_open, 2),
    #[cfg(target_arch = "x86_64")]
    (libc::SYS_creat, 1),
    #[cfg(target_arch = "x86_64")]
    (libc::SYS_mknod, 1),
];

/// The kernel keyring calls, refused inside bubblewrap: a user namespace keeps the caller's
/// session keyring, so the command could read the keys of the server's session (root's
/// user keyring, for a root server: Kerberos tickets, cached disk passwords), add keys to
/// it, use up its quota, and trigger `request-key` upcalls that run as root on the host.
const KEYRING_SYSCALLS: [i64; 3] = [libc::SYS_keyctl, libc::SYS_add_key, libc::SYS_request_key];

/// The io_uring calls, refused by every variant: io_uring can create and connect sockets
/// without the `socket` syscall.
const IO_URING_SYSCALLS: [i64; 3] = [
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
];

/// Every number under which the native call `native` can be made through the filter's
/// architecture check: itself and, on x86_64, its x32 numbers. x32 calls report
/// `AUDIT_ARCH_X86_64` like native ones, so without these a kernel with x32 enabled would
/// let a call through under another number. Most calls have the same number in both ABIs
/// (plus `__X32_SYSCALL_BIT`); those with compat arguments have an x32-only one
/// ([`x32_number`]).
fn syscall_numbers(native: i64) -> Vec<i64> {
    #[cfg(target_arch = "x86_64")]
    {
        let mut numbers = vec![native, X32_SYSCALL_BIT | native];
        if let Some(x32) = x32_number(native) {
            numbers.push(X32_SYSCALL_BIT | x32);
        }
        numbers
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        vec![native]
    }
}

/// The x32 number (without `__X32_SYSCALL_BIT`) of a call this filter refuses whose x32
/// entry differs from the 64-bit one (the `x32` rows of the kernel's
/// `arch/x86/entry/syscalls/syscall_64.tbl`); `None` for the calls both ABIs share.
#[cfg(target_arch = "x86_64")]
fn x32_number(native: i64) -> Option<i64> {
    match native {
        libc::SYS_ptrace => Some(521),
        libc::SYS_process_vm_readv => Some(539),
        libc::SYS_process_vm_writev => Some(540),
        _ => None,
    }
}

/// Which rules a [`NetworkFilter`] holds, by where the command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterKind {
    /// A command inside bubblewrap's namespaces (`readOnly`, `workspaceWrite`): no new
    /// user namespace (`unshare`/`clone` with `CLONE_NEWUSER` fail with `EPERM`, `clone3`,
    /// whose flags a filter cannot read, with `ENOSYS`, so the C library falls back to
    /// `clone`), and the network rules when `deny_network`. A user namespace of its own
    /// would give the command every capability inside it; this is what bubblewrap's
    /// `--disable-userns` achieves too, at a fifth of a sandbox's start-up time. It has a
    /// PID namespace of its own, so `ptrace` and the pidfd calls only reach processes of
    /// its own sandbox (a debugger there is legitimate), and no capability.
    InBubblewrap {
        /// Whether to refuse non-Unix sockets and io_uring.
        deny_network: bool,
    },
    /// A command on the host (`externalSandbox` without network), in the PID namespace
    /// and as the user of the process that started it: the network rules, plus
    /// refusing the calls that reach into another process or around file permissions
    /// (`pidfd_open`, `pidfd_getfd`, `ptrace`, `process_vm_readv`, `process_vm_writev`,
    /// `kcmp`, `open_by_handle_at`).
    Host,
}

/// Sets `PR_SET_NO_NEW_PRIVS` on the calling process: neither it nor its children can
/// gain privileges through setuid binaries or file capabilities. Required before an
/// unprivileged process may install a seccomp filter.
pub(crate) fn set_no_new_privs() -> Result<(), LinuxSandboxError> {
    // SAFETY: prctl with PR_SET_NO_NEW_PRIVS takes plain integers and touches no memory.
    let result = unsafe {
        libc::prctl(
            libc::PR_SET_NO_NEW_PRIVS,
            /*arg2*/ 1,
            /*arg3*/ 0,
            /*arg4*/ 0,
            /*arg5*/ 0,
        )
    };
    if result == 0 {
        Ok(())
    } else {
        Err(LinuxSandboxError::NoNewPrivs {
            source: std::io::Error::last_os_error(),
        })
    }
}

/// The compiled filter (one or two programs): under it
///
/// - `socket(2)` and `socketpair(2)` fail with `EPERM` for every domain but `AF_UNIX`
///   (network denied: [`FilterKind::Host`], or `InBubblewrap { deny_network: true }`);
/// - `io_uring_setup`, `io_uring_enter` and `io_uring_register` fail with `EPERM`,
///   because io_uring can create and connect sockets without the `socket` syscall (same);
/// - with [`FilterKind::InBubblewrap`], `unshare` and `clone` with `CLONE_NEWUSER` fail
///   with `EPERM`, and `clone3` with `ENOSYS`;
/// - with [`FilterKind::Host`], also `pidfd_open`, `pidfd_getfd`, `ptrace`,
///   `process_vm_readv`, `process_vm_writev`, `kcmp` and `open_by_handle_at` fail with
///   `EPERM`.
///
/// System calls of another architecture than the one this binary was built for (i386
/// calls on x86_64) kill the process, and the x32 numbers of the calls above are
/// filtered too, so neither goes around the rules.
///
/// It is installed one of three ways: by the seccomp stage of `codex-linux-sandbox` on
/// itself (`install_network_seccomp_filter`), by bubblewrap right before it executes
/// the command (`bwrap --add-seccomp-fd FD` per program, fed
/// [`NetworkFilter::to_bwrap_bytes`]), or by a host between `fork` and `exec`
/// ([`NetworkFilter::apply_in_child`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkFilter {
    programs: Vec<BpfProgram>,
}

impl NetworkFilter {
    /// Compiles the `kind` of filter for the architecture this binary was built for.
    pub fn compile(kind: FilterKind) -> Result<Self, LinuxSandboxError> {
        let err = |message: String| LinuxSandboxError::Seccomp { message };
        let arch = TargetArch::try_from(std::env::consts::ARCH)
            .map_err(|e| err(format!("unsupported architecture: {e}")))?;
        let (deny_network, in_bubblewrap) = match kind {
            FilterKind::InBubblewrap { deny_network } => (deny_network, true),
            FilterKind::Host => (true, false),
        };
        let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
        if deny_network {
            let non_unix_domain = first_argument(SeccompCmpOp::Ne, libc::AF_UNIX as u64)?;
            for socket_call in [libc::SYS_socket, libc::SYS_socketpair] {
                for number in syscall_numbers(socket_call) {
                    rules.insert(number, vec![non_unix_domain.clone()]);
                }
            }
            for &call in &IO_URING_SYSCALLS {
                for number in syscall_numbers(call) {
                    // An empty rule list matches every call of that syscall.
                    rules.insert(number, Vec::new());
                }
            }
        }
        let mut programs = Vec::new();
        if in_bubblewrap {
            // `flags` is the first argument of both (an `int` for `unshare`, an
            // `unsigned long` for `clone`; `CLONE_NEWUSER` lies in the low 32 bits).
            let new_user_namespace = first_argument(
                SeccompCmpOp::MaskedEq(libc::CLONE_NEWUSER as u64),
                libc::CLONE_NEWUSER as u64,
            )?;
            for call in [libc::SYS_unshare, libc::SYS_clone] {
                for number in syscall_numbers(call) {
                    rules.insert(number, vec![new_user_namespace.clone()]);
                }
            }
            // No setuid or setgid file: the command's files belong to the caller on the
            // host (root, for a root server), so one it marked setuid in a writable root
            // would make anyone who runs it there that user.
            for &(call, mode_argument) in MODE_SETTING_SYSCALLS {
                let special = [libc::S_ISUID, libc::S_ISGID]
                    .into_iter()
                    .map(|bit| {
                        argument(
                            mode_argument,
                            SeccompCmpOp::MaskedEq(u64::from(bit)),
                            u64::from(bit),
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                for number in syscall_numbers(call) {
                    rules.insert(number, special.clone());
                }
            }
            for &call in &KEYRING_SYSCALLS {
                for number in syscall_numbers(call) {
                    rules.insert(number, Vec::new());
                }
            }
            // Calls whose flags or mode a filter cannot read (they are behind a pointer):
            // `ENOSYS`, so the C library falls back to the calls above.
            let mut unreadable = BTreeMap::new();
            for call in [libc::SYS_clone3, libc::SYS_openat2] {
                for number in syscall_numbers(call) {
                    unreadable.insert(number, Vec::new());
                }
            }
            programs.push(program(unreadable, libc::ENOSYS, arch)?);
        } else {
            for &call in &HOST_DENIED_SYSCALLS {
                for number in syscall_numbers(call) {
                    rules.insert(number, Vec::new());
                }
            }
        }
        programs.insert(/*index*/ 0, program(rules, libc::EPERM, arch)?);
        Ok(Self { programs })
    }

    /// Each program as bubblewrap's `--add-seccomp-fd FD` reads it: the raw `struct
    /// sock_filter` array in native byte order.
    pub fn to_bwrap_bytes(&self) -> Vec<Vec<u8>> {
        self.programs
            .iter()
            .map(|program| {
                let mut bytes = Vec::with_capacity(program.len() * 8);
                for instruction in program {
                    bytes.extend_from_slice(&instruction.code.to_ne_bytes());
                    bytes.push(instruction.jt);
                    bytes.push(instruction.jf);
                    bytes.extend_from_slice(&instruction.k.to_ne_bytes());
                }
                bytes
            })
            .collect()
    }

    /// Sets `PR_SET_NO_NEW_PRIVS` and installs the filter on the calling thread.
    /// Allocates nothing and makes only `prctl` and `seccomp` calls, so it may run in a
    /// forked child before `exec` (`CommandExt::pre_exec`), where the child has one
    /// thread and the filter is kept across `execve`.
    pub fn apply_in_child(&self) -> std::io::Result<()> {
        for program in &self.programs {
            match seccompiler::apply_filter(program) {
                Ok(()) => {}
                Err(seccompiler::Error::Prctl(err) | seccompiler::Error::Seccomp(err)) => {
                    return Err(err);
                }
                Err(_) => return Err(std::io::Error::from_raw_os_error(libc::EINVAL)),
            }
        }
        Ok(())
    }
}

/// Installs the `kind` of [`NetworkFilter`] on every thread of the calling process. Call
/// [`set_no_new_privs`] first.
pub(crate) fn install_network_seccomp_filter(kind: FilterKind) -> Result<(), LinuxSandboxError> {
    let filter = NetworkFilter::compile(kind)?;
    for program in &filter.programs {
        seccompiler::apply_filter_all_threads(program).map_err(|e| LinuxSandboxError::Seccomp {
            message: e.to_string(),
        })?;
    }
    Ok(())
}

/// A rule matching calls whose first argument (its low 32 bits) compares to `value` by `op`.
fn first_argument(op: SeccompCmpOp, value: u64) -> Result<SeccompRule, LinuxSandboxError> {
    argument(/*index*/ 0, op, value)
}

/// A rule matching calls whose argument `index` (its low 32 bits) compares to `value` by
/// `op`.
fn argument(index: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompRule, LinuxSandboxError> {
    let err = |e: seccompiler::BackendError| LinuxSandboxError::Seccomp {
        message: e.to_string(),
    };
    let condition =
        SeccompCondition::new(index, SeccompCmpArgLen::Dword, op, value).map_err(err)?;
    SeccompRule::new(vec![condition]).map_err(err)
}

/// One program: `rules` answered with `errno`, everything else allowed, and calls of
/// another architecture killed.
fn program(
    rules: BTreeMap<i64, Vec<SeccompRule>>,
    errno: i32,
    arch: TargetArch,
) -> Result<BpfProgram, LinuxSandboxError> {
    let err = |message: String| LinuxSandboxError::Seccomp { message };
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno as u32),
        arch,
    )
    .map_err(|e| err(e.to_string()))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| err(e.to_string()))
}

#[cfg(test)]
#[path = "seccomp_tests.rs"]
mod tests;
