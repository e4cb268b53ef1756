//! Findings, files that could not be checked, and the summary.

use std::fmt;
use std::path::PathBuf;

/// A literal argument without the comment it needs, or with the wrong one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    /// The file, as it was named or found.
    pub path: PathBuf,
    /// 1-based line of the argument.
    pub line: usize,
    /// 1-based column (in characters) of the argument.
    pub column: usize,
    /// The argument's source text (`true`, `None`, `-1`, `0u8`).
    pub literal: String,
    /// The callee as written, without generic arguments: `walk`, `fs::walk`,
    /// `Walker::new`, or `.walk` for a method call.
    pub callee: String,
    /// What is wrong.
    pub kind: FindingKind,
    /// Whether the call is in test code: a file under `tests/` or `benches/`, a
    /// `#[cfg(test)]` module (inline, or its file and the modules that one declares)
    /// or a `#[test]` / `#[cfg(test)]` item.
    pub in_test_code: bool,
}

/// What is wrong with a literal argument.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum FindingKind {
    /// No comment right before the argument. `expected` is the parameter name when
    /// the callee is resolved to a function in the checked files.
    Missing {
        /// The parameter name, when known.
        expected: Option<String>,
    },
    /// A block comment that is not `/*name*/`, such as `/*name=*/` or `/* a flag */`.
    NotAName {
        /// The comment as written.
        comment: String,
        /// The parameter name, when known.
        expected: Option<String>,
    },
    /// `/*found*/`, but the parameter is named `expected`.
    WrongName {
        /// The name in the comment.
        found: String,
        /// The parameter's name.
        expected: String,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {} passed to `{}` ",
            self.path.display(),
            self.line,
            self.column,
            self.literal,
            self.callee
        )?;
        let placeholder =
            |expected: &Option<String>| expected.as_deref().unwrap_or("name").to_string();
        match &self.kind {
            FindingKind::Missing { expected } => {
                write!(f, "needs /*{}*/", placeholder(expected))
            }
            FindingKind::NotAName { comment, expected } => write!(
                f,
                "has {comment}, which is not of the form /*{}*/",
                placeholder(expected)
            ),
            FindingKind::WrongName { found, expected } => {
                write!(f, "has /*{found}*/ but the parameter is named {expected}")
            }
        }
    }
}

/// A file that could not be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFailure {
    /// The file.
    pub path: PathBuf,
    /// `cannot read: ..` or `cannot parse: ..`.
    pub message: String,
}

impl fmt::Display for FileFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// How many files were parsed and checked.
    pub files_checked: usize,
    /// Sorted by path, line and column.
    pub findings: Vec<Finding>,
    /// Files that could not be read or parsed, sorted by path.
    pub failures: Vec<FileFailure>,
}

impl Report {
    /// Whether every file was checked and nothing was found.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty() && self.failures.is_empty()
    }

    /// One line: how many findings of each kind, in how many files, and how many
    /// files could not be checked.
    pub fn summary(&self) -> String {
        let count = |f: fn(&FindingKind) -> bool| {
            self.findings
                .iter()
                .filter(|finding| f(&finding.kind))
                .count()
        };
        let missing = count(|kind| matches!(kind, FindingKind::Missing { .. }));
        let not_a_name = count(|kind| matches!(kind, FindingKind::NotAName { .. }));
        let wrong = count(|kind| matches!(kind, FindingKind::WrongName { .. }));
        let in_tests = self
            .findings
            .iter()
            .filter(|finding| finding.in_test_code)
            .count();
        let files: std::collections::BTreeSet<_> =
            self.findings.iter().map(|finding| &finding.path).collect();
        let mut line = format!(
            "argument-comment-lint: {} in {} of {} checked \
             ({missing} missing comment, {not_a_name} comment not /*name*/, \
             {wrong} wrong name; {in_tests} in test code)",
            plural(self.findings.len(), "finding"),
            files.len(),
            plural(self.files_checked, "file"),
        );
        if !self.failures.is_empty() {
            line.push_str(&format!(
                "; {} could not be checked",
                plural(self.failures.len(), "file")
            ));
        }
        line
    }
}

/// `1 file`, `2 files`.
fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}
