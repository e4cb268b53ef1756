//! Network namespaces made ahead of the sandboxes that need one.
//!
//! A sandbox without network gets a network namespace of its own. Bubblewrap makes it
//! (`--unshare-net`) while the command waits: about 0.7 ms of a start here, most of it the
//! kernel registering the new namespace's loopback device. A server that may make network
//! namespaces itself (root with `CAP_SYS_ADMIN`) keeps a few fresh ones ready instead,
//! made by a thread of its own while nothing waits for them. A sandboxed start takes one
//! ([`take`]), its child joins it before bubblewrap runs (`setns` in `pre_exec`), and
//! bubblewrap is started without `--unshare-net`.
//!
//! Each namespace serves exactly one sandbox: [`take`] hands out the only descriptor, and
//! the server closes it once bubblewrap was spawned, so the namespace lives exactly as
//! long as the sandbox's processes. Two sandboxes never share loopback, ports or abstract
//! Unix sockets, as with bubblewrap's own. The namespace belongs to the server's user
//! namespace rather than the sandbox's, which changes nothing for the command: it has no
//! capability in either.
//!
//! Where the thread cannot make a namespace, it stops and every start goes back to
//! `--unshare-net`: the pool only ever saves time, it never decides whether a sandbox is
//! isolated.

use std::os::fd::AsRawFd;
use std::os::fd::FromRawFd;
use std::os::fd::OwnedFd;
use std::sync::Condvar;
use std::sync::Mutex;
use std::sync::OnceLock;

/// How many namespaces are kept ready: one for the next start, one for the start right
/// after it while the thread makes the next.
const SPARE: usize = 2;

struct Pool {
    state: Mutex<State>,
    /// Signalled when a namespace was taken.
    taken: Condvar,
}

#[derive(Default)]
struct State {
    ready: Vec<OwnedFd>,
}

/// A fresh network namespace with its loopback device up, for one sandbox to join with
/// [`join`], or `None` when none is ready (the first start of a process) or this process
/// may not make them: then bubblewrap must make one (`--unshare-net`). Starts the thread
/// that makes them on its first call.
pub(crate) fn take() -> Option<OwnedFd> {
    static POOL: OnceLock<Option<&'static Pool>> = OnceLock::new();
    let pool = (*POOL.get_or_init(start))?;
    let mut state = pool
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let namespace = state.ready.pop();
    pool.taken.notify_one();
    namespace
}

/// Starts the thread that keeps [`SPARE`] namespaces ready, if this process may make
/// them at all (root with `CAP_SYS_ADMIN`).
fn start() -> Option<&'static Pool> {
    if !crate::private_mounts::root_with_cap_sys_admin() {
        return None;
    }
    let pool: &'static Pool = Box::leak(Box::new(Pool {
        state: Mutex::new(State::default()),
        taken: Condvar::new(),
    }));
    let spawned = std::thread::Builder::new()
        .name("codex-netns".to_string())
        .spawn(move || fill(pool));
    match spawned {
        Ok(_) => Some(pool),
        Err(err) => {
            tracing::debug!("no thread to make network namespaces ahead: {err}");
            None
        }
    }
}

/// The thread's loop: makes a namespace whenever fewer than [`SPARE`] are ready, and
/// returns to its own after each, so it is never in one a sandbox uses.
fn fill(pool: &'static Pool) {
    let home = match open_own() {
        Ok(home) => home,
        Err(err) => {
            tracing::debug!("cannot make network namespaces ahead ({err}); bubblewrap makes them");
            return;
        }
    };
    loop {
        {
            let mut state = pool
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            while state.ready.len() >= SPARE {
                state = pool
                    .taken
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        }
        match make(&home) {
            Ok(namespace) => pool
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .ready
                .push(namespace),
            Err(err) => {
                tracing::debug!(
                    "cannot make network namespaces ahead ({err}); bubblewrap makes them"
                );
                return;
            }
        }
    }
}

/// Makes a network namespace with its loopback device up (as bubblewrap does for its
/// own) and returns a descriptor of it; this thread is back in `home` afterwards.
fn make(home: &OwnedFd) -> std::io::Result<OwnedFd> {
    // SAFETY: unshare takes plain flags; a network namespace is per thread.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let made = loopback_up().and_then(|()| open_own());
    join(home.as_raw_fd())?;
    made
}

/// A descriptor of this thread's network namespace.
fn open_own() -> std::io::Result<OwnedFd> {
    // SAFETY: a static NUL-terminated path; the result is checked.
    let fd = unsafe {
        libc::open(
            c"/proc/thread-self/ns/net".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a descriptor just opened, owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `ip link set lo up` in this thread's network namespace (the kernel then gives it
/// `127.0.0.1/8` and `::1`).
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: socket takes plain integers; the result is checked.
    let socket = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            /*protocol*/ 0,
        )
    };
    if socket < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a descriptor just made, owned by nothing else.
    let socket = unsafe { OwnedFd::from_raw_fd(socket) };
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write the ifreq we pass.
    unsafe {
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// In the `pre_exec` of bubblewrap's child (async-signal-safe: one `setns` call): joins
/// the namespace [`take`] gave.
pub(crate) fn join(namespace: std::os::fd::RawFd) -> std::io::Result<()> {
    // SAFETY: setns on a descriptor the parent keeps open until the spawn returned.
    if unsafe { libc::setns(namespace, libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
#[path = "netns_pool_tests.rs"]
mod tests;
