//! What can go wrong applying a patch, each with the path it concerns and, where the
//! patch was partly written, what was.

use codex_file_system::FileSystemError;

use crate::parser::ParseError;
use crate::update::UpdateError;

/// Why a patch was not (or not wholly) applied. Every variant but
/// [`ApplyPatchError::PartiallyApplied`] is found while verifying, before anything is
/// written: the files are as they were.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyPatchError {
    /// The patch text is not in the apply-patch format.
    #[error("invalid patch: {0}")]
    Parse(#[from] ParseError),
    /// A path of the patch cannot be used.
    #[error("invalid path `{path}`: {reason}")]
    InvalidPath {
        /// The path as the patch writes it.
        path: String,
        /// Why.
        reason: String,
    },
    /// Two operations of the patch change the same file.
    #[error(
        "`{path}` is changed by more than one operation of this patch ({first} and {second}); \
         merge them into one"
    )]
    Conflict {
        /// The path as the patch writes it (the second time).
        path: String,
        /// The first operation, e.g. `*** Add File: a.txt`.
        first: String,
        /// The second operation.
        second: String,
    },
    /// A file to update or delete does not exist.
    #[error("cannot {action} `{path}`: no such file")]
    Missing {
        /// The path as the patch writes it.
        path: String,
        /// `update`, `delete`.
        action: &'static str,
    },
    /// Something other than a regular file is where the patch needs one (or a directory
    /// it needs, for a parent, is a file).
    #[error("cannot {action} `{path}`: {what}")]
    NotAFile {
        /// The path as the patch writes it.
        path: String,
        /// `update`, `delete`, `add`, `move to`.
        action: &'static str,
        /// What is there instead (`it is a directory`, `it is a symbolic link ...`).
        what: String,
    },
    /// A file to update is not UTF-8 text.
    #[error("cannot update `{path}`: it is not UTF-8 text; apply_patch edits text files only")]
    NotUtf8 {
        /// The path as the patch writes it.
        path: String,
    },
    /// A hunk does not apply to the file's current text.
    #[error("{0}")]
    Update(#[from] UpdateError),
    /// The policy or the host would refuse a write (found by `check_write`).
    #[error("cannot write `{path}`: {source}")]
    Denied {
        /// The path as the patch writes it.
        path: String,
        /// What the filesystem said.
        source: FileSystemError,
    },
    /// Reading what the patch needs failed.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The path as the patch writes it.
        path: String,
        /// What the filesystem said.
        source: FileSystemError,
    },
    /// A write failed after others succeeded: the patch is partly applied.
    #[error(
        "{action} `{path}` failed after the patch was partly applied: {source}\n\
         already done:\n{}",
        done_list(.done)
    )]
    PartiallyApplied {
        /// The change that failed (`write`, `remove`, `create the directory of`).
        action: &'static str,
        /// The path as the patch writes it.
        path: String,
        /// What the filesystem said.
        source: FileSystemError,
        /// What was written before, as summary lines (`A path`, `M path`, `D path`).
        done: Vec<String>,
    },
}

fn done_list(done: &[String]) -> String {
    if done.is_empty() {
        return "  (nothing)".to_string();
    }
    done.iter()
        .map(|line| format!("  {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
