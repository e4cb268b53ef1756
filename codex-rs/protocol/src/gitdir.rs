//! Reading a `.git` pointer file (`gitdir: <path>`), the one place this crate touches
//! the filesystem.
//!
//! Worktrees and submodules have a `.git` *file* naming the real git directory, which
//! holds the hooks. [`crate::WriteAccess::protect_gitdir_targets`] protects that
//! directory and takes the reader as a closure; this module supplies the one that reads
//! the disk, kept apart so everything else in the crate stays pure.

use std::path::Path;
use std::path::PathBuf;

/// Reads `dot_git` and returns the directory its `gitdir:` line names, or `None` when
/// `dot_git` is not a regular file holding such a line (a normal `.git` directory, a
/// missing one, an unreadable or malformed file).
///
/// A relative pointer is resolved against the directory holding `dot_git`, and the
/// result is canonicalised when it exists, so it compares equal to the resolved paths
/// the filesystem layer checks.
pub fn read_gitdir_pointer_from_disk(dot_git: &Path) -> Option<PathBuf> {
    let target = read_gitdir_pointer_as_written(dot_git)?;
    Some(std::fs::canonicalize(&target).unwrap_or(target))
}

/// [`read_gitdir_pointer_from_disk`] without following symlinks: the pointer joined to
/// the directory holding `dot_git`, as git will walk it. A caller that must know which
/// symlinks git follows on the way (a sandboxed command could replace one) resolves it
/// itself.
pub fn read_gitdir_pointer_as_written(dot_git: &Path) -> Option<PathBuf> {
    let metadata = std::fs::symlink_metadata(dot_git).ok()?;
    if !metadata.is_file() {
        return None;
    }
    let contents = std::fs::read_to_string(dot_git).ok()?;
    let pointer = parse_gitdir_pointer(&contents)?;
    Some(match dot_git.parent() {
        Some(parent) => parent.join(pointer),
        None => pointer,
    })
}

/// The path of a `gitdir: <path>` file as git reads it (after `gitdir: `, up to the
/// trailing line ends: leading spaces beyond the first belong to the path); `None` for any
/// other content. Without the space after the colon git refuses the file; the path is
/// still returned, which only protects more.
fn parse_gitdir_pointer(contents: &str) -> Option<PathBuf> {
    let rest = contents.strip_prefix("gitdir:")?;
    let value = rest.strip_prefix(' ').unwrap_or(rest);
    let value = value.trim_end_matches(['\n', '\r']);
    if value.trim().is_empty() || value.contains('\n') {
        return None;
    }
    Some(PathBuf::from(value))
}

#[cfg(test)]
#[path = "gitdir_tests.rs"]
mod tests;
