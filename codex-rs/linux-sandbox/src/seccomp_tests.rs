use pretty_assertions::assert_eq;

use super::*;

/// The syscall numbers a compiled program compares the call number with (the `k` of its
/// `BPF_JMP | BPF_JEQ | BPF_K` instructions).
fn compared_numbers(filter: &NetworkFilter) -> Vec<i64> {
    const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    filter
        .programs
        .iter()
        .flatten()
        .filter(|instruction| instruction.code == JEQ_K)
        .map(|instruction| i64::from(instruction.k))
        .collect()
}

#[test]
fn inside_bubblewrap_new_user_namespaces_are_refused_with_or_without_network() {
    let numbers = |deny_network| {
        compared_numbers(
            &NetworkFilter::compile(FilterKind::InBubblewrap { deny_network }).unwrap(),
        )
    };
    let (off, on) = (
        numbers(/*deny_network*/ true),
        numbers(/*deny_network*/ false),
    );
    for call in [libc::SYS_unshare, libc::SYS_clone, libc::SYS_clone3] {
        assert_eq!(
            (off.contains(&call), on.contains(&call)),
            (true, true),
            "syscall {call}"
        );
    }
    assert_eq!(
        (
            off.contains(&libc::SYS_socket),
            on.contains(&libc::SYS_socket)
        ),
        (true, false)
    );
}

#[test]
fn the_host_variant_also_refuses_calls_into_other_processes() {
    let in_bubblewrap = compared_numbers(
        &NetworkFilter::compile(FilterKind::InBubblewrap { deny_network: true }).unwrap(),
    );
    let host = compared_numbers(&NetworkFilter::compile(FilterKind::Host).unwrap());

    let host_only: Vec<i64> = HOST_DENIED_SYSCALLS
        .iter()
        .flat_map(|&call| syscall_numbers(call))
        .collect();
    assert_eq!(
        (
            host_only.iter().all(|number| host.contains(number)),
            host_only
                .iter()
                .any(|number| in_bubblewrap.contains(number)),
        ),
        (true, false),
        "host-only numbers {host_only:?}; host filter compares {host:?}"
    );
    for shared in [
        libc::SYS_socket,
        libc::SYS_socketpair,
        libc::SYS_io_uring_setup,
    ] {
        for number in syscall_numbers(shared) {
            assert_eq!(
                (in_bubblewrap.contains(&number), host.contains(&number)),
                (true, true),
                "syscall number {number}"
            );
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn x32_numbers_are_filtered_including_the_x32_only_entries() {
    assert_eq!(
        (
            syscall_numbers(libc::SYS_socket),
            syscall_numbers(libc::SYS_ptrace),
            syscall_numbers(libc::SYS_process_vm_readv),
            syscall_numbers(libc::SYS_process_vm_writev),
            syscall_numbers(libc::SYS_pidfd_getfd),
        ),
        (
            vec![41, 0x4000_0000 | 41],
            vec![101, 0x4000_0000 | 101, 0x4000_0000 | 521],
            vec![310, 0x4000_0000 | 310, 0x4000_0000 | 539],
            vec![311, 0x4000_0000 | 311, 0x4000_0000 | 540],
            vec![438, 0x4000_0000 | 438],
        )
    );
}
