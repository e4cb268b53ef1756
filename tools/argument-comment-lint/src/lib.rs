//! A lint for positional literal arguments: a bare `true`, `false`, `None` or number
//! passed to a function or method must carry a `/*name*/` comment naming the
//! parameter, as in `walk(&root, /*recursive*/ true)`. Where the callee is a function
//! defined in the checked files (or in `--definitions` paths), the name must be the
//! parameter's name.
//!
//! Comments are not part of `syn`'s syntax tree, so the lint parses each file with
//! `syn` to find call expressions and their literal arguments, takes each argument's
//! byte offset from its span (`proc-macro2`'s `span-locations`), and reads the source
//! text just before it. See the README for what it can and cannot resolve.
//!
//! ```no_run
//! use codex_argument_comment_lint::Options;
//!
//! let report = codex_argument_comment_lint::run(&Options::new(vec!["codex-rs".into()]))?;
//! for finding in &report.findings {
//!     println!("{finding}");
//! }
//! # Ok::<(), codex_argument_comment_lint::LintError>(())
//! ```
#![deny(missing_docs)]

mod allow;
mod check;
mod defs;
mod report;
mod source;
mod walk;

use std::path::Path;
use std::path::PathBuf;

pub use allow::ALLOWED_SINGLE_LITERAL_CALLEES;
pub use report::FileFailure;
pub use report::Finding;
pub use report::FindingKind;
pub use report::Report;
pub use walk::rust_files;

use crate::defs::Definitions;
use crate::source::SourceFile;

/// What to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Files and directories to check; directories are walked for `*.rs` files
    /// (see [`rust_files`]).
    pub paths: Vec<PathBuf>,
    /// More files and directories whose function definitions are collected (to name
    /// parameters) but which are not checked.
    pub definition_paths: Vec<PathBuf>,
    /// Leave out findings in test code (see [`Finding::in_test_code`]).
    pub skip_test_code: bool,
}

impl Options {
    /// Check `paths`, taking definitions from them only, test code included.
    pub fn new(paths: Vec<PathBuf>) -> Self {
        Self {
            paths,
            definition_paths: Vec::new(),
            skip_test_code: false,
        }
    }
}

/// A problem with the request itself (exit status 2 in the command-line tool), as
/// opposed to a file that cannot be read or parsed, which is reported and skipped.
#[derive(Debug)]
pub enum LintError {
    /// A path given to check does not exist or cannot be listed.
    Path {
        /// The path as given.
        path: PathBuf,
        /// What went wrong.
        error: std::io::Error,
    },
}

impl std::fmt::Display for LintError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LintError::Path { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for LintError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LintError::Path { error, .. } => Some(error),
        }
    }
}

/// Reads, parses and checks the files named by `options`.
///
/// Files that cannot be read or parsed are listed in [`Report::failures`] and the
/// others are still checked. Findings are sorted by path, line and column.
pub fn run(options: &Options) -> Result<Report, LintError> {
    let mut inputs: Vec<(PathBuf, Result<String, String>, bool)> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let checked = list_files(&options.paths)?;
    let definitions_only = list_files(&options.definition_paths)?;
    for (path, check) in checked
        .into_iter()
        .map(|path| (path, true))
        .chain(definitions_only.into_iter().map(|path| (path, false)))
    {
        if !seen.insert(path.clone()) {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|error| format!("cannot read: {error}"));
        inputs.push((path, text, check));
    }
    Ok(lint_inputs(inputs, options.skip_test_code))
}

fn list_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, LintError> {
    let mut files = Vec::new();
    for path in paths {
        let found = rust_files(path).map_err(|error| LintError::Path {
            path: path.clone(),
            error,
        })?;
        files.extend(found);
    }
    Ok(files)
}

fn lint_inputs(
    inputs: Vec<(PathBuf, Result<String, String>, bool)>,
    skip_test_code: bool,
) -> Report {
    let mut failures = Vec::new();
    let mut parsed: Vec<(SourceFile, syn::File, bool)> = Vec::new();
    for (path, text, check) in inputs {
        let text = match text {
            Ok(text) => text,
            Err(message) => {
                failures.push(FileFailure { path, message });
                continue;
            }
        };
        let file = SourceFile::new(path, text);
        match file.parse() {
            Ok(ast) => parsed.push((file, ast, check)),
            Err(message) => failures.push(FileFailure {
                path: file.path,
                message,
            }),
        }
    }

    let mut definitions = Definitions::default();
    for (file, ast, _) in &parsed {
        definitions.collect(file, ast);
    }
    let test_files = definitions.test_files();

    let mut findings = Vec::new();
    let mut files_checked = 0;
    for (file, ast, check) in &parsed {
        if !check {
            continue;
        }
        files_checked += 1;
        let file_is_test = test_files.contains(&file.path) || is_test_path(&file.path);
        findings.extend(
            check::check_file(file, ast, &definitions, file_is_test)
                .into_iter()
                .filter(|finding| !(skip_test_code && finding.in_test_code)),
        );
    }
    findings.sort();
    failures.sort_by(|a, b| a.path.cmp(&b.path));
    Report {
        files_checked,
        findings,
        failures,
    }
}

/// Whether a file is test code by where it lives: the innermost of its directories
/// named `src`, `tests` or `benches` is `tests` or `benches`. (So
/// `tests/fixtures/demo/src/lib.rs` is library code of a fixture crate.)
fn is_test_path(path: &Path) -> bool {
    let Some(dir) = path.parent() else {
        return false;
    };
    dir.components()
        .rev()
        .map(|part| part.as_os_str())
        .find(|part| *part == "src" || *part == "tests" || *part == "benches")
        .is_some_and(|part| part != "src")
}
