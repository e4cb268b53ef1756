//! Placeholders: the host directories that missing protected paths are mounted on.
//!
//! A protected path that does not exist yet (`.git` in a fresh workspace) is protected by
//! an empty read-only tmpfs at its path, so the command cannot create it. The writable
//! root is a bind of the host directory, so the mount point has to exist *on the host*
//! while the sandbox runs, and should go again afterwards. Removing it while another
//! sandbox still mounts it would be a hole: the kernel detaches mounts whose mount point
//! is removed, in every namespace, and that sandbox could then create `.git`.
//!
//! Sandboxes of different processes (two exec-servers, a `codex-linux-sandbox` run)
//! share these directories, so the bookkeeping lives in the filesystem: every sandbox
//! holds a shared `flock` on each placeholder it mounts, from before bubblewrap starts
//! until it was reaped, and a placeholder is removed only by whoever can turn its lock
//! into an exclusive one, i.e. when no sandbox of any process still mounts it. A
//! placeholder is created with [`crate::PLACEHOLDER_MODE`], which is how one left by
//! another process (or a crash) is recognised and reused rather than taken for a
//! directory a person made.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::OpenOptionsExt;

use codex_utils_absolute_path::AbsolutePathBuf;

use crate::LinuxSandboxError;
use crate::bwrap_argv::PLACEHOLDER_MODE;
use crate::bwrap_argv::is_placeholder;

/// How often acquiring one placeholder is retried when another process removed it
/// between our `mkdir` and our lock.
const ACQUIRE_ATTEMPTS: usize = 32;

/// The placeholders one sandbox mounts, each held with a shared lock. Take it with
/// [`PlaceholderLease::acquire`] before bubblewrap starts; [`PlaceholderLease::release`]
/// once it was reaped removes those no other sandbox holds. Dropped without `release`
/// (bubblewrap may still run), the locks are kept until this process exits and the
/// directories stay, as after a crash.
#[derive(Debug)]
pub struct PlaceholderLease {
    held: Vec<(AbsolutePathBuf, File)>,
}

impl PlaceholderLease {
    /// Creates (or finds) each placeholder directory and takes a shared lock on it.
    pub fn acquire(paths: &[AbsolutePathBuf]) -> Result<Self, LinuxSandboxError> {
        let mut lease = Self { held: Vec::new() };
        for path in paths {
            let dir = hold(path).map_err(|source| LinuxSandboxError::Placeholder {
                path: path.clone(),
                source,
            })?;
            lease.held.push((path.clone(), dir));
        }
        Ok(lease)
    }

    /// Removes the placeholders no other sandbox holds, then lets go of the rest. The
    /// directories are gone when this returns; closing their descriptors (which frees a
    /// removed directory, a tenth of a millisecond each) is left to a thread of its own,
    /// so that the exit of a sandboxed command is not reported later for it.
    pub fn release(mut self) {
        let mut done = Vec::with_capacity(self.held.len());
        for (path, dir) in self.held.drain(..) {
            remove_if_unused(&path, &dir);
            done.push(dir);
        }
        close_later(done);
    }
}

impl Drop for PlaceholderLease {
    fn drop(&mut self) {
        // Not released: bubblewrap may still run, so the locks must outlive this value.
        for (_, dir) in self.held.drain(..) {
            std::mem::forget(dir);
        }
    }
}

/// `mkdir` (or find) the placeholder at `path`, open it and lock it shared; retried when
/// another process removed it in between (our descriptor then names a removed
/// directory, not the one at `path`).
fn hold(path: &AbsolutePathBuf) -> io::Result<File> {
    for _ in 0..ACQUIRE_ATTEMPTS {
        match std::fs::DirBuilder::new()
            .mode(PLACEHOLDER_MODE)
            .create(path.as_path())
        {
            Ok(()) => {
                // The umask may have taken bits; the mode is the marker.
                std::fs::set_permissions(
                    path.as_path(),
                    std::os::unix::fs::PermissionsExt::from_mode(PLACEHOLDER_MODE),
                )?;
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(err),
        }
        let dir = match std::fs::OpenOptions::new()
            .read(/*read*/ true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path.as_path())
        {
            Ok(dir) => dir,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err),
        };
        flock(&dir, libc::LOCK_SH)?;
        let ours = dir.metadata()?;
        match std::fs::symlink_metadata(path.as_path()) {
            Ok(now) if now.dev() == ours.dev() && now.ino() == ours.ino() => return Ok(dir),
            Ok(_) => continue,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err),
        }
    }
    Err(io::Error::other(
        "it kept being removed and recreated by other processes",
    ))
}

/// Removes the placeholder at `path` (held through `dir`) if no other sandbox holds it
/// and it is still the same, empty placeholder directory.
fn remove_if_unused(path: &AbsolutePathBuf, dir: &File) {
    if flock(dir, libc::LOCK_EX | libc::LOCK_NB).is_err() {
        tracing::debug!("placeholder `{path}` is still mounted by another sandbox");
        return;
    }
    let same = match (dir.metadata(), std::fs::symlink_metadata(path.as_path())) {
        (Ok(ours), Ok(now)) => {
            now.dev() == ours.dev() && now.ino() == ours.ino() && is_placeholder(&now)
        }
        _ => false,
    };
    if !same {
        return;
    }
    // Only an empty directory goes (`rmdir`): anything created there from outside the
    // sandbox stays, and so does the directory.
    match std::fs::remove_dir(path.as_path()) {
        Ok(()) => tracing::debug!("removed placeholder `{path}`"),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => tracing::warn!("could not remove placeholder `{path}`: {err}"),
    }
}

/// Drops `files` on a thread that only closes descriptors (here, if it cannot be
/// started). Nothing depends on when they are closed: a lock on a removed directory
/// guards nothing, and a kept placeholder is still held by another sandbox.
fn close_later(files: Vec<File>) {
    static CLOSER: std::sync::OnceLock<Option<std::sync::mpsc::Sender<Vec<File>>>> =
        std::sync::OnceLock::new();
    let closer = CLOSER.get_or_init(|| {
        let (send, receive) = std::sync::mpsc::channel::<Vec<File>>();
        std::thread::Builder::new()
            .name("codex-placeholder-close".to_string())
            .spawn(move || receive.into_iter().for_each(drop))
            .ok()
            .map(|_| send)
    });
    match closer {
        Some(closer) => {
            // A send fails only if the thread is gone; the files come back to be dropped.
            if let Err(std::sync::mpsc::SendError(files)) = closer.send(files) {
                drop(files);
            }
        }
        None => drop(files),
    }
}

fn flock(file: &File, operation: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock on a descriptor we own; no memory is involved.
        if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
#[path = "placeholder_tests.rs"]
mod tests;
