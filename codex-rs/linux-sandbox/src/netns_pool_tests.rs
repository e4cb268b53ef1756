use std::os::fd::AsRawFd;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;
use std::time::Instant;

use pretty_assertions::assert_eq;

use super::*;

/// The inode of a network namespace, which tells namespaces apart.
fn inode(namespace: &OwnedFd) -> u64 {
    std::fs::File::from(namespace.try_clone().unwrap())
        .metadata()
        .unwrap()
        .ino()
}

/// The flags of `lo` as seen from inside `namespace` (joined by a thread of its own).
fn loopback_flags_in(namespace: &OwnedFd) -> libc::c_short {
    let raw = namespace.as_raw_fd();
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                join(raw).unwrap();
                // SAFETY: socket takes plain integers; checked below.
                let socket = unsafe {
                    libc::socket(libc::AF_INET, libc::SOCK_DGRAM, /*protocol*/ 0)
                };
                assert!(socket >= 0, "{}", std::io::Error::last_os_error());
                // SAFETY: ifreq is plain data; all zeroes is a valid value.
                let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
                for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
                    *slot = *byte as libc::c_char;
                }
                // SAFETY: SIOCGIFFLAGS writes the ifreq we pass; the socket is ours.
                unsafe {
                    assert_eq!(libc::ioctl(socket, libc::SIOCGIFFLAGS, &mut request), 0);
                    libc::close(socket);
                    request.ifr_ifru.ifru_flags
                }
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
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut taken = Vec::new();
    while taken.len() < 2 * SPARE + 1 {
        match take() {
            Some(namespace) => taken.push(namespace),
            None => {
                assert!(Instant::now() < deadline, "the pool made no namespace");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
    let own = std::fs::metadata("/proc/thread-self/ns/net").unwrap().ino();
    let mut inodes: Vec<u64> = taken.iter().map(inode).collect();
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
