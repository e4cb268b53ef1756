//! `codex-linux-sandbox`: see the crate README and `--help`.

fn main() {
    // Started as the trampoline, this binary runs bubblewrap (see `arg0_dispatch`).
    codex_linux_sandbox::arg0_dispatch();
    codex_linux_sandbox::run_main()
}
