//! The `apply_patch` command: applies one patch in the current directory of this machine.
//!
//! It is the binary of this crate, and any program that calls [`arg0_dispatch`] first
//! thing in `main` (the exec-server does) also becomes it when started as `apply_patch` or
//! `applypatch`, so `process/start {argv: [<exec-server>, PATCH], arg0: "apply_patch"}`
//! applies a patch on a remote machine, sandboxed or not.

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;

use clap::Parser;
use codex_file_system::LocalFileSystem;
use codex_file_system::LocalFileSystemConfig;
use codex_utils_absolute_path::AbsolutePathBuf;

use crate::apply::PatchTarget;
use crate::apply::apply_patch;
use crate::parser::MAX_PATCH_BYTES;

/// The program name that runs the command (also through `arg0`).
pub const APPLY_PATCH_ARG0: &str = "apply_patch";
/// Its other spelling, which models also use.
pub const APPLY_PATCH_ARG0_ALIAS: &str = "applypatch";

/// Largest file the command reads or writes (the local filesystem's own default is the
/// size of one exec-server message).
const MAX_FILE_BYTES: usize = 256 * 1024 * 1024;

/// Apply a patch in the apply-patch format to the files under the current directory.
///
/// The patch is checked completely before anything is written: every file to change must
/// exist (or, for `*** Add File`, may be created), every hunk must be found, and every
/// write must be allowed. A patch that fails any check changes nothing. On success it
/// prints `Success. Updated the following files:` and one `A`/`M`/`D` line per file; on
/// failure the reason goes to stderr and the exit status is 1.
#[derive(Debug, Parser)]
#[command(name = APPLY_PATCH_ARG0, version)]
struct Args {
    /// The patch (`*** Begin Patch` … `*** End Patch`). Read from standard input when
    /// left out.
    patch: Option<OsString>,
}

/// If this process was started as `apply_patch` or `applypatch` (the file name of
/// `argv[0]`), runs the command and exits with its status; otherwise returns at once.
/// Call it first thing in `main`, before a runtime is started.
pub fn arg0_dispatch() {
    let arg0 = std::env::args_os().next();
    let name = arg0
        .as_deref()
        .and_then(|arg0| Path::new(arg0).file_name())
        .and_then(|name| name.to_str());
    if matches!(name, Some(APPLY_PATCH_ARG0 | APPLY_PATCH_ARG0_ALIAS)) {
        std::process::exit(run_main());
    }
}

/// Runs the command with this process's arguments; returns the exit status (0 applied,
/// 1 not applied or partly applied, 2 usage error).
pub fn run_main() -> i32 {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(err) => {
            let status = if err.use_stderr() { 2 } else { 0 };
            let _ = err.print();
            return status;
        }
    };
    run_patch(args.patch)
}

/// Applies `patch` (or, when `None`, the patch on standard input) in the current
/// directory, printing what the command prints; returns its exit status. For front ends
/// that parse their own command line (`codex apply-patch PATCH`).
pub fn run_patch(patch: Option<OsString>) -> i32 {
    match run(Args { patch }) {
        Ok(summary) => {
            print!("{summary}");
            0
        }
        Err(message) => {
            eprintln!("{message}");
            1
        }
    }
}

fn run(args: Args) -> Result<String, String> {
    let patch = match args.patch {
        Some(patch) => patch.into_string().map_err(|_| {
            "the patch is not UTF-8 text; apply_patch reads UTF-8 patches only".to_string()
        })?,
        None => read_stdin()?,
    };
    let cwd = std::env::current_dir()
        .map_err(|err| format!("cannot tell the current directory: {err}"))?;
    let cwd = AbsolutePathBuf::try_from_absolute(&cwd)
        .map_err(|err| format!("the current directory: {err}"))?;
    let fs = LocalFileSystem::new(LocalFileSystemConfig {
        max_fs_bytes: MAX_FILE_BYTES,
        ..LocalFileSystemConfig::default()
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start: {err}"))?;
    let target = PatchTarget {
        fs: &fs,
        cwd: &cwd,
        sandbox_policy: None,
    };
    runtime
        .block_on(apply_patch(&patch, target))
        .map(|applied| applied.summary())
        .map_err(|err| err.to_string())
}

/// Standard input, at most [`MAX_PATCH_BYTES`] of UTF-8.
fn read_stdin() -> Result<String, String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .take(MAX_PATCH_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| format!("reading the patch from standard input: {err}"))?;
    if bytes.len() > MAX_PATCH_BYTES {
        return Err(format!(
            "the patch on standard input is larger than {MAX_PATCH_BYTES} bytes, the most \
             apply_patch accepts; split it into several patches"
        ));
    }
    String::from_utf8(bytes).map_err(|err| {
        format!(
            "the patch is not UTF-8 text (invalid byte at offset {}); apply_patch reads \
             UTF-8 patches only",
            err.utf8_error().valid_up_to()
        )
    })
}
