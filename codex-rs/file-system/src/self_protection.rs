//! What `fs/*` never touches, under any policy or none: the server's own `/proc` entries
//! (its environment, memory, descriptors and credentials: everything that holds its token
//! or could change it) and the paths the server denies outright (its `--auth-token-file`).
//!
//! Two layers:
//! 1. **By path**, on every resolved path an operation checks
//!    ([`refuse_server_internal`]): `/proc/<n>` and everything below it, where `n` is this
//!    process or one of its threads. `/proc/self` and `/proc/thread-self` resolve to such
//!    paths, and every thread also has a hidden `/proc/<tid>` entry (not listed in `/proc`,
//!    but it opens). This gives the clear `sandboxDenied` message.
//! 2. **By descriptor**, on every directory the descriptor walk opens
//!    ([`refuse_own_proc_dir`]): a procfs directory whose `status` names this process as
//!    its `Tgid`. That closes the race in which a thread is born with a tid that the path
//!    check just found free, and covers a procfs mounted somewhere other than `/proc`.

use std::io;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::fd::BorrowedFd;
use std::os::fd::FromRawFd;
use std::os::fd::OwnedFd;
use std::path::Component;
use std::path::Path;
use std::path::PathBuf;

use crate::file_system::FileSystemError;

/// The marker inside the [`io::Error`] a descriptor walk ends with when it reaches one of
/// the server's own `/proc` directories.
#[derive(Debug, thiserror::Error)]
#[error("this is one of the exec-server's own /proc entries")]
pub(crate) struct OwnProcEntry;

/// Whether `err` is the walk refusing one of the server's own `/proc` directories.
pub(crate) fn is_own_proc_entry(err: &io::Error) -> bool {
    err.get_ref()
        .is_some_and(|inner| inner.is::<OwnProcEntry>())
}

/// The `sandboxDenied` error for one of the server's own `/proc` entries.
pub(crate) fn own_proc_denied(path: &dyn std::fmt::Display) -> FileSystemError {
    FileSystemError::SandboxDenied(format!(
        "`{path}` is (or is inside) one of this exec-server's own /proc entries, which hold \
         its environment, memory and token; fs/* never reads or changes them, whatever the \
         policy"
    ))
}

/// Refuse `resolved` (a path with every symlink resolved) if it is one of the server's
/// own `/proc` entries or one of the `denied` paths (or below one).
pub(crate) fn refuse_server_internal(
    resolved: &Path,
    denied: &[PathBuf],
) -> Result<(), FileSystemError> {
    if is_own_proc_path(resolved) {
        return Err(own_proc_denied(&resolved.display()));
    }
    match denied.iter().find(|denied| resolved.starts_with(denied)) {
        Some(denied) => Err(denied_error(resolved, denied)),
        None => Ok(()),
    }
}

/// Refuse `resolved` if a `denied` path lies below it: a tree operation on it (a
/// recursive copy's source, a removal) would reach that path.
pub(crate) fn refuse_tree_containing_denied(
    resolved: &Path,
    denied: &[PathBuf],
) -> Result<(), FileSystemError> {
    match denied.iter().find(|denied| denied.starts_with(resolved)) {
        Some(denied) => Err(denied_error(resolved, denied)),
        None => Ok(()),
    }
}

fn denied_error(resolved: &Path, denied: &Path) -> FileSystemError {
    FileSystemError::SandboxDenied(format!(
        "`{}` reaches `{}`, which this exec-server never lets fs/* touch (its auth token \
         file), whatever the policy",
        resolved.display(),
        denied.display()
    ))
}

/// `/proc/<n>` or below, where `n` is this process or one of its threads.
fn is_own_proc_path(resolved: &Path) -> bool {
    let mut components = resolved.components();
    let (Some(Component::RootDir), Some(Component::Normal(proc)), Some(Component::Normal(n))) =
        (components.next(), components.next(), components.next())
    else {
        return false;
    };
    if proc != "proc" {
        return false;
    }
    let Some(n) = n.to_str().and_then(|n| n.parse::<u32>().ok()) else {
        return false;
    };
    n == std::process::id() || Path::new("/proc/self/task").join(n.to_string()).exists()
}

/// Refuse `dir` (just opened by a descriptor walk) if it is a procfs directory of this
/// process or one of its threads; see the module docs.
#[cfg(target_os = "linux")]
pub(crate) fn refuse_own_proc_dir(dir: BorrowedFd<'_>) -> io::Result<()> {
    const PROC_SUPER_MAGIC: libc::c_long = 0x9fa0;
    // SAFETY: an all-zero statfs is a valid value to be overwritten.
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid descriptor and a pointer to a local struct.
    if unsafe { libc::fstatfs(dir.as_raw_fd(), &mut stat) } != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)]
    if stat.f_type as libc::c_long != PROC_SUPER_MAGIC {
        return Ok(());
    }
    // SAFETY: a valid directory descriptor and a NUL-terminated name.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            c"status".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
        )
    };
    if fd < 0 {
        // Not a process directory (`/proc/sys`, `/proc/<pid>/task`, ...).
        return Ok(());
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    let mut status = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let mut text = String::new();
    // A process that is gone reads as an error: nothing of ours.
    if status.read_to_string(&mut text).is_err() {
        return Ok(());
    }
    let tgid = text
        .lines()
        .find_map(|line| line.strip_prefix("Tgid:"))
        .and_then(|tgid| tgid.trim().parse::<u32>().ok());
    if tgid == Some(std::process::id()) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            OwnProcEntry,
        ));
    }
    Ok(())
}

/// Elsewhere there is no procfs of this shape.
#[cfg(not(target_os = "linux"))]
pub(crate) fn refuse_own_proc_dir(_dir: BorrowedFd<'_>) -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::os::fd::AsFd;

    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn own_proc_paths_are_recognised() {
        let pid = std::process::id();
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        assert_eq!(
            [
                format!("/proc/{pid}"),
                format!("/proc/{pid}/environ"),
                format!("/proc/{tid}/environ"),
                "/proc/cpuinfo".to_string(),
                "/proc/1/status".to_string(),
                format!("/tmp/proc/{pid}"),
            ]
            .map(|path| is_own_proc_path(Path::new(&path))),
            [true, true, true, false, pid == 1, false]
        );
    }

    /// The descriptor check, which the walk applies to every directory it opens.
    #[test]
    fn own_proc_directories_are_recognised_by_descriptor() {
        let refused = |path: &str| {
            let dir = std::fs::File::open(path).unwrap();
            match refuse_own_proc_dir(dir.as_fd()) {
                Ok(()) => false,
                Err(err) => is_own_proc_entry(&err),
            }
        };
        let tid = format!("/proc/self/task/{}", {
            // SAFETY: gettid has no preconditions.
            unsafe { libc::gettid() }
        });

        assert_eq!(
            [
                "/proc/self",
                "/proc/thread-self",
                &tid,
                "/proc/1",
                "/proc/sys",
                "/tmp"
            ]
            .map(refused),
            [true, true, true, std::process::id() == 1, false, false]
        );
    }
}
