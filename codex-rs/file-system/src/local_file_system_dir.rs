//! The descriptor walk of `LocalFileSystem` (see its module docs, step 4): a [`Dir`] is
//! an open directory, every operation is relative to it, and no operation follows a
//! symlink in its last step. Every directory the walk opens is also checked against the
//! server's own `/proc` entries (`self_protection`).

use std::ffi::CString;
use std::ffi::OsStr;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::fd::AsRawFd;
use std::os::fd::FromRawFd;
use std::os::fd::IntoRawFd;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Component;
use std::path::Path;
use std::path::PathBuf;

use crate::self_protection::refuse_own_proc_dir;

/// Flags for walking: no symlinks, directories only.
#[cfg(target_os = "linux")]
const WALK_FLAGS: libc::c_int =
    libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
#[cfg(not(target_os = "linux"))]
const WALK_FLAGS: libc::c_int =
    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;

/// Flags to open an entry itself for its metadata, without following a symlink.
#[cfg(target_os = "linux")]
const ENTRY_FLAGS: libc::c_int = libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC;
#[cfg(not(target_os = "linux"))]
const ENTRY_FLAGS: libc::c_int =
    libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC;

fn c_name(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn check(result: libc::c_int) -> io::Result<()> {
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// An open directory; every operation is relative to it and never follows a symlink in
/// its last step.
pub(super) struct Dir {
    fd: OwnedFd,
}

impl Dir {
    pub(super) fn root() -> io::Result<Dir> {
        let root = c_name(OsStr::new("/"))?;
        // SAFETY: a valid C string; the returned descriptor is owned below.
        let fd = unsafe { libc::open(root.as_ptr(), WALK_FLAGS) };
        check(fd)?;
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Ok(Dir {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Walk a resolved absolute path from `/`, one component at a time, never following
    /// a symlink.
    pub(super) fn open_path(path: &Path) -> io::Result<Dir> {
        let mut dir = Dir::root()?;
        for component in path.components() {
            match component {
                Component::RootDir => {}
                Component::Normal(name) => dir = dir.open_dir(name)?,
                Component::Prefix(_) | Component::CurDir | Component::ParentDir => {
                    return Err(io::Error::from(io::ErrorKind::InvalidInput));
                }
            }
        }
        Ok(dir)
    }

    pub(super) fn openat(
        &self,
        name: &OsStr,
        flags: libc::c_int,
        mode: libc::mode_t,
    ) -> io::Result<OwnedFd> {
        let name = c_name(name)?;
        // SAFETY: a valid directory descriptor and C string; the result is owned below.
        let fd = unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                name.as_ptr(),
                flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                libc::c_uint::from(mode),
            )
        };
        check(fd)?;
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Open a subdirectory; a symlink in its place is `ELOOP` (with `O_PATH` Linux reports
    /// `ENOTDIR` for it, so that case is told apart here).
    pub(super) fn open_dir(&self, name: &OsStr) -> io::Result<Dir> {
        match self.openat(name, WALK_FLAGS, /*mode*/ 0) {
            Ok(fd) => {
                refuse_own_proc_dir(fd.as_fd())?;
                Ok(Dir { fd })
            }
            Err(err) if err.raw_os_error() == Some(libc::ENOTDIR) => match self.metadata_of(name) {
                Ok(metadata) if metadata.file_type().is_symlink() => {
                    Err(io::Error::from_raw_os_error(libc::ELOOP))
                }
                Ok(_) | Err(_) => Err(err),
            },
            Err(err) => Err(err),
        }
    }

    pub(super) fn open_file(
        &self,
        name: &OsStr,
        flags: libc::c_int,
        mode: libc::mode_t,
    ) -> io::Result<File> {
        self.openat(name, flags, mode).map(File::from)
    }

    /// Metadata of the entry itself (a symlink is reported as a symlink).
    pub(super) fn metadata_of(&self, name: &OsStr) -> io::Result<std::fs::Metadata> {
        File::from(self.openat(name, ENTRY_FLAGS, /*mode*/ 0)?).metadata()
    }

    pub(super) fn metadata(&self) -> io::Result<std::fs::Metadata> {
        File::from(self.fd.try_clone()?).metadata()
    }

    pub(super) fn mkdir(&self, name: &OsStr) -> io::Result<()> {
        let name = c_name(name)?;
        // SAFETY: a valid directory descriptor and C string.
        check(unsafe {
            libc::mkdirat(self.fd.as_raw_fd(), name.as_ptr(), /*mode*/ 0o777)
        })
    }

    pub(super) fn unlink(&self, name: &OsStr, directory: bool) -> io::Result<()> {
        let name = c_name(name)?;
        let flags = if directory { libc::AT_REMOVEDIR } else { 0 };
        // SAFETY: a valid directory descriptor and C string.
        check(unsafe { libc::unlinkat(self.fd.as_raw_fd(), name.as_ptr(), flags) })
    }

    pub(super) fn read_link(&self, name: &OsStr) -> io::Result<PathBuf> {
        let name = c_name(name)?;
        let mut buffer = vec![0u8; 256];
        loop {
            // SAFETY: the buffer is valid for `buffer.len()` bytes.
            let len = unsafe {
                libc::readlinkat(
                    self.fd.as_raw_fd(),
                    name.as_ptr(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                )
            };
            let Ok(len) = usize::try_from(len) else {
                return Err(io::Error::last_os_error());
            };
            if len < buffer.len() {
                buffer.truncate(len);
                return Ok(PathBuf::from(OsStr::from_bytes(&buffer)));
            }
            buffer.resize(buffer.len() * 2, /*value*/ 0);
        }
    }

    pub(super) fn symlink(&self, target: &Path, name: &OsStr) -> io::Result<()> {
        let target = c_name(target.as_os_str())?;
        let name = c_name(name)?;
        // SAFETY: valid C strings and directory descriptor.
        check(unsafe { libc::symlinkat(target.as_ptr(), self.fd.as_raw_fd(), name.as_ptr()) })
    }

    /// Names in this directory, without `.` and `..`.
    pub(super) fn entries(&self) -> io::Result<Vec<OsString>> {
        let fd = self.openat(
            OsStr::new("."),
            libc::O_RDONLY | libc::O_DIRECTORY,
            /*mode*/ 0,
        )?;
        let raw = fd.into_raw_fd();
        // SAFETY: `raw` is an open directory descriptor; fdopendir takes it over.
        let stream = unsafe { libc::fdopendir(raw) };
        if stream.is_null() {
            let err = io::Error::last_os_error();
            // SAFETY: fdopendir failed, so `raw` is still ours to close.
            drop(unsafe { OwnedFd::from_raw_fd(raw) });
            return Err(err);
        }
        let mut names = Vec::new();
        loop {
            // SAFETY: `stream` is a valid DIR* until closedir below.
            let entry = unsafe { libc::readdir(stream) };
            if entry.is_null() {
                break;
            }
            // SAFETY: readdir returned a valid entry whose name is NUL-terminated.
            let name = unsafe { std::ffi::CStr::from_ptr((*entry).d_name.as_ptr()) };
            let name = name.to_bytes();
            if name != b"." && name != b".." {
                names.push(OsStr::from_bytes(name).to_os_string());
            }
        }
        // SAFETY: `stream` came from fdopendir and is closed once.
        unsafe { libc::closedir(stream) };
        Ok(names)
    }
}

/// Remove `name` in `parent` and everything below it, through descriptors (symlinks in
/// the tree are removed as links, never followed).
pub(super) fn remove_tree(parent: &Dir, name: &OsStr) -> io::Result<()> {
    let dir = parent.open_dir(name)?;
    for entry in dir.entries()? {
        if dir.metadata_of(&entry)?.is_dir() {
            remove_tree(&dir, &entry)?;
        } else {
            dir.unlink(&entry, /*directory*/ false)?;
        }
    }
    parent.unlink(name, /*directory*/ true)
}
