//! The in-process half of the sandbox: `PR_SET_NO_NEW_PRIVS` and the seccomp network
//! filter, installed by the seccomp stage right before it executes the command.
//!
//! Why seccomp on top of bubblewrap's `--unshare-net`: the private network namespace
//! already has no route out, but some socket families are not confined by network
//! namespaces at all (`AF_VSOCK` reaches the hypervisor, `AF_NETLINK` talks to the
//! kernel). Refusing every non-Unix socket closes those, and it is the only network
//! restriction we can apply under `externalSandbox`, where we create no namespaces.
//! Unix sockets stay allowed: build tools and language servers use them locally, and a
//! Unix socket reaches only what the filesystem view already exposes.
//!
//! The filter is installed in the sandboxed process (not in bubblewrap, which may need
//! privileges seccomp would take away) and is inherited by every child and kept across
//! `execve`.

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

/// Installs, on every thread of the calling process, a filter under which:
///
/// - `socket(2)` and `socketpair(2)` fail with `EPERM` for every domain but `AF_UNIX`;
/// - `io_uring_setup`, `io_uring_enter` and `io_uring_register` fail with `EPERM`,
///   because io_uring can create and connect sockets without the `socket` syscall.
///
/// System calls of another architecture than the one this binary was built for (i386
/// calls on x86_64) kill the process, and the x32 numbers of the calls above are
/// filtered too, so neither goes around the rules. Call
/// [`set_no_new_privs`] first.
pub fn install_network_seccomp_filter() -> Result<(), LinuxSandboxError> {
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
    seccompiler::apply_filter_all_threads(&program).map_err(|e| err(e.to_string()))
}
