//! `codex-execve-wrapper`: see `codex_shell_escalation::wrapper` and the crate README.
//!
//! No Rust `main` set-up (`#![no_main]`): that set-up would make `SIGPIPE` ignored, and
//! the program this wrapper executes in place would inherit that. The arguments are
//! still read with `std::env::args_os` (the standard library captures them on start).
#![no_main]

/// The C entry point.
#[unsafe(no_mangle)]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    let code = codex_shell_escalation::wrapper::main();
    // Flush nothing else and run no destructors: just exit.
    std::process::exit(code)
}
