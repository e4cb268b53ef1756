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

/// The syscall-number variants to filter: the native ones and, on x86_64, the x32 ABI
/// ones (`__X32_SYSCALL_BIT` set). x32 calls pass the architecture check of the filter
/// (they report `AUDIT_ARCH_X86_64`), so without these a kernel with x32 enabled would
/// let `socket` through under another number.
#[cfg(target_arch = "x86_64")]
const SYSCALL_ABI_BITS: [i64; 2] = [0, 0x4000_0000];
/// The syscall-number variants to filter: only the native ones on this architecture.
#[cfg(not(target_arch = "x86_64"))]
const SYSCALL_ABI_BITS: [i64; 1] = [0];

/// Sets `PR_SET_NO_NEW_PRIVS` on the calling process: neither it nor its children can
/// gain privileges through setuid binaries or file capabilities. Required before an
/// unprivileged process may install a seccomp filter.
pub fn set_no_new_privs() -> Result<(), LinuxSandboxError> {
    // SAFETY: prctl with PR_SET_NO_NEW_PRIVS takes plain integers and touches no memory.
    let result = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if result == 0 {
        Ok(())
    } else {
        Err(LinuxSandboxError::NoNewPrivs {
            source: std::io::Error::last_os_error(),
        })
    }
}

/// The compiled network filter: under it
///
/// - `socket(2)` and `socketpair(2)` fail with `EPERM` for every domain but `AF_UNIX`;
/// - `io_uring_setup`, `io_uring_enter` and `io_uring_register` fail with `EPERM`,
///   because io_uring can create and connect sockets without the `socket` syscall.
///
/// System calls of another architecture than the one this binary was built for (i386
/// calls on x86_64) kill the process, and the x32 numbers of the calls above are
/// filtered too, so neither goes around the rules.
///
/// It is installed one of three ways: by the seccomp stage of `codex-linux-sandbox` on
/// itself ([`install_network_seccomp_filter`]), by bubblewrap right before it executes
/// the command (`bwrap --seccomp FD`, fed [`NetworkFilter::to_bwrap_bytes`]), or by a
/// host between `fork` and `exec` ([`NetworkFilter::apply_in_child`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkFilter {
    program: BpfProgram,
}

impl NetworkFilter {
    /// Compiles the filter for the architecture this binary was built for.
    pub fn compile() -> Result<Self, LinuxSandboxError> {
        let err = |message: String| LinuxSandboxError::Seccomp { message };
        let arch = TargetArch::try_from(std::env::consts::ARCH)
            .map_err(|e| err(format!("unsupported architecture: {e}")))?;
        let non_unix_domain = SeccompRule::new(vec![
            SeccompCondition::new(
                0,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Ne,
                libc::AF_UNIX as u64,
            )
            .map_err(|e| err(e.to_string()))?,
        ])
        .map_err(|e| err(e.to_string()))?;

        let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
        for abi_bit in SYSCALL_ABI_BITS {
            rules.insert(abi_bit | libc::SYS_socket, vec![non_unix_domain.clone()]);
            rules.insert(
                abi_bit | libc::SYS_socketpair,
                vec![non_unix_domain.clone()],
            );
            for always_denied in [
                libc::SYS_io_uring_setup,
                libc::SYS_io_uring_enter,
                libc::SYS_io_uring_register,
            ] {
                // An empty rule list matches every call of that syscall.
                rules.insert(abi_bit | always_denied, Vec::new());
            }
        }

        let filter = SeccompFilter::new(
            rules,
            SeccompAction::Allow,
            SeccompAction::Errno(libc::EPERM as u32),
            arch,
        )
        .map_err(|e| err(e.to_string()))?;
        let program: BpfProgram = filter
            .try_into()
            .map_err(|e: seccompiler::BackendError| err(e.to_string()))?;
        Ok(Self { program })
    }

    /// The program as bubblewrap's `--seccomp FD` reads it: the raw `struct
    /// sock_filter` array in native byte order.
    pub fn to_bwrap_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.program.len() * 8);
        for instruction in &self.program {
            bytes.extend_from_slice(&instruction.code.to_ne_bytes());
            bytes.push(instruction.jt);
            bytes.push(instruction.jf);
            bytes.extend_from_slice(&instruction.k.to_ne_bytes());
        }
        bytes
    }

    /// Sets `PR_SET_NO_NEW_PRIVS` and installs the filter on the calling thread.
    /// Allocates nothing and makes only `prctl` and `seccomp` calls, so it may run in a
    /// forked child before `exec` (`CommandExt::pre_exec`), where the child has one
    /// thread and the filter is kept across `execve`.
    pub fn apply_in_child(&self) -> std::io::Result<()> {
        match seccompiler::apply_filter(&self.program) {
            Ok(()) => Ok(()),
            Err(seccompiler::Error::Prctl(err) | seccompiler::Error::Seccomp(err)) => Err(err),
            Err(_) => Err(std::io::Error::from_raw_os_error(libc::EINVAL)),
        }
    }
}

/// Installs the [`NetworkFilter`] on every thread of the calling process. Call
/// [`set_no_new_privs`] first.
pub fn install_network_seccomp_filter() -> Result<(), LinuxSandboxError> {
    let filter = NetworkFilter::compile()?;
    seccompiler::apply_filter_all_threads(&filter.program).map_err(|e| LinuxSandboxError::Seccomp {
        message: e.to_string(),
    })
}
