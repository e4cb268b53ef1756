use pretty_assertions::assert_eq;

use super::*;

#[test]
fn empty_limits_are_empty_and_valid() {
    assert!(ResourceLimits::default().is_empty());
    assert!(ResourceLimits::default().validate().is_ok());
    assert!(
        !ResourceLimits {
            max_open_files: Some(64),
            ..ResourceLimits::default()
        }
        .is_empty()
    );
}

#[test]
fn sandbox_defaults_limit_only_memory_to_half_of_ram() {
    let defaults = ResourceLimits::sandbox_defaults();
    assert_eq!(
        defaults,
        ResourceLimits {
            max_processes: None,
            max_memory_bytes: Some(default_memory_bytes()),
            max_file_size_bytes: None,
            max_open_files: None,
        }
    );
    assert!(defaults.validate().is_ok());
    // SAFETY: sysconf only reads system configuration.
    let physical = unsafe {
        libc::sysconf(libc::_SC_PHYS_PAGES) as u64 * libc::sysconf(libc::_SC_PAGESIZE) as u64
    };
    assert_eq!(default_memory_bytes(), physical / 2);
}

#[test]
fn half_of_physical_memory_is_bounded_and_has_a_fallback() {
    assert_eq!(half_of_physical(Some(4 * 1024 * 1024), Some(4096)), 8 << 30);
    assert_eq!(half_of_physical(Some(1), Some(4096)), MIN_MEMORY_BYTES);
    assert_eq!(
        half_of_physical(Some(u64::MAX), Some(4096)),
        MAX_MEMORY_BYTES
    );
    assert_eq!(half_of_physical(None, Some(4096)), 4 << 30);
    assert_eq!(half_of_physical(Some(0), Some(4096)), 4 << 30);
}

#[test]
fn requested_limits_override_defaults_field_by_field() {
    let requested = ResourceLimits {
        max_processes: Some(50),
        max_memory_bytes: Some(64 << 20),
        ..ResourceLimits::default()
    };
    let defaults = ResourceLimits {
        max_memory_bytes: Some(1 << 30),
        max_open_files: Some(1024),
        ..ResourceLimits::default()
    };
    assert_eq!(
        requested.or(defaults),
        ResourceLimits {
            max_processes: Some(50),
            max_memory_bytes: Some(64 << 20),
            max_file_size_bytes: None,
            max_open_files: Some(1024),
        }
    );
}

#[test]
fn out_of_bounds_limits_are_refused_naming_the_limit() {
    let cases = [
        (
            ResourceLimits {
                max_processes: Some(0),
                ..ResourceLimits::default()
            },
            "`maxProcesses` must be an integer from 1 to 4194304, got 0",
        ),
        (
            ResourceLimits {
                max_processes: Some(MAX_PROCESSES_LIMIT + 1),
                ..ResourceLimits::default()
            },
            "`maxProcesses` must be an integer from 1 to 4194304, got 4194305",
        ),
        (
            ResourceLimits {
                max_memory_bytes: Some(4096),
                ..ResourceLimits::default()
            },
            "`maxMemoryBytes` must be an integer from 1048576 to 140737488355328, got 4096",
        ),
        (
            ResourceLimits {
                max_file_size_bytes: Some(u64::MAX),
                ..ResourceLimits::default()
            },
            "`maxFileSizeBytes` must be an integer from 1 to 9223372036854775807, got \
             18446744073709551615",
        ),
        (
            ResourceLimits {
                max_open_files: Some(3),
                ..ResourceLimits::default()
            },
            "`maxOpenFiles` must be an integer from 16 to 1048576, got 3",
        ),
    ];
    for (limits, message) in cases {
        let error = limits.validate().expect_err("out of bounds");
        assert_eq!(error.to_string(), message);
    }
    let bounds = ResourceLimits {
        max_processes: Some(1),
        max_memory_bytes: Some(MAX_MEMORY_BYTES),
        max_file_size_bytes: Some(MAX_FILE_SIZE_BYTES),
        max_open_files: Some(MIN_OPEN_FILES),
    };
    assert!(bounds.validate().is_ok());
}

#[test]
fn processes_cannot_be_limited_for_root() {
    assert!(matches!(
        ResourceLimits::processes_enforceable(0),
        Err(LinuxSandboxError::ProcessLimitUnenforceable)
    ));
    assert!(ResourceLimits::processes_enforceable(1000).is_ok());
}

/// In a forked child (so the test process keeps its limits): applies `limits` and
/// reports the soft and hard limit of each resource afterwards through a pipe.
fn limits_after_apply(limits: ResourceLimits) -> Vec<(u64, u64)> {
    let resources = [
        libc::RLIMIT_NPROC,
        libc::RLIMIT_DATA,
        libc::RLIMIT_FSIZE,
        libc::RLIMIT_NOFILE,
    ];
    let mut fds = [0; 2];
    // SAFETY: pipe writes two descriptors into our array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: the child only calls async-signal-safe functions and exits with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        let ok = limits.apply_in_child().is_ok();
        let mut out = [0u64; 9];
        out[0] = u64::from(ok);
        for (index, resource) in resources.iter().enumerate() {
            let mut limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit writes into our struct; write reads our array.
            unsafe {
                libc::getrlimit(*resource, &mut limit);
            }
            out[1 + 2 * index] = limit.rlim_cur;
            out[2 + 2 * index] = limit.rlim_max;
        }
        // SAFETY: writes our array to the pipe and exits without unwinding.
        unsafe {
            libc::write(fds[1], out.as_ptr().cast(), std::mem::size_of_val(&out));
            libc::_exit(0);
        }
    }
    // SAFETY: closing our write end; reading into our array; reaping our child.
    let out = unsafe {
        libc::close(fds[1]);
        let mut out = [0u64; 9];
        let read = libc::read(fds[0], out.as_mut_ptr().cast(), std::mem::size_of_val(&out));
        assert_eq!(read as usize, std::mem::size_of_val(&out));
        libc::close(fds[0]);
        libc::waitpid(pid, std::ptr::null_mut(), /*options*/ 0);
        out
    };
    assert_eq!(out[0], 1, "apply_in_child failed");
    out[1..].chunks(2).map(|pair| (pair[0], pair[1])).collect()
}

#[test]
fn apply_in_child_sets_soft_and_hard_limits() {
    // SAFETY: getrlimit writes into our struct.
    let inherited_nproc = unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NPROC, &mut limit);
        (limit.rlim_cur, limit.rlim_max)
    };
    let got = limits_after_apply(ResourceLimits {
        max_processes: None,
        max_memory_bytes: Some(64 << 20),
        max_file_size_bytes: Some(1 << 20),
        max_open_files: Some(100),
    });
    assert_eq!(
        got,
        vec![
            inherited_nproc,
            (64 << 20, 64 << 20),
            (1 << 20, 1 << 20),
            (100, 100),
        ]
    );
}

#[test]
fn apply_in_child_never_raises_above_the_hard_limit() {
    // SAFETY: getrlimit writes into our struct.
    let hard = unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_max
    };
    let got = limits_after_apply(ResourceLimits {
        max_open_files: Some(hard.saturating_add(1)),
        ..ResourceLimits::default()
    });
    assert_eq!(got[3], (hard, hard));
}
