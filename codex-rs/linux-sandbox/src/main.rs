//! `codex-linux-sandbox`: see the crate README and `--help`.

fn main() {
    codex_linux_sandbox::run_main()
}
