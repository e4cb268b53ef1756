//! Finding the Rust files to check.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;
use std::path::PathBuf;

/// The files under `path`, sorted: `path` itself if it is a file (whatever its
/// extension), otherwise every `*.rs` file below it, skipping directories named
/// `target`, starting with `bazel-` (Bazel's output links) or starting with `.`.
/// Symbolic links are followed (Bazel's runfiles are links), each directory once.
pub fn rust_files(path: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    if std::fs::metadata(path)?.is_dir() {
        walk(path, &mut BTreeSet::new(), &mut files)?;
    } else {
        files.push(path.to_path_buf());
    }
    files.sort();
    Ok(files)
}

fn walk(dir: &Path, visited: &mut BTreeSet<PathBuf>, files: &mut Vec<PathBuf>) -> io::Result<()> {
    if !visited.insert(dir.canonicalize()?) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        // A dangling link is neither a file nor a directory: skipped.
        let Ok(metadata) = std::fs::metadata(&path) else {
            continue;
        };
        if metadata.is_dir() {
            if name == "target" || name.starts_with("bazel-") || name.starts_with('.') {
                continue;
            }
            walk(&path, visited, files)?;
        } else if metadata.is_file() && name.ends_with(".rs") {
            files.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "walk_tests.rs"]
mod tests;
