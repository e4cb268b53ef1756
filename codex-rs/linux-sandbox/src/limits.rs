//! Resource limits of a sandboxed command: `setrlimit` between `fork` and `exec`.
//!
//! Each limit is set as both the soft and the hard limit, so a command without
//! `CAP_SYS_RESOURCE` (every sandboxed one) cannot raise it again, and everything it starts
//! inherits it. A limit above the caller's own hard limit is lowered to that: a process
//! cannot hand out more than it has.
//!
//! What each limit really covers (measured on Linux 6.18, see the crate README, "What is
//! enforced and what is not"):
//!
//! - [`ResourceLimits::max_memory_bytes`] is `RLIMIT_DATA` (heap, anonymous and private
//!   writable mappings of one process), not `RLIMIT_AS`: address-space reservations
//!   without access rights do not count, so V8/WebAssembly, Go and the JVM keep working;
//! - [`ResourceLimits::max_processes`] is `RLIMIT_NPROC`, which the kernel counts per real
//!   user: set on bubblewrap (before its user namespace exists) it bounds *all* processes
//!   and threads of the caller's user, not those of one sandbox, and for uid 0 it is not
//!   enforced at all, capabilities or not (see [`ResourceLimits::processes_enforceable`]).

use crate::LinuxSandboxError;

/// The largest `maxProcesses`: the kernel's `PID_MAX_LIMIT` on 64-bit systems.
pub const MAX_PROCESSES_LIMIT: u64 = 4 * 1024 * 1024;
/// The smallest `maxMemoryBytes`: below 1 MiB not even a shell starts.
pub const MIN_MEMORY_BYTES: u64 = 1024 * 1024;
/// The largest `maxMemoryBytes`: 128 TiB, all a process can address with 4-level paging.
pub const MAX_MEMORY_BYTES: u64 = 1 << 47;
/// The largest `maxFileSizeBytes`: the largest file offset (`i64::MAX`).
pub const MAX_FILE_SIZE_BYTES: u64 = i64::MAX as u64;
/// The smallest `maxOpenFiles`: bubblewrap itself needs about 8 descriptors.
pub const MIN_OPEN_FILES: u64 = 16;
/// The largest `maxOpenFiles`: the kernel's default `fs.nr_open` (2^20); `setrlimit`
/// refuses more than `fs.nr_open`.
pub const MAX_OPEN_FILES: u64 = 1 << 20;

/// Limits for one command and everything it starts; `None` leaves a limit as inherited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceLimits {
    /// `RLIMIT_NPROC`: processes (and threads) of the real user; `fork` fails with `EAGAIN`.
    pub max_processes: Option<u64>,
    /// `RLIMIT_DATA`: data memory of each process; `brk`/`mmap` fail with `ENOMEM`.
    pub max_memory_bytes: Option<u64>,
    /// `RLIMIT_FSIZE`: size a process may make a file; a write past it gets `SIGXFSZ`
    /// (or `EFBIG` when that is ignored).
    pub max_file_size_bytes: Option<u64>,
    /// `RLIMIT_NOFILE`: descriptors of each process; `open` fails with `EMFILE`.
    pub max_open_files: Option<u64>,
}

/// The type of `setrlimit`'s resource argument (glibc has its own).
#[cfg(target_env = "gnu")]
type Resource = libc::__rlimit_resource_t;
/// The type of `setrlimit`'s resource argument.
#[cfg(not(target_env = "gnu"))]
type Resource = libc::c_int;

/// One limit: which resource, its name for messages, and its bounds.
struct Limit {
    resource: Resource,
    name: &'static str,
    min: u64,
    max: u64,
}

const PROCESSES: Limit = Limit {
    resource: libc::RLIMIT_NPROC,
    name: "maxProcesses",
    min: 1,
    max: MAX_PROCESSES_LIMIT,
};
const MEMORY: Limit = Limit {
    resource: libc::RLIMIT_DATA,
    name: "maxMemoryBytes",
    min: MIN_MEMORY_BYTES,
    max: MAX_MEMORY_BYTES,
};
const FILE_SIZE: Limit = Limit {
    resource: libc::RLIMIT_FSIZE,
    name: "maxFileSizeBytes",
    min: 1,
    max: MAX_FILE_SIZE_BYTES,
};
const OPEN_FILES: Limit = Limit {
    resource: libc::RLIMIT_NOFILE,
    name: "maxOpenFiles",
    min: MIN_OPEN_FILES,
    max: MAX_OPEN_FILES,
};

impl ResourceLimits {
    /// No limit at all.
    pub fn is_empty(&self) -> bool {
        self.entries().iter().all(|(_, value)| value.is_none())
    }

    /// The defaults of a sandboxed command: data memory at most half of the physical
    /// memory per process. Nothing else: `RLIMIT_NPROC` cannot count one sandbox's
    /// processes (see the module docs), and files and descriptors are left as inherited.
    pub fn sandbox_defaults() -> Self {
        Self {
            max_memory_bytes: Some(default_memory_bytes()),
            ..Self::default()
        }
    }

    /// `self`, with each limit it leaves open taken from `defaults`.
    pub fn or(self, defaults: Self) -> Self {
        Self {
            max_processes: self.max_processes.or(defaults.max_processes),
            max_memory_bytes: self.max_memory_bytes.or(defaults.max_memory_bytes),
            max_file_size_bytes: self.max_file_size_bytes.or(defaults.max_file_size_bytes),
            max_open_files: self.max_open_files.or(defaults.max_open_files),
        }
    }

    /// Checks every limit against its bounds ([`MAX_PROCESSES_LIMIT`] and the other
    /// constants of this module); the error names the first one out of bounds.
    pub fn validate(&self) -> Result<(), LinuxSandboxError> {
        for (limit, value) in self.entries() {
            let Some(value) = value else {
                continue;
            };
            if !(limit.min..=limit.max).contains(&value) {
                return Err(LinuxSandboxError::InvalidLimit {
                    name: limit.name,
                    value,
                    min: limit.min,
                    max: limit.max,
                });
            }
        }
        Ok(())
    }

    /// Whether [`ResourceLimits::max_processes`] can be enforced for a process of real
    /// user `uid`: not for root, whose processes the kernel never holds to
    /// `RLIMIT_NPROC` (it exempts the `INIT_USER`, uid 0 outside every user namespace,
    /// whatever its capabilities — and a sandbox of root keeps uid 0 outside).
    pub fn processes_enforceable(uid: u32) -> Result<(), LinuxSandboxError> {
        if uid == 0 {
            return Err(LinuxSandboxError::ProcessLimitUnenforceable);
        }
        Ok(())
    }

    /// Sets every limit as soft and hard limit (lowered to the current hard limit when
    /// above it). For a host's `CommandExt::pre_exec` or right before `execve`: only
    /// `getrlimit` and `setrlimit`, async-signal-safe, nothing allocated.
    pub fn apply_in_child(&self) -> std::io::Result<()> {
        for (limit, value) in self.entries() {
            let Some(value) = value else {
                continue;
            };
            let mut current = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit writes into the struct we own; no other memory involved.
            if unsafe { libc::getrlimit(limit.resource, &mut current) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let value = value.min(current.rlim_max);
            let new = libc::rlimit {
                rlim_cur: value,
                rlim_max: value,
            };
            // SAFETY: setrlimit reads the struct we own; no other memory involved.
            if unsafe { libc::setrlimit(limit.resource, &new) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// Each limit with its value, in a fixed array (no allocation: used in `pre_exec`).
    fn entries(&self) -> [(Limit, Option<u64>); 4] {
        [
            (PROCESSES, self.max_processes),
            (MEMORY, self.max_memory_bytes),
            (FILE_SIZE, self.max_file_size_bytes),
            (OPEN_FILES, self.max_open_files),
        ]
    }
}

/// Half of the physical memory (`sysconf`), at least [`MIN_MEMORY_BYTES`]; 4 GiB if the
/// system does not say. Read once per process.
pub fn default_memory_bytes() -> u64 {
    static DEFAULT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *DEFAULT.get_or_init(|| {
        // SAFETY: sysconf only reads system configuration.
        let (pages, page_size) = unsafe {
            (
                libc::sysconf(libc::_SC_PHYS_PAGES),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        half_of_physical(u64::try_from(pages).ok(), u64::try_from(page_size).ok())
    })
}

/// Half of `pages * page_size`, within the bounds of `maxMemoryBytes`; 4 GiB when
/// either is unknown (not positive).
pub(crate) fn half_of_physical(pages: Option<u64>, page_size: Option<u64>) -> u64 {
    match (pages, page_size) {
        (Some(pages), Some(page_size)) if pages > 0 && page_size > 0 => {
            (pages.saturating_mul(page_size) / 2).clamp(MIN_MEMORY_BYTES, MAX_MEMORY_BYTES)
        }
        _ => 4 << 30,
    }
}

#[cfg(test)]
#[path = "limits_tests.rs"]
mod tests;
