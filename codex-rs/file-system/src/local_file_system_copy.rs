//! `copy`'s use half: copying a file or a tree through descriptors, within a byte budget
//! (`--max-fs-copy-bytes`). The tree is measured first, so a source that is too big is
//! refused before anything is written; a source that grows past the budget while it is
//! copied stops the copy at the first byte too many, and the caller removes the copy.

use std::ffi::OsStr;
use std::io;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;

use codex_utils_absolute_path::AbsolutePathBuf;

use super::Dir;
use crate::file_system::FileSystemError;

/// Bytes one copy may still write.
pub(super) struct Budget {
    limit: u64,
    used: u64,
}

impl Budget {
    pub(super) fn new(limit: u64) -> Self {
        Self { limit, used: 0 }
    }
}

/// The marker inside the [`io::Error`] a copy stops with when its source grew past the
/// budget.
#[derive(Debug, thiserror::Error)]
#[error("the source grew past the copy limit")]
struct OverBudget;

/// Whether `err` is a copy stopping because its source grew past the budget.
pub(super) fn is_over_budget(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|inner| inner.is::<OverBudget>())
}

/// The `tooLarge` error for a source measured at `needed` bytes (or more) up front.
pub(super) fn too_large(source: &AbsolutePathBuf, needed: u64, limit: u64) -> FileSystemError {
    FileSystemError::TooLarge(format!(
        "copying `{source}` would write {needed} bytes or more; the limit for one fs/copy is \
         {limit} bytes; nothing was written; copy it with a process (e.g. `cp -r`) or raise \
         --max-fs-copy-bytes"
    ))
}

/// The `tooLarge` error for a source that grew past the limit during the copy, after
/// the partial copy was removed (`removed`).
pub(super) fn grew_too_large(
    source: &AbsolutePathBuf,
    destination: &AbsolutePathBuf,
    limit: u64,
    removed: io::Result<()>,
) -> FileSystemError {
    let cleanup = match removed {
        Ok(()) => "the partial copy was removed".to_string(),
        Err(err) => format!("removing the partial copy failed: {err}"),
    };
    FileSystemError::TooLarge(format!(
        "`{source}` grew past the limit for one fs/copy ({limit} bytes) while it was copied \
         to `{destination}`; {cleanup}"
    ))
}

/// Bytes of the regular files in the tree `dir`, counting no further than just past
/// `limit` (a bigger tree is refused anyway).
pub(super) fn tree_size(dir: &Dir, limit: u64) -> io::Result<u64> {
    let mut total = 0u64;
    for name in dir.entries()? {
        let metadata = match dir.metadata_of(&name) {
            Ok(metadata) => metadata,
            // Removed since it was listed.
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(err) => return Err(err),
        };
        if metadata.is_dir() {
            total = total.saturating_add(tree_size(
                &dir.open_dir(&name)?,
                limit.saturating_sub(total),
            )?);
        } else if metadata.is_file() {
            total = total.saturating_add(metadata.len());
        }
        if total > limit {
            break;
        }
    }
    Ok(total)
}

/// Copy the file `from_name` to `to_name`, with its permission bits, within `budget`.
pub(super) fn copy_file(
    from: &Dir,
    from_name: &OsStr,
    to: &Dir,
    to_name: &OsStr,
    budget: &mut Budget,
) -> io::Result<()> {
    let mut source = from.open_file(
        from_name,
        libc::O_RDONLY | libc::O_NONBLOCK,
        /*mode*/ 0,
    )?;
    let mode = source.metadata()?.permissions().mode() & 0o777;
    let mut destination = to.open_file(
        to_name,
        libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NONBLOCK,
        /*mode*/ 0o600,
    )?;
    let remaining = budget.limit.saturating_sub(budget.used);
    // One byte more than the budget allows tells a source that grew.
    let copied = io::copy(
        &mut (&mut source).take(remaining.saturating_add(1)),
        &mut destination,
    )?;
    budget.used = budget.used.saturating_add(copied);
    if budget.used > budget.limit {
        return Err(io::Error::other(OverBudget));
    }
    destination.set_permissions(std::fs::Permissions::from_mode(mode))
}

/// Copy the contents of `from` into the (new, empty) `to` within `budget`. Symlinks are
/// recreated with the same target and never followed; sockets, FIFOs and devices are
/// skipped.
pub(super) fn copy_tree(from: &Dir, to: &Dir, budget: &mut Budget) -> io::Result<()> {
    for name in from.entries()? {
        let file_type = from.metadata_of(&name)?.file_type();
        if file_type.is_dir() {
            to.mkdir(&name)?;
            copy_tree(&from.open_dir(&name)?, &to.open_dir(&name)?, budget)?;
        } else if file_type.is_file() {
            copy_file(from, &name, to, &name, budget)?;
        } else if file_type.is_symlink() {
            to.symlink(&from.read_link(&name)?, &name)?;
        }
    }
    Ok(())
}
