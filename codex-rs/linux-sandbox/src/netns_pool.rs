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
//! The child checks, before it joins, that the descriptor it holds still names the
//! namespace that was taken (device and inode), so a descriptor number reused by
//! something else is refused rather than joined.
//!
//! Where the thread cannot make a namespace, it stops (for good where it is not allowed
//! to, after a growing pause otherwise) and starts go back to `--unshare-net`: the pool
//! only ever saves time, it never decides whether a sandbox is isolated.

use std::os::fd::AsRawFd;
use std::os::fd::FromRawFd;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::sync::Condvar;
use std::sync::Mutex;
use std::sync::OnceLock;
use std::time::Duration;

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
    ready: Vec<Namespace>,
}

/// A network namespace made ahead: its only descriptor (shared with the `pre_exec` hook
/// that joins it, so it stays open as long as the hook can run) and its identity.
#[derive(Debug, Clone)]
pub(crate) struct Namespace {
    fd: Arc<OwnedFd>,
    dev: u64,
    ino: u64,
}

impl Namespace {
    fn new(fd: OwnedFd) -> std::io::Result<Self> {
        // Like the other descriptors a sandbox's child uses, above stdio.
        let fd = crate::launcher::above_stderr(fd)?;
        let metadata = std::fs::File::from(fd.try_clone()?).metadata()?;
        Ok(Self {
            fd: Arc::new(fd),
            dev: metadata.dev(),
            ino: metadata.ino(),
        })
    }

    /// In the `pre_exec` of bubblewrap's child (async-signal-safe: `fstat` and `setns`):
    /// joins this namespace, after checking that the descriptor still names it.
    pub(crate) fn join(&self) -> std::io::Result<()> {
        let fd = self.fd.as_raw_fd();
        // SAFETY: fstat writes into the zeroed stat we pass.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat on a descriptor this value keeps open.
        if unsafe { libc::fstat(fd, &mut stat) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if stat.st_dev != self.dev || stat.st_ino != self.ino {
            return Err(std::io::Error::other(
                "the network namespace made for this sandbox is not the one its descriptor names",
            ));
        }
        join(fd)
    }
}

/// A fresh network namespace with its loopback device up, for one sandbox to join
/// ([`Namespace::join`]), or `None` when none is ready (the first start of a process) or
/// this process may not make them: then bubblewrap must make one (`--unshare-net`).
/// Starts the thread that makes them on its first call.
pub(crate) fn take() -> Option<Namespace> {
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

/// The longest pause between two tries after an error that may pass (no memory, no
/// descriptor left).
const LONGEST_PAUSE: Duration = Duration::from_secs(60);

/// The thread's loop: makes a namespace whenever fewer than [`SPARE`] are ready, and
/// returns to its own after each, so it is never in one a sandbox uses.
fn fill(pool: &'static Pool) {
    let home = match open_own() {
        Ok(home) => home,
        Err(err) => {
            tracing::warn!("cannot make network namespaces ahead ({err}); bubblewrap makes them");
            return;
        }
    };
    let mut pause = Duration::from_millis(100);
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
            Ok(namespace) => {
                pause = Duration::from_millis(100);
                pool.state
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .ready
                    .push(namespace);
            }
            Err(Made::NotAllowed(err)) => {
                tracing::info!(
                    "network namespaces are not made ahead ({err}); bubblewrap makes them"
                );
                return;
            }
            Err(Made::Failed(err)) => {
                tracing::warn!(
                    "could not make a network namespace ahead ({err}); bubblewrap makes them \
                     until a try in {pause:?} succeeds"
                );
                std::thread::sleep(pause);
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
            Err(Made::Lost(err)) => {
                tracing::warn!(
                    "cannot return to the server's network namespace ({err}); network \
                     namespaces are no longer made ahead"
                );
                return;
            }
        }
    }
}

/// Why [`make`] made no namespace.
enum Made {
    /// This process may not (`EPERM`, `EACCES`): it never will.
    NotAllowed(std::io::Error),
    /// Anything else: it may pass.
    Failed(std::io::Error),
    /// The thread could not return to its own namespace: it must make no more.
    Lost(std::io::Error),
}

/// Makes a network namespace with its loopback device up (as bubblewrap does for its
/// own) and returns it; this thread is back in `home` afterwards.
fn make(home: &OwnedFd) -> Result<Namespace, Made> {
    let failed = |err: std::io::Error| match err.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => Made::NotAllowed(err),
        _ => Made::Failed(err),
    };
    // SAFETY: unshare takes plain flags; a network namespace is per thread.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(failed(std::io::Error::last_os_error()));
    }
    let made = loopback_up()
        .and_then(|()| open_own())
        .and_then(Namespace::new);
    join(home.as_raw_fd()).map_err(Made::Lost)?;
    made.map_err(failed)
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
pub(crate) fn loopback_up() -> std::io::Result<()> {
    let (socket, mut request) = loopback_flags()?;
    // SAFETY: the flags are the union member SIOCGIFFLAGS filled in.
    unsafe { request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads the ifreq we pass.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A socket in this thread's network namespace, and a request naming `lo` with its
/// current flags (`SIOCGIFFLAGS`).
fn loopback_flags() -> std::io::Result<(OwnedFd, libc::ifreq)> {
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
    // SAFETY: SIOCGIFFLAGS writes the ifreq we pass.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((socket, request))
}

/// Moves this thread (or the child in `pre_exec`) into the network namespace `namespace`
/// names (one `setns` call: async-signal-safe).
fn join(namespace: std::os::fd::RawFd) -> std::io::Result<()> {
    // SAFETY: setns on a descriptor the caller keeps open.
    if unsafe { libc::setns(namespace, libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
#[path = "netns_pool_tests.rs"]
mod tests;
