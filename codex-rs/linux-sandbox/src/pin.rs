//! Sources of bind mounts pinned by descriptor, so that what bubblewrap mounts is the
//! directory that was checked, not whatever the path leads to a moment later.
//!
//! Roots are resolved and checked before bubblewrap starts, but bubblewrap mounts them
//! by path. A command in another, concurrently running sandbox that may write a root's
//! parent could swap the root for a symlink in between, and bubblewrap would then mount
//! the link's target, writable. Opening each source here, walking the resolved path one
//! component at a time without following any symlink, and handing bubblewrap the
//! descriptor (`--bind-fd`, `--ro-bind-fd`) closes that window: a swap before the open
//! is refused (a symlink met on the way), one after it changes nothing.

use std::ffi::CString;
use std::io;
use std::os::fd::AsRawFd;
use std::os::fd::FromRawFd;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Component;
use std::path::Path;

use crate::launcher::above_stderr;

/// An `O_PATH` descriptor of the resolved `path`, opened component by component from `/`
/// without following symlinks: a symlink anywhere on the way (the path was resolved, so
/// one there means something changed it since) is `ELOOP`. Close-on-exec and above
/// stderr.
pub(crate) fn open_pinned(path: &Path) -> io::Result<OwnedFd> {
    let mut current = open_at(/*dir*/ None, c"/", libc::O_DIRECTORY)?;
    for component in path.components() {
        let name = match component {
            Component::RootDir => continue,
            Component::Normal(name) => name,
            Component::CurDir | Component::ParentDir | Component::Prefix(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("`{}` is not a resolved path", path.display()),
                ));
            }
        };
        let name = CString::new(name.as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"))?;
        let next = open_at(Some(&current), &name, libc::O_NOFOLLOW)?;
        // SAFETY: an all-zero stat is a valid buffer for fstat to fill.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat on a descriptor we own, into the buffer above.
        if unsafe { libc::fstat(next.as_raw_fd(), &mut stat) } != 0 {
            return Err(io::Error::last_os_error());
        }
        if stat.st_mode & libc::S_IFMT == libc::S_IFLNK {
            return Err(io::Error::other(format!(
                "`{}` changed while the sandbox was prepared: a symlink is now on its way",
                path.display()
            )));
        }
        current = next;
    }
    above_stderr(current)
}

fn open_at(
    dir: Option<&OwnedFd>,
    name: &std::ffi::CStr,
    flags: libc::c_int,
) -> io::Result<OwnedFd> {
    let dir = dir.map_or(libc::AT_FDCWD, AsRawFd::as_raw_fd);
    // SAFETY: openat with a NUL-terminated name; the result is a new descriptor we own.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), libc::O_PATH | libc::O_CLOEXEC | flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
#[path = "pin_tests.rs"]
mod tests;
