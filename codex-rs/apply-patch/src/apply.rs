//! Applying a parsed patch over an [`ExecutorFileSystem`]: verify everything, then write.
//!
//! [`verify_patch`] reads and checks everything the patch needs and computes every new
//! file, without writing: each path resolves (relative ones against the cwd), no file is
//! changed twice, every file to update or delete exists and is a regular file, nothing the
//! patch writes is or passes (below the cwd) through a symbolic link, every hunk is found,
//! every file to update is UTF-8, and the filesystem confirms every write would be allowed
//! ([`ExecutorFileSystem::check_write`]: the sandbox policy, and the host's permissions).
//! [`VerifiedPatch::write`] then writes file by file; a write that fails there (disk full,
//! the tree changed meanwhile) ends with [`ApplyPatchError::PartiallyApplied`], which lists
//! what was already done.
//!
//! Nothing here touches the local disk: the same code applies a patch on this machine or
//! on a remote exec-server, depending only on the filesystem it is given.

use std::collections::HashMap;

use codex_file_system::CreateDirectoryOptions;
use codex_file_system::ExecutorFileSystem;
use codex_file_system::FileSystemError;
use codex_file_system::RemoveOptions;
use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;
use futures_util::StreamExt;
use futures_util::TryStreamExt;

use crate::error::ApplyPatchError;
use crate::parser::Hunk;
use crate::parser::parse_patch;
use crate::update::apply_chunks;

/// How many files are read and checked at once while verifying (requests to a remote
/// server are pipelined on its connection).
const VERIFY_CONCURRENCY: usize = 16;

/// Where a patch applies: a filesystem, the directory relative paths start from, and the
/// sandbox policy every access is checked against (`None`: only the host's permissions).
#[derive(Clone, Copy)]
pub struct PatchTarget<'a> {
    /// The executor's filesystem (local or remote).
    pub fs: &'a dyn ExecutorFileSystem,
    /// Relative paths of the patch are resolved against this directory.
    pub cwd: &'a AbsolutePathBuf,
    /// Checked on every read and write.
    pub sandbox_policy: Option<&'a SandboxPolicy>,
}

/// The kind of change to one file, as the summary prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// `A`: a file was added (or an existing one replaced by `*** Add File`).
    Added,
    /// `M`: a file was updated (and possibly moved).
    Modified,
    /// `D`: a file was deleted.
    Deleted,
}

impl ChangeKind {
    fn letter(self) -> char {
        match self {
            ChangeKind::Added => 'A',
            ChangeKind::Modified => 'M',
            ChangeKind::Deleted => 'D',
        }
    }
}

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// What happened to it.
    pub kind: ChangeKind,
    /// The path as the patch writes it (the destination of a move).
    pub display: String,
    /// The path, resolved against the cwd.
    pub path: AbsolutePathBuf,
}

impl FileChange {
    /// `A path`, `M path` or `D path`.
    pub fn summary_line(&self) -> String {
        format!("{} {}", self.kind.letter(), self.display)
    }
}

/// A patch that was applied: its changes in patch order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedPatch {
    /// One entry per file operation of the patch.
    pub changes: Vec<FileChange>,
}

impl AppliedPatch {
    /// What the `apply_patch` command prints on success (as upstream Codex does):
    /// `Success. Updated the following files:` and one line per change.
    pub fn summary(&self) -> String {
        let mut out = String::from("Success. Updated the following files:\n");
        for change in &self.changes {
            out.push_str(&change.summary_line());
            out.push('\n');
        }
        out
    }
}

/// One write of a verified patch.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Write the file, after creating its missing parent directories when `new` (an
    /// update in place has its directory already: one round trip less remotely).
    Write {
        path: AbsolutePathBuf,
        display: String,
        contents: Vec<u8>,
        new: bool,
    },
    /// Remove the file.
    Remove {
        path: AbsolutePathBuf,
        display: String,
    },
}

/// One file operation, verified: the steps that carry it out and how it is reported.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Operation {
    steps: Vec<Step>,
    change: FileChange,
}

/// A patch that was checked against the files as they are now and can be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedPatch {
    operations: Vec<Operation>,
}

/// Parses `patch`, verifies it against `target` and writes it (see the module docs).
pub async fn apply_patch(
    patch: &str,
    target: PatchTarget<'_>,
) -> Result<AppliedPatch, ApplyPatchError> {
    verify_patch(patch, target).await?.write(target).await
}

/// Parses `patch` and checks it against `target` without writing anything.
pub async fn verify_patch(
    patch: &str,
    target: PatchTarget<'_>,
) -> Result<VerifiedPatch, ApplyPatchError> {
    let parsed = parse_patch(patch)?;
    let mut claimed: HashMap<AbsolutePathBuf, String> = HashMap::new();
    let mut planned = Vec::with_capacity(parsed.hunks.len());
    for hunk in parsed.hunks {
        let resolved = Resolved::new(&hunk, target.cwd)?;
        for (path, display) in resolved.touched() {
            let this = resolved.describe(display);
            if let Some(first) = claimed.insert(path.clone(), this.clone()) {
                return Err(ApplyPatchError::Conflict {
                    path: display.to_string(),
                    first,
                    second: this,
                });
            }
        }
        planned.push((hunk, resolved));
    }
    let operations = futures_util::stream::iter(planned)
        .map(|(hunk, resolved)| verify_operation(hunk, resolved, target))
        .buffered(VERIFY_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(VerifiedPatch { operations })
}

impl VerifiedPatch {
    /// The changes this patch makes, in patch order.
    pub fn changes(&self) -> Vec<FileChange> {
        self.operations
            .iter()
            .map(|operation| operation.change.clone())
            .collect()
    }

    /// Writes the patch, file by file, in patch order.
    pub async fn write(self, target: PatchTarget<'_>) -> Result<AppliedPatch, ApplyPatchError> {
        let policy = target.sandbox_policy;
        let mut done: Vec<String> = Vec::new();
        let mut changes = Vec::with_capacity(self.operations.len());
        for operation in self.operations {
            for (index, step) in operation.steps.into_iter().enumerate() {
                let partial = |action, display: &str, source| {
                    let mut done = done.clone();
                    if index > 0 {
                        // A move whose removal failed: the new file is there, the old too.
                        done.push(format!(
                            "{} (written; `{display}` is still there)",
                            operation.change.summary_line()
                        ));
                    }
                    ApplyPatchError::PartiallyApplied {
                        action,
                        path: display.to_string(),
                        source,
                        done,
                    }
                };
                match step {
                    Step::Write {
                        path,
                        display,
                        contents,
                        new,
                    } => {
                        if let Some(parent) = path.parent().filter(|_| new) {
                            let options = CreateDirectoryOptions { recursive: true };
                            target
                                .fs
                                .create_directory(&parent, options, policy)
                                .await
                                .map_err(|err| {
                                    partial("creating the directory of", &display, err)
                                })?;
                        }
                        target
                            .fs
                            .write_file(&path, contents, policy)
                            .await
                            .map_err(|err| partial("writing", &display, err))?;
                    }
                    Step::Remove { path, display } => {
                        let options = RemoveOptions::default();
                        target
                            .fs
                            .remove(&path, options, policy)
                            .await
                            .map_err(|err| partial("removing", &display, err))?;
                    }
                }
            }
            done.push(operation.change.summary_line());
            changes.push(operation.change);
        }
        Ok(AppliedPatch { changes })
    }
}

/// The paths of one file operation, resolved against the cwd.
struct Resolved {
    /// `*** Add File: p` and the like, for messages.
    marker: &'static str,
    path: AbsolutePathBuf,
    display: String,
    /// The destination of a move (not the same file as `path`).
    move_to: Option<(AbsolutePathBuf, String)>,
}

impl Resolved {
    fn new(hunk: &Hunk, cwd: &AbsolutePathBuf) -> Result<Self, ApplyPatchError> {
        let (marker, path, move_path) = match hunk {
            Hunk::AddFile { path, .. } => ("*** Add File:", path, None),
            Hunk::DeleteFile { path } => ("*** Delete File:", path, None),
            Hunk::UpdateFile {
                path, move_path, ..
            } => ("*** Update File:", path, move_path.as_ref()),
        };
        let resolved = resolve(cwd, path)?;
        let move_to = match move_path {
            Some(destination) => {
                let to = resolve(cwd, destination)?;
                (to != resolved).then(|| (to, destination.clone()))
            }
            None => None,
        };
        Ok(Self {
            marker,
            path: resolved,
            display: path.clone(),
            move_to,
        })
    }

    /// Every file this operation changes.
    fn touched(&self) -> Vec<(&AbsolutePathBuf, &str)> {
        let mut touched = vec![(&self.path, self.display.as_str())];
        if let Some((to, display)) = &self.move_to {
            touched.push((to, display.as_str()));
        }
        touched
    }

    fn describe(&self, display: &str) -> String {
        match &self.move_to {
            Some((_, to)) if to == display => format!("`*** Move to: {to}`"),
            _ => format!("`{} {}`", self.marker, self.display),
        }
    }
}

/// `path` of the patch against `cwd`; `..` is applied lexically (whether the result may be
/// written is the policy's business, checked later).
fn resolve(cwd: &AbsolutePathBuf, path: &str) -> Result<AbsolutePathBuf, ApplyPatchError> {
    let invalid = |reason: &str| ApplyPatchError::InvalidPath {
        path: path.to_string(),
        reason: reason.to_string(),
    };
    if path.contains('\0') {
        return Err(invalid("it contains a NUL byte"));
    }
    let resolved = AbsolutePathBuf::resolve(cwd, path);
    if resolved.parent().is_none() {
        return Err(invalid("it names the root directory, not a file"));
    }
    Ok(resolved)
}

async fn verify_operation(
    hunk: Hunk,
    resolved: Resolved,
    target: PatchTarget<'_>,
) -> Result<Operation, ApplyPatchError> {
    let Resolved {
        path,
        display,
        move_to,
        ..
    } = resolved;
    match hunk {
        Hunk::AddFile { contents, .. } => {
            writable_file(&path, &display, "add", target, /*must_exist*/ false).await?;
            Ok(Operation {
                steps: vec![Step::Write {
                    path: path.clone(),
                    display: display.clone(),
                    contents: contents.into_bytes(),
                    new: true,
                }],
                change: FileChange {
                    kind: ChangeKind::Added,
                    display,
                    path,
                },
            })
        }
        Hunk::DeleteFile { .. } => {
            writable_file(&path, &display, "delete", target, /*must_exist*/ true).await?;
            Ok(Operation {
                steps: vec![Step::Remove {
                    path: path.clone(),
                    display: display.clone(),
                }],
                change: FileChange {
                    kind: ChangeKind::Deleted,
                    display,
                    path,
                },
            })
        }
        Hunk::UpdateFile { chunks, .. } => {
            writable_file(&path, &display, "update", target, /*must_exist*/ true).await?;
            let bytes = target
                .fs
                .read_file(&path, target.sandbox_policy)
                .await
                .map_err(|source| read_error(&display, source))?;
            let original = String::from_utf8(bytes).map_err(|_| ApplyPatchError::NotUtf8 {
                path: display.clone(),
            })?;
            let updated = apply_chunks(&display, &original, &chunks)?;
            let Some((to, to_display)) = move_to else {
                return Ok(Operation {
                    steps: vec![Step::Write {
                        path: path.clone(),
                        display: display.clone(),
                        contents: updated.into_bytes(),
                        new: false,
                    }],
                    change: FileChange {
                        kind: ChangeKind::Modified,
                        display,
                        path,
                    },
                });
            };
            writable_file(
                &to,
                &to_display,
                "move to",
                target,
                /*must_exist*/ false,
            )
            .await?;
            Ok(Operation {
                steps: vec![
                    Step::Write {
                        path: to.clone(),
                        display: to_display.clone(),
                        contents: updated.into_bytes(),
                        new: true,
                    },
                    Step::Remove { path, display },
                ],
                change: FileChange {
                    kind: ChangeKind::Modified,
                    display: to_display,
                    path: to,
                },
            })
        }
    }
}

/// Checks that `path` is a regular file (or, unless `must_exist`, nothing yet), that no
/// directory between the cwd and it is a symbolic link or a file, and that the
/// filesystem would let it be written.
async fn writable_file(
    path: &AbsolutePathBuf,
    display: &str,
    action: &'static str,
    target: PatchTarget<'_>,
    must_exist: bool,
) -> Result<(), ApplyPatchError> {
    let not_a_file = |what: &str| ApplyPatchError::NotAFile {
        path: display.to_string(),
        action,
        what: what.to_string(),
    };
    // The directories below the cwd on the way: a symlink there would carry the write
    // somewhere the patch does not name.
    if path.starts_with(target.cwd) {
        let mut ancestors: Vec<AbsolutePathBuf> = Vec::new();
        let mut current = path.parent();
        while let Some(dir) = current {
            if dir == *target.cwd || !dir.starts_with(target.cwd) {
                break;
            }
            current = dir.parent();
            ancestors.push(dir);
        }
        for dir in ancestors.iter().rev() {
            match target.fs.get_metadata(dir, target.sandbox_policy).await {
                Ok(metadata) if metadata.is_symlink => {
                    return Err(not_a_file(&format!(
                        "`{dir}` on its way is a symbolic link; apply_patch does not write \
                         through links"
                    )));
                }
                Ok(metadata) if !metadata.is_directory => {
                    return Err(not_a_file(&format!(
                        "`{dir}` on its way is not a directory"
                    )));
                }
                Ok(_) => {}
                // Missing from here on: created when the file is written.
                Err(FileSystemError::NotFound(_)) => break,
                Err(source) => return Err(read_error(display, source)),
            }
        }
    }
    match target.fs.get_metadata(path, target.sandbox_policy).await {
        Ok(metadata) if metadata.is_symlink => {
            return Err(not_a_file(
                "it is a symbolic link; apply_patch does not write through links",
            ));
        }
        Ok(metadata) if metadata.is_directory => return Err(not_a_file("it is a directory")),
        Ok(metadata) if !metadata.is_file => return Err(not_a_file("it is not a regular file")),
        Ok(_) => {}
        Err(FileSystemError::NotFound(_)) if !must_exist => {}
        Err(FileSystemError::NotFound(_)) => {
            return Err(ApplyPatchError::Missing {
                path: display.to_string(),
                action,
            });
        }
        Err(source) => return Err(read_error(display, source)),
    }
    target
        .fs
        .check_write(path, target.sandbox_policy)
        .await
        .map_err(|source| ApplyPatchError::Denied {
            path: display.to_string(),
            source,
        })
}

fn read_error(display: &str, source: FileSystemError) -> ApplyPatchError {
    ApplyPatchError::Read {
        path: display.to_string(),
        source,
    }
}
