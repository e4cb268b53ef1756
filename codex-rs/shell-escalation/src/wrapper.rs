//! `codex-execve-wrapper FILE ARGV0 [ARGS...]`: what the patched shells run instead of
//! each external command (`$EXEC_WRAPPER <resolved path> <argv...>`). It asks the
//! escalation server over the inherited socket, then executes the program in place
//! (`run`), reports the status of the program the server ran (`escalated`), or refuses
//! (`deny`, and every failure: it never runs a program nobody vouched for).
//!
//! Synchronous and small on purpose: one socket pair, three `sendmsg`, one reply, then
//! `execv`. The binary skips Rust's `main` set-up (`#![no_main]`), so the program it
//! executes inherits the signal dispositions the shell gave it (Rust's runtime would
//! otherwise ignore `SIGPIPE`, and an ignored signal stays ignored across `execve`).

use std::ffi::CString;
use std::ffi::OsStr;
use std::ffi::OsString;
use std::io::Write as _;
use std::os::fd::AsFd;
use std::os::fd::BorrowedFd;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt as _;
use std::path::PathBuf;

use crate::client;
use crate::protocol::ESCALATE_SOCKET_ENV_VAR;
use crate::protocol::EXEC_WRAPPER_ENV_VAR;
use crate::protocol::EXECVE_WRAPPER_NAME;
use crate::protocol::ExecRequest;
use crate::protocol::REFUSED_EXIT_CODE;
use crate::protocol::Reply;
use crate::sys;

/// The wrapper's whole life: returns its exit status, unless it executes the program.
pub fn main() -> i32 {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(refusal) => {
            say(&refusal.0);
            refusal.1
        }
    }
}

/// A message for stderr and the exit status.
struct Refusal(String, i32);

fn refuse(message: String) -> Refusal {
    Refusal(message, REFUSED_EXIT_CODE)
}

fn say(message: &str) {
    // Nothing sensible is left to do if stderr is gone.
    let _ = writeln!(std::io::stderr(), "{EXECVE_WRAPPER_NAME}: {message}");
}

fn run(args: &[OsString]) -> Result<i32, Refusal> {
    let [file, argv @ ..] = args else {
        return Err(refuse(format!(
            "usage: {EXECVE_WRAPPER_NAME} FILE ARGV0 [ARGS...] (run by a shell through ${EXEC_WRAPPER_ENV_VAR})"
        )));
    };
    if argv.is_empty() {
        return Err(refuse(format!(
            "usage: {EXECVE_WRAPPER_NAME} FILE ARGV0 [ARGS...]: ARGV0 is missing"
        )));
    }
    let shown = file.to_string_lossy();
    let refuse_to_run = |reason: String| refuse(format!("refusing to run {shown}: {reason}"));
    let socket = client::socket_from_env().map_err(|err| refuse_to_run(err.to_string()))?;
    let request = build_request(file, argv).map_err(refuse_to_run)?;
    let stdio = stdio().map_err(|err| refuse_to_run(format!("cannot open /dev/null: {err}")))?;
    let stdio_fds = [stdio[0].fd(), stdio[1].fd(), stdio[2].fd()];
    let reply = client::request(socket, &request, stdio_fds)
        .map_err(|err| refuse_to_run(err.to_string()))?;
    drop(stdio);
    match reply {
        Reply::Run => Err(exec(file, argv)),
        Reply::Deny { reason } => Err(refuse(format!("denied: {shown}: {reason}"))),
        Reply::Escalated { status } => Ok(status.shell_code()),
        Reply::Error { message, exit_code } => {
            let exit_code = if exit_code == 0 {
                REFUSED_EXIT_CODE
            } else {
                exit_code
            };
            Err(Refusal(message, exit_code))
        }
    }
}

/// The request for `file` and `argv` from this process's state. Everything must be
/// UTF-8 (the policy matches strings); a relative `file` is joined to the working
/// directory, as `execve` resolves it.
fn build_request(file: &OsStr, argv: &[OsString]) -> Result<ExecRequest, String> {
    let utf8 = |value: &OsStr, what: &dyn Fn() -> String| {
        value
            .to_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{} is not valid UTF-8", what()))
    };
    let cwd = std::env::current_dir()
        .map_err(|err| format!("the working directory is unknown: {err}"))?;
    utf8(cwd.as_os_str(), &|| "the working directory".to_string())?;
    let file_path = PathBuf::from(utf8(file, &|| "the program path".to_string())?);
    let file_path = if file_path.is_absolute() {
        file_path
    } else {
        cwd.join(file_path)
    };
    let argv = argv
        .iter()
        .enumerate()
        .map(|(index, arg)| utf8(arg, &|| format!("argument {index}")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut env = std::collections::BTreeMap::new();
    for (name, value) in std::env::vars_os() {
        if name == ESCALATE_SOCKET_ENV_VAR || name == EXEC_WRAPPER_ENV_VAR {
            continue;
        }
        let what = || format!("environment variable {}", name.to_string_lossy());
        env.insert(utf8(&name, &what)?, utf8(&value, &what)?);
    }
    Ok(ExecRequest {
        file: file_path,
        argv,
        cwd,
        env,
    })
}

/// One of this process's stdin, stdout and stderr, or `/dev/null` in place of one
/// that is closed.
enum Stdio {
    Open(BorrowedFd<'static>),
    DevNull(OwnedFd),
}

impl Stdio {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Stdio::Open(fd) => *fd,
            Stdio::DevNull(fd) => fd.as_fd(),
        }
    }
}

fn stdio() -> std::io::Result<[Stdio; 3]> {
    let one = |fd: libc::c_int| -> std::io::Result<Stdio> {
        if sys::fd_is_open(fd) {
            // SAFETY: the descriptor is open, and this process never closes its stdio.
            return Ok(Stdio::Open(unsafe { BorrowedFd::borrow_raw(fd) }));
        }
        let null = std::fs::OpenOptions::new()
            .read(/*read*/ true)
            .write(/*write*/ true)
            .open("/dev/null")?;
        Ok(Stdio::DevNull(null.into()))
    };
    Ok([one(/*fd*/ 0)?, one(/*fd*/ 1)?, one(/*fd*/ 2)?])
}

/// Executes `file` with `argv` in place of this process; returns only on failure. A
/// file the kernel cannot execute (`ENOEXEC`, a script without `#!`) is run by
/// `/bin/sh`, as `execvp` and the shells do.
fn exec(file: &OsStr, argv: &[OsString]) -> Refusal {
    let Ok(file_c) = CString::new(file.as_bytes()) else {
        return refuse(format!(
            "{}: the path holds a NUL byte",
            file.to_string_lossy()
        ));
    };
    let mut args = Vec::with_capacity(argv.len() + 1);
    for arg in argv {
        match CString::new(arg.as_bytes()) {
            Ok(arg) => args.push(arg),
            Err(_) => return refuse("an argument holds a NUL byte".to_string()),
        }
    }
    let err = execv(&file_c, &args);
    if err.raw_os_error() == Some(libc::ENOEXEC) {
        let mut sh_args = vec![c"sh".to_owned(), file_c];
        sh_args.extend(args.iter().skip(1).cloned());
        execv(c"/bin/sh", &sh_args);
    }
    let code = match err.raw_os_error() {
        Some(libc::ENOENT) => 127,
        _ => REFUSED_EXIT_CODE,
    };
    Refusal(
        format!("{}: cannot execute: {err}", file.to_string_lossy()),
        code,
    )
}

fn execv(file: &std::ffi::CStr, args: &[CString]) -> std::io::Error {
    let mut pointers: Vec<*const libc::c_char> = args.iter().map(|arg| arg.as_ptr()).collect();
    pointers.push(std::ptr::null());
    // SAFETY: `file` and every argument are NUL-terminated strings that outlive the
    // call, and the pointer array ends with a null pointer.
    unsafe {
        libc::execv(file.as_ptr(), pointers.as_ptr());
    }
    std::io::Error::last_os_error()
}
