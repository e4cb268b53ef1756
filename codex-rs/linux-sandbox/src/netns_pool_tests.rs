use std::os::unix::fs::MetadataExt;
use std::time::Duration;
use std::time::Instant;

use pretty_assertions::assert_eq;

use super::*;

/// Namespaces taken from the pool until there are `count` (the first takes may find none
/// ready yet).
fn take_some(count: usize) -> Vec<Namespace> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut taken = Vec::new();
    while taken.len() < count {
        match take() {
            Some(namespace) => taken.push(namespace),
            None => {
                assert!(Instant::now() < deadline, "the pool made no namespace");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    taken
}

/// The flags of `lo` as seen from inside `namespace` (joined by a thread of its own).
fn loopback_flags_in(namespace: &Namespace) -> libc::c_short {
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                namespace.join().unwrap();
                let (_socket, request) = loopback_flags().unwrap();
                // SAFETY: the flags are the union member SIOCGIFFLAGS filled in.
                unsafe { request.ifr_ifru.ifru_flags }
            })
            .join()
            .unwrap()
    })
}

#[test]
fn only_root_with_cap_sys_admin_gets_namespaces_and_each_is_fresh_with_loopback_up() {
    if !crate::private_mounts::root_with_cap_sys_admin() {
        // Bubblewrap makes every namespace: the pool never has one.
        for _ in 0..5 {
            assert!(take().is_none());
            std::thread::sleep(Duration::from_millis(20));
        }
        return;
    }
    let taken = take_some(2 * SPARE + 1);
    let own = std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino();
    let mut inodes: Vec<u64> = taken.iter().map(|namespace| namespace.ino).collect();
    assert!(!inodes.contains(&own), "{inodes:?} include ours ({own})");
    inodes.sort();
    inodes.dedup();
    assert_eq!(
        inodes.len(),
        taken.len(),
        "a namespace was handed out twice"
    );
    for namespace in &taken {
        let up = loopback_flags_in(namespace) & libc::IFF_UP as libc::c_short;
        assert_eq!(up, libc::IFF_UP as libc::c_short);
    }
}

#[test]
fn a_descriptor_that_names_another_namespace_is_not_joined() {
    if !crate::private_mounts::root_with_cap_sys_admin() {
        eprintln!("not run: only root with CAP_SYS_ADMIN makes namespaces ahead");
        return;
    }
    let mut namespace = take_some(/*count*/ 1).remove(0);
    namespace.ino += 1;
    let refused = std::thread::spawn(move || namespace.join().map_err(|err| err.to_string()))
        .join()
        .unwrap();
    assert_eq!(
        refused,
        Err(
            "the network namespace made for this sandbox is not the one its descriptor names"
                .to_string()
        )
    );
}
