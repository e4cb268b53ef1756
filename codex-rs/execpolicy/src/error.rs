//! Why a policy could not be loaded, and where in which file.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A place in a rules file: the file, and the 1-based line and column when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The rules file, as it was given.
    pub path: PathBuf,
    /// 1-based line and column; `None` when Starlark reported no position.
    pub position: Option<Position>,
}

/// A 1-based line and column (in characters) in a rules file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl Location {
    /// `path` at `line`:`column` (both 1-based).
    pub fn new(path: impl Into<PathBuf>, line: usize, column: usize) -> Self {
        Self {
            path: path.into(),
            position: Some(Position { line, column }),
        }
    }

    /// The whole of `path`, no position.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            position: None,
        }
    }

    /// The 1-based line, when known.
    pub fn line(&self) -> Option<usize> {
        self.position.map(|position| position.line)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(Position { line, column }) => {
                write!(f, "{}:{line}:{column}", self.path.display())
            }
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// Why a policy could not be loaded. Every variant about a file's content names the
/// file and, where Starlark gives one, the line and column, and says what was expected.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A rules file (or a layer's `rules/` directory) could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// A rules file is bigger than [`crate::MAX_RULES_FILE_BYTES`].
    #[error(
        "{}: the rules file has {size} bytes; rules files may have at most {limit} bytes",
        path.display()
    )]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size (at least `limit + 1` when the file grew while being read).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A rules file is not UTF-8.
    #[error("{}: a rules file must be UTF-8 text", path.display())]
    NotUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// The file is not valid Starlark (or uses `load`, which rules files may not).
    #[error("{location}: syntax error: {message}")]
    Syntax {
        /// Where the parser stopped.
        location: Location,
        /// The parser's message.
        message: String,
    },
    /// `decision` is not one of `allow`, `prompt`, `forbidden`.
    #[error(
        "{location}: invalid decision {value}: expected \"allow\", \"prompt\" or \"forbidden\""
    )]
    InvalidDecision {
        /// The `prefix_rule` call.
        location: Location,
        /// The value given, as Starlark prints it (a string is quoted).
        value: String,
    },
    /// `pattern` is not a non-empty list of strings or non-empty lists of strings.
    #[error("{location}: invalid pattern: {message}")]
    InvalidPattern {
        /// The `prefix_rule` call.
        location: Location,
        /// What is wrong, and what was expected.
        message: String,
    },
    /// A `match` / `not_match` example is not a command (a string or a list of strings).
    #[error("{location}: invalid example: {message}")]
    InvalidExample {
        /// The `prefix_rule` call.
        location: Location,
        /// What is wrong, and what was expected.
        message: String,
    },
    /// Another bad argument to `prefix_rule` or `host_executable` (an empty
    /// justification, a relative `host_executable` path, ...).
    #[error("{location}: {message}")]
    InvalidRule {
        /// The call.
        location: Location,
        /// What is wrong, and what was expected.
        message: String,
    },
    /// A `match` example does not match the rule it belongs to.
    #[error("{location}: `match` example `{example}` does not match the rule's pattern {pattern}")]
    ExampleDidNotMatch {
        /// The `prefix_rule` call.
        location: Location,
        /// The example, shell-quoted.
        example: String,
        /// The rule's pattern, as in the file.
        pattern: String,
    },
    /// A `not_match` example matches the rule it belongs to.
    #[error(
        "{location}: `not_match` example `{example}` matches the rule's pattern {pattern}, \
         but must not"
    )]
    ExampleDidMatch {
        /// The `prefix_rule` call.
        location: Location,
        /// The example, shell-quoted.
        example: String,
        /// The rule's pattern, as in the file.
        pattern: String,
    },
    /// The policy would have more than [`crate::MAX_RULES`] rules.
    #[error(
        "{location}: too many rules: a policy may have at most {limit} rules (a first \
         pattern element with alternatives counts one rule per alternative)"
    )]
    TooManyRules {
        /// The call that went over.
        location: Location,
        /// The limit.
        limit: usize,
    },
    /// Evaluating the file took more than [`crate::MAX_EVAL_STEPS`] steps (a loop that
    /// runs too long).
    #[error(
        "{location}: evaluation stopped after {limit} steps (loop iterations and calls); a \
         rules file must declare its rules without long-running loops"
    )]
    TooLong {
        /// Where evaluation was when it stopped.
        location: Location,
        /// The limit.
        limit: u64,
    },
    /// Any other Starlark error: an unknown name or function, a wrong argument, `fail()`,
    /// the memory limit ([`crate::MAX_HEAP_BYTES`]).
    #[error("{location}: {message}")]
    Evaluation {
        /// Where Starlark reported it.
        location: Location,
        /// Starlark's message.
        message: String,
    },
}

impl PolicyError {
    /// The place in a rules file the error is about; `None` for whole-file problems
    /// (unreadable, too large, not UTF-8).
    pub fn location(&self) -> Option<&Location> {
        match self {
            PolicyError::Read { .. }
            | PolicyError::FileTooLarge { .. }
            | PolicyError::NotUtf8 { .. } => None,
            PolicyError::Syntax { location, .. }
            | PolicyError::InvalidDecision { location, .. }
            | PolicyError::InvalidPattern { location, .. }
            | PolicyError::InvalidExample { location, .. }
            | PolicyError::InvalidRule { location, .. }
            | PolicyError::ExampleDidNotMatch { location, .. }
            | PolicyError::ExampleDidMatch { location, .. }
            | PolicyError::TooManyRules { location, .. }
            | PolicyError::TooLong { location, .. }
            | PolicyError::Evaluation { location, .. } => Some(location),
        }
    }
}
