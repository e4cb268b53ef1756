//! Rules files from the config layer directories.

use std::path::Path;
use std::path::PathBuf;

use crate::error::PolicyError;
use crate::parser::PolicyParser;
use crate::policy::Policy;

/// The folder of a config layer directory that holds its rules files
/// (`/etc/codex/rules/`, `$CODEX_HOME/rules/`, `<project>/.codex/rules/`).
pub const RULES_DIR: &str = "rules";
/// The extension of a rules file; other files in a [`RULES_DIR`] are ignored.
pub const RULES_EXTENSION: &str = "rules";

/// The rules files of the layer directories `dirs` (lowest precedence first): for each
/// directory, the files `<dir>/rules/*.rules` sorted by name. A directory without a
/// `rules/` folder has none.
pub fn rules_files_in_layers<P: AsRef<Path>>(
    dirs: impl IntoIterator<Item = P>,
) -> Result<Vec<PathBuf>, PolicyError> {
    let mut files = Vec::new();
    for dir in dirs {
        let rules_dir = dir.as_ref().join(RULES_DIR);
        let entries = match std::fs::read_dir(&rules_dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) if err.kind() == std::io::ErrorKind::NotADirectory => continue,
            Err(source) => {
                return Err(PolicyError::Read {
                    path: rules_dir,
                    source,
                });
            }
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| PolicyError::Read {
                path: rules_dir.clone(),
                source,
            })?;
            let path = entry.path();
            let is_rules = path
                .extension()
                .is_some_and(|extension| extension == RULES_EXTENSION);
            // Follows symlinks: a link to a rules file counts.
            if is_rules && path.is_file() {
                found.push(path);
            }
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// Evaluates `files`, in order, into one policy.
pub fn load_policy<P: AsRef<Path>>(
    files: impl IntoIterator<Item = P>,
) -> Result<Policy, PolicyError> {
    let mut parser = PolicyParser::new();
    for file in files {
        parser.parse_file(file.as_ref())?;
    }
    Ok(parser.build())
}

/// The policy of every rules file of the layer directories `dirs` (see
/// [`rules_files_in_layers`]).
pub fn load_layered_policy<P: AsRef<Path>>(
    dirs: impl IntoIterator<Item = P>,
) -> Result<Policy, PolicyError> {
    load_policy(rules_files_in_layers(dirs)?)
}
