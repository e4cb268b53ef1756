//! The kernel's file-descriptor based mount calls (Linux 5.2 and later; `mount_setattr`
//! 5.12), as the mount launcher (`mount_launcher.rs`) uses them: a tree is cloned into a
//! descriptor, given its options in one call for every mount in it, and attached by
//! descriptor, so nothing is looked up by path twice and nothing reads `mountinfo`.

use std::ffi::CStr;
use std::ffi::CString;
use std::io;
use std::os::fd::AsRawFd;
use std::os::fd::FromRawFd;
use std::os::fd::OwnedFd;
use std::os::fd::RawFd;

/// `linux/mount.h`, kept here so that the values are the kernel's whatever `libc` offers.
pub(crate) const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub(crate) const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub(crate) const MOUNT_ATTR_NODEV: u64 = 0x4;
pub(crate) const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const OPEN_TREE_CLONE: libc::c_uint = 0x1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
const FSOPEN_CLOEXEC: libc::c_uint = 0x1;
const FSMOUNT_CLOEXEC: libc::c_uint = 0x1;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;

/// `struct mount_attr`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn check(result: libc::c_long) -> io::Result<libc::c_long> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

fn owned(result: libc::c_long) -> io::Result<OwnedFd> {
    let fd = check(result)?;
    // SAFETY: the call returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A detached copy of the mount tree at `dir_fd` + `path` (every mount below it too;
/// `path` empty: `dir_fd` itself), close-on-exec.
pub(crate) fn clone_tree(dir_fd: RawFd, path: &CStr) -> io::Result<OwnedFd> {
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_RECURSIVE as u32;
    if path.is_empty() {
        flags |= libc::AT_EMPTY_PATH as libc::c_uint;
    }
    // SAFETY: open_tree with a NUL-terminated path and plain flags.
    owned(unsafe { libc::syscall(libc::SYS_open_tree, dir_fd, path.as_ptr(), flags) })
}

/// Sets `attrs` on the mount `tree` is the root of (`recursive`: and on every mount
/// below it), and makes them private: nothing mounted on the host later appears in them.
pub(crate) fn set_attrs(tree: &OwnedFd, attrs: u64, recursive: bool) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: attrs,
        attr_clr: 0,
        propagation: libc::MS_PRIVATE,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: mount_setattr reads the attribute struct we pass with its size.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}

/// Sets `attrs` on the mount whose root is `target` alone (an `O_PATH` descriptor).
pub(crate) fn set_attrs_of_mount(target: &OwnedFd, attrs: u64) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: attrs,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: as in `set_attrs`.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            target.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}

/// Attaches the detached `tree` on `target` (an `O_PATH` descriptor of the mount point).
pub(crate) fn attach(tree: &OwnedFd, target: &OwnedFd) -> io::Result<()> {
    // SAFETY: move_mount between two descriptors with empty paths.
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    })
    .map(drop)
}

/// A new, detached file system of `fs_type` with `options` (`(key, None)` is a flag),
/// mounted with `attrs`.
pub(crate) fn new_fs(
    fs_type: &CStr,
    options: &[(&CStr, Option<&CStr>)],
    attrs: u64,
) -> io::Result<OwnedFd> {
    // SAFETY: fsopen with a NUL-terminated name.
    let context =
        owned(unsafe { libc::syscall(libc::SYS_fsopen, fs_type.as_ptr(), FSOPEN_CLOEXEC) })?;
    // Named after its type in `mountinfo`, as `mount -t TYPE TYPE DIR` would.
    let source: (&CStr, Option<&CStr>) = (c"source", Some(fs_type));
    for (key, value) in std::iter::once(&source).chain(options) {
        let (command, value) = match value {
            Some(value) => (FSCONFIG_SET_STRING, value.as_ptr()),
            None => (FSCONFIG_SET_FLAG, std::ptr::null()),
        };
        // SAFETY: fsconfig with NUL-terminated strings (or null for a flag).
        check(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                context.as_raw_fd(),
                command,
                key.as_ptr(),
                value,
                /*aux*/ 0,
            )
        })?;
    }
    // SAFETY: as above, with no key or value.
    check(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            context.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_char>(),
            /*aux*/ 0,
        )
    })?;
    // SAFETY: fsmount on the context we own.
    owned(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            context.as_raw_fd(),
            FSMOUNT_CLOEXEC,
            attrs,
        )
    })
}

/// Opens `name` in `dir` as an `O_PATH` descriptor without following any symlink (nor
/// `..` out of `dir`): what a mount is then attached on is exactly what was checked.
pub(crate) fn open_beneath(dir: RawFd, name: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `open_how` is plain integers, for which zero is valid.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_CLOEXEC | libc::O_NOFOLLOW) as u64;
    how.resolve = libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_BENEATH;
    // SAFETY: openat2 reads the struct we pass with its size.
    owned(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir,
            name.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    })
}

/// `pivot_root(".", ".")`: the current directory (a mount point) becomes the root, with
/// the old root stacked on it until it is detached.
pub(crate) fn pivot_to_cwd() -> io::Result<()> {
    // SAFETY: pivot_root with two NUL-terminated paths.
    check(unsafe { libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) })?;
    // SAFETY: umount2 with a NUL-terminated path.
    if unsafe { libc::umount2(c".".as_ptr(), libc::MNT_DETACH) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `path` as a C string (paths never hold NUL bytes when they come from the kernel; one
/// from an argument might).
pub(crate) fn c_path(path: &[u8]) -> io::Result<CString> {
    CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Whether this kernel has the calls the mount launcher makes (`mount_setattr`, the last
/// of them, came with Linux 5.12): asked with a call that can only fail, with `ENOSYS`
/// where it is missing.
pub(crate) fn check_kernel() -> io::Result<()> {
    // SAFETY: mount_setattr on no descriptor with no attributes changes nothing.
    let result = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            /*dirfd*/ -1,
            c"".as_ptr(),
            /*flags*/ 0,
            std::ptr::null::<MountAttr>(),
            /*size*/ 0,
        )
    };
    match io::Error::last_os_error() {
        err if result < 0 && err.raw_os_error() == Some(libc::ENOSYS) => Err(err),
        _ => Ok(()),
    }
}
