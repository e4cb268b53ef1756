//! `codex-argument-comment-lint`: see the crate's README.

use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use codex_argument_comment_lint::Options;

/// Checks that a bare `true`, `false`, `None` or number passed as a positional
/// argument carries a `/*name*/` comment, and that the name is the parameter's when
/// the callee is defined in the checked files.
///
/// Prints one line per finding (`path:line:col: ...`), sorted, then a summary.
/// Exit status: 0 when there is nothing to report, 1 when there are findings or a
/// file could not be read or parsed, 2 on a usage error.
#[derive(Debug, Parser)]
#[command(name = "codex-argument-comment-lint", version)]
struct Cli {
    /// Files and directories to check. Directories are walked for `*.rs` files,
    /// skipping `target`, `bazel-*` and hidden directories. Default: the `codex-rs`
    /// directory of the repository that contains the current directory.
    paths: Vec<PathBuf>,

    /// Also read function definitions (to name parameters) from these files or
    /// directories, without checking them.
    #[arg(long = "definitions", value_name = "PATH")]
    definitions: Vec<PathBuf>,

    /// Do not report findings in test code (`tests/`, `benches/`, `#[cfg(test)]`
    /// modules, `#[test]` functions).
    #[arg(long)]
    skip_test_code: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let paths = if cli.paths.is_empty() {
        match default_root() {
            Some(root) => vec![root],
            None => {
                eprintln!(
                    "argument-comment-lint: no codex-rs directory in the current directory \
                     or its parents; name the paths to check"
                );
                return ExitCode::from(2);
            }
        }
    } else {
        cli.paths
    };
    let options = Options {
        paths,
        definition_paths: cli.definitions,
        skip_test_code: cli.skip_test_code,
    };
    let report = match codex_argument_comment_lint::run(&options) {
        Ok(report) => report,
        Err(err) => {
            eprintln!("argument-comment-lint: {err}");
            return ExitCode::from(2);
        }
    };
    for failure in &report.failures {
        eprintln!("{failure}");
    }
    for finding in &report.findings {
        println!("{finding}");
    }
    println!("{}", report.summary());
    if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `codex-rs` in the current directory or the nearest parent that has one, relative
/// to the current directory when it is below it.
fn default_root() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let found = cwd
        .ancestors()
        .map(|dir| dir.join("codex-rs"))
        .find(|candidate| candidate.is_dir())?;
    Some(relative_to(&found, &cwd))
}

fn relative_to(path: &Path, base: &Path) -> PathBuf {
    path.strip_prefix(base)
        .map_or_else(|_| path.to_path_buf(), Path::to_path_buf)
}
