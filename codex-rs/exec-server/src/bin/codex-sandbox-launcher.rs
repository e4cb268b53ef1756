//! `codex-sandbox-launcher`: builds a sandbox with the kernel's descriptor-based mount
//! calls and runs a command in it, for a `codex-exec-server` running as root (see
//! `codex_linux_sandbox::run_mount_launcher`). The server finds it next to its own
//! executable; it takes bubblewrap's options, as the server writes them.

fn main() {
    codex_linux_sandbox::run_mount_launcher()
}
