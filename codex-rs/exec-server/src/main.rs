//! The `codex-exec-server` binary (see `codex_exec_server::cli`).

fn main() -> anyhow::Result<()> {
    codex_exec_server::cli::main()
}
