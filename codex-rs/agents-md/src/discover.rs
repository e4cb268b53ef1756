//! [`discover`]: the project root, the instruction files and the capped text.

use codex_file_system::ExecutorFileSystem;
use codex_file_system::FileMetadata;
use codex_file_system::FileSystemError;
use codex_utils_absolute_path::AbsolutePathBuf;
use futures_util::future::join_all;

use crate::error::AgentsMdError;

/// The file that, where present, is used instead of [`DEFAULT_FILENAME`].
pub const OVERRIDE_FILENAME: &str = "AGENTS.override.md";

/// The usual instruction file.
pub const DEFAULT_FILENAME: &str = "AGENTS.md";

/// The line between the user's instructions (from `$CODEX_HOME`) and the project's; only
/// present when there are both.
pub const PROJECT_DOC_SEPARATOR: &str = "\n\n--- project-doc ---\n\n";

/// What joins the files of consecutive project directories.
pub const PROJECT_DOC_JOINER: &str = "\n\n";

/// The markers of a project root by default.
pub const DEFAULT_PROJECT_ROOT_MARKERS: &[&str] = &[".git"];

/// The byte budget of the instructions by default (32 KiB, as upstream Codex).
pub const DEFAULT_MAX_BYTES: usize = 32 * 1024;

/// What [`discover`] looks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveryOptions {
    /// Names whose presence (anything: file, directory, symlink) makes a directory the
    /// project root; the nearest ancestor of the working directory (itself included)
    /// holding one wins. Empty: the working directory is the root. Empty names are
    /// ignored.
    pub project_root_markers: Vec<String>,
    /// The cap, in bytes, of the whole text (user's file, separator and project files);
    /// 0 disables instructions altogether.
    pub max_bytes: usize,
    /// Names tried, in order, in a project directory that has neither
    /// [`OVERRIDE_FILENAME`] nor [`DEFAULT_FILENAME`].
    pub fallback_filenames: Vec<String>,
    /// `$CODEX_HOME`, whose [`OVERRIDE_FILENAME`] or else [`DEFAULT_FILENAME`] comes
    /// first; `None`: no user instructions.
    pub codex_home: Option<AbsolutePathBuf>,
}

impl Default for DiscoveryOptions {
    fn default() -> Self {
        Self {
            project_root_markers: DEFAULT_PROJECT_ROOT_MARKERS
                .iter()
                .map(ToString::to_string)
                .collect(),
            max_bytes: DEFAULT_MAX_BYTES,
            fallback_filenames: Vec::new(),
            codex_home: None,
        }
    }
}

/// The instructions for a working directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instructions {
    /// The files the text comes from, in order (the user's first, then the project's
    /// from its root down); a file cut off entirely by the cap is not listed.
    pub sources: Vec<AbsolutePathBuf>,
    /// The instructions, at most [`DiscoveryOptions::max_bytes`] bytes.
    pub text: String,
    /// Files skipped because they could not be read, markers that could not be checked,
    /// and the cut made by the cap; each names its path. Also logged with
    /// `tracing::warn!`.
    pub warnings: Vec<String>,
    /// The project root found.
    pub project_root: AbsolutePathBuf,
}

impl Instructions {
    /// `{"sources": [...], "text": "..."}`, as `codex debug instructions --json` prints.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "sources": self
                .sources
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            "text": self.text,
        })
    }
}

/// One instruction file read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Doc {
    pub(crate) path: AbsolutePathBuf,
    pub(crate) text: String,
}

/// The instructions for `cwd`: the project's files read through `project_fs`, the
/// user's (in [`DiscoveryOptions::codex_home`]) through `home_fs`. Pass the same
/// filesystem twice when both live on one machine; with a remote project, pass the
/// remote filesystem for the project and the local one for `$CODEX_HOME`.
///
/// Errors only when `cwd` is not an existing directory or the filesystem fails as a
/// whole; a file that cannot be read is skipped with a warning.
pub async fn discover(
    project_fs: &dyn ExecutorFileSystem,
    home_fs: &dyn ExecutorFileSystem,
    cwd: &AbsolutePathBuf,
    options: &DiscoveryOptions,
) -> Result<Instructions, AgentsMdError> {
    check_cwd(project_fs, cwd).await?;
    let mut warnings = Vec::new();
    let project_root = find_project_root(
        project_fs,
        cwd,
        &options.project_root_markers,
        &mut warnings,
    )
    .await?;
    if options.max_bytes == 0 {
        return Ok(Instructions {
            sources: Vec::new(),
            text: String::new(),
            warnings,
            project_root,
        });
    }

    let home_names = [OVERRIDE_FILENAME.to_string(), DEFAULT_FILENAME.to_string()];
    let home = match &options.codex_home {
        Some(codex_home) => pick(home_fs, codex_home, &home_names, &mut warnings).await?,
        None => None,
    };

    let project_names: Vec<String> = home_names
        .iter()
        .chain(options.fallback_filenames.iter())
        .cloned()
        .collect();
    let mut project = Vec::new();
    for dir in dirs_from_root(&project_root, cwd) {
        if let Some(doc) = pick(project_fs, &dir, &project_names, &mut warnings).await? {
            project.push(doc);
        }
    }

    let (text, sources) = assemble(home, project, options.max_bytes, &mut warnings);
    Ok(Instructions {
        sources,
        text,
        warnings,
        project_root,
    })
}

/// `cwd` must be an existing directory (a symlink to one will do).
async fn check_cwd(
    fs: &dyn ExecutorFileSystem,
    cwd: &AbsolutePathBuf,
) -> Result<(), AgentsMdError> {
    let metadata = fs.get_metadata(cwd, /*sandbox_policy*/ None).await;
    let cwd_error = |err: FileSystemError| match err {
        FileSystemError::NotFound(_) => AgentsMdError::CwdNotFound(cwd.clone()),
        // A parent of it is not a directory (or, through a symlink, it is not one).
        FileSystemError::NotADirectory(_) => AgentsMdError::CwdNotADirectory(cwd.clone()),
        source => AgentsMdError::FileSystem {
            path: cwd.clone(),
            source,
        },
    };
    match metadata {
        Ok(metadata) if metadata.is_directory => Ok(()),
        // `get_metadata` does not follow a final symlink; listing the directory does.
        Ok(metadata) if metadata.is_symlink => fs
            .read_directory(cwd, /*sandbox_policy*/ None)
            .await
            .map(drop)
            .map_err(cwd_error),
        Ok(_) => Err(AgentsMdError::CwdNotADirectory(cwd.clone())),
        Err(err) => Err(cwd_error(err)),
    }
}

/// The nearest of `cwd` and its ancestors holding one of `markers`; `cwd` when the list
/// is empty or none does.
async fn find_project_root(
    fs: &dyn ExecutorFileSystem,
    cwd: &AbsolutePathBuf,
    markers: &[String],
    warnings: &mut Vec<String>,
) -> Result<AbsolutePathBuf, AgentsMdError> {
    let markers: Vec<&String> = markers.iter().filter(|marker| !marker.is_empty()).collect();
    if markers.is_empty() {
        return Ok(cwd.clone());
    }
    let mut dir = Some(cwd.clone());
    while let Some(current) = dir {
        let paths: Vec<AbsolutePathBuf> =
            markers.iter().map(|marker| current.join(marker)).collect();
        let answers = join_all(
            paths
                .iter()
                .map(|path| fs.get_metadata(path, /*sandbox_policy*/ None)),
        )
        .await;
        let mut found = false;
        for (path, answer) in paths.iter().zip(answers) {
            match answer {
                Ok(_) => found = true,
                Err(err) => match classify(err) {
                    Failure::Absent => {}
                    Failure::Unreadable(err) => {
                        warn(
                            warnings,
                            format!("could not check project root marker `{path}`: {err}"),
                        );
                    }
                    Failure::Fatal(source) => {
                        return Err(AgentsMdError::FileSystem {
                            path: path.clone(),
                            source,
                        });
                    }
                },
            }
        }
        if found {
            return Ok(current);
        }
        dir = current.parent();
    }
    Ok(cwd.clone())
}

/// `root`, then each directory below it down to `cwd` (`root` is `cwd` or an ancestor).
fn dirs_from_root(root: &AbsolutePathBuf, cwd: &AbsolutePathBuf) -> Vec<AbsolutePathBuf> {
    let mut dirs = vec![cwd.clone()];
    let mut dir = cwd.clone();
    while &dir != root {
        let Some(parent) = dir.parent() else {
            break;
        };
        dirs.push(parent.clone());
        dir = parent;
    }
    dirs.reverse();
    dirs
}

/// The first of `names` in `dir` that is a regular file, or a symlink to one, and can
/// be read. Directories, symlinks to directories, dangling symlinks and other kinds of
/// file are passed over, as are (with a warning) files that cannot be read. The file
/// chosen contributes nothing when it holds only whitespace.
async fn pick(
    fs: &dyn ExecutorFileSystem,
    dir: &AbsolutePathBuf,
    names: &[String],
    warnings: &mut Vec<String>,
) -> Result<Option<Doc>, AgentsMdError> {
    let paths: Vec<AbsolutePathBuf> = names.iter().map(|name| dir.join(name)).collect();
    let answers = join_all(
        paths
            .iter()
            .map(|path| fs.get_metadata(path, /*sandbox_policy*/ None)),
    )
    .await;
    for (path, answer) in paths.into_iter().zip(answers) {
        match answer {
            Ok(metadata) if is_candidate(&metadata) => {}
            Ok(_) => continue,
            Err(err) => match classify(err) {
                Failure::Absent => continue,
                Failure::Unreadable(err) => {
                    warn(warnings, format!("skipped `{path}`: {err}"));
                    continue;
                }
                Failure::Fatal(source) => return Err(AgentsMdError::FileSystem { path, source }),
            },
        }
        match fs.read_file(&path, /*sandbox_policy*/ None).await {
            Ok(data) => {
                let text = String::from_utf8_lossy(&data).into_owned();
                if text.trim().is_empty() {
                    return Ok(None);
                }
                return Ok(Some(Doc { path, text }));
            }
            // A symlink to a directory.
            Err(FileSystemError::IsADirectory(_)) => continue,
            Err(err) => match classify(err) {
                Failure::Absent => continue,
                Failure::Unreadable(err) => {
                    warn(warnings, format!("skipped `{path}`: {err}"));
                }
                Failure::Fatal(source) => return Err(AgentsMdError::FileSystem { path, source }),
            },
        }
    }
    Ok(None)
}

/// A regular file, or a symlink (followed when read: to a regular file it is read, to a
/// directory it is passed over).
fn is_candidate(metadata: &FileMetadata) -> bool {
    metadata.is_file || metadata.is_symlink
}

/// How a failed look at one path counts.
enum Failure {
    /// Not there: the next name is tried.
    Absent,
    /// There but not readable (permission or sandbox denied, too large, an I/O error on
    /// that file, a symlink that cannot be followed): skipped with a warning.
    Unreadable(FileSystemError),
    /// The filesystem as a whole failed: an error.
    Fatal(FileSystemError),
}

fn classify(err: FileSystemError) -> Failure {
    match err {
        FileSystemError::NotFound(_) | FileSystemError::NotADirectory(_) => Failure::Absent,
        FileSystemError::SandboxDenied(_)
        | FileSystemError::Io(_)
        | FileSystemError::TooLarge(_)
        | FileSystemError::IsADirectory(_) => Failure::Unreadable(err),
        FileSystemError::InvalidParams(_)
        | FileSystemError::AlreadyExists(_)
        | FileSystemError::DirectoryNotEmpty(_)
        | FileSystemError::Disabled
        | FileSystemError::Transport(_)
        | FileSystemError::Remote { .. } => Failure::Fatal(err),
    }
}

fn warn(warnings: &mut Vec<String>, warning: String) {
    tracing::warn!("{warning}");
    warnings.push(warning);
}

/// The text (the user's doc, the separator, the project docs joined) cut to `max_bytes`
/// at a character boundary, and the docs at least one byte of which made it in.
pub(crate) fn assemble(
    home: Option<Doc>,
    project: Vec<Doc>,
    max_bytes: usize,
    warnings: &mut Vec<String>,
) -> (String, Vec<AbsolutePathBuf>) {
    let mut pieces: Vec<(Option<AbsolutePathBuf>, String)> = Vec::new();
    let has_home = home.is_some();
    if let Some(doc) = home {
        pieces.push((Some(doc.path), doc.text));
    }
    for (index, doc) in project.into_iter().enumerate() {
        let between = if index > 0 {
            PROJECT_DOC_JOINER
        } else if has_home {
            PROJECT_DOC_SEPARATOR
        } else {
            ""
        };
        if !between.is_empty() {
            pieces.push((None, between.to_string()));
        }
        pieces.push((Some(doc.path), doc.text));
    }

    let mut text = String::new();
    let mut sources = Vec::new();
    let mut pieces = pieces.into_iter();
    for (path, piece) in pieces.by_ref() {
        let room = max_bytes - text.len();
        let taken = cut(&piece, room);
        text.push_str(taken);
        match &path {
            Some(path) if !taken.is_empty() => sources.push(path.clone()),
            _ => {}
        }
        if taken.len() < piece.len() {
            let mut warning = format!("instructions cut at {max_bytes} bytes");
            if let Some(path) = &path {
                warning.push_str(&format!(
                    "; `{path}` kept {} of {} bytes",
                    taken.len(),
                    piece.len()
                ));
            }
            let dropped: Vec<String> = pieces
                .filter_map(|(path, _)| path.map(|path| format!("`{path}`")))
                .collect();
            if !dropped.is_empty() {
                warning.push_str(&format!("; left out: {}", dropped.join(", ")));
            }
            warn(warnings, warning);
            break;
        }
    }
    (text, sources)
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends at a character
/// boundary.
pub(crate) fn cut(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
#[path = "discover_tests.rs"]
mod tests;
