//! Run one command and stream its output live, locally or on an exec-server.
//!
//! Shows: `Environment::from_env()` (local unless `CODEX_EXEC_SERVER_URL` names a server),
//! `Command` → `Child`, and taking the child's events one by one with `next_event` (stdout
//! and stderr as they come, then the exit) instead of collecting them with `output()`.
//!
//! ```sh
//! cargo run -p codex-exec-server --example run_command                 # uname -a, here
//! cargo run -p codex-exec-server --example run_command -- ls -l /
//! # on a server (start one with `just exec-server`, copy the URL it prints):
//! CODEX_EXEC_SERVER_URL='ws://127.0.0.1:PORT/?token=…' \
//!     cargo run -p codex-exec-server --example run_command -- sh -c 'echo out; echo err >&2'
//! ```
//!
//! The command runs in this program's working directory (which must exist on the
//! server's machine too), with `PATH` and nothing else in its environment, and this
//! program exits with the command's exit code.

use std::io::Write;

use anyhow::Context;
use codex_exec_server::ChildEvent;
use codex_exec_server::Command;
use codex_exec_server::Environment;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() {
        argv = vec!["uname".to_string(), "-a".to_string()];
    }
    let program = argv.remove(0);

    let env = Environment::from_env().await?;
    let place = if env.is_remote() {
        "on the exec-server"
    } else {
        "locally"
    };
    let cwd = std::env::current_dir().context("reading the working directory")?;
    eprintln!("running {program:?} {argv:?} {place}, in {}", cwd.display());

    let mut child = Command::new(&program)
        .args(argv)
        .cwd(&cwd)?
        .spawn(&env)
        .await?;

    // Events come in order: output chunks as the process writes them, then its exit.
    // Taking them as they come keeps memory flat however much the command prints.
    let mut exit_code = None;
    while let Some(event) = child.next_event().await {
        match event? {
            ChildEvent::Stdout(bytes) => {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(&bytes)?;
                stdout.flush()?;
            }
            ChildEvent::Stderr(bytes) => std::io::stderr().lock().write_all(&bytes)?,
            // Only a `.pty(..)` command has terminal output.
            ChildEvent::Pty(bytes) => std::io::stdout().lock().write_all(&bytes)?,
            // Only with `OutputMode::Drop` (the default `Pace` loses nothing).
            ChildEvent::Gap(gap) => eprintln!("[{} bytes of output lost]", gap.dropped_bytes),
            // Output may still follow the exit (from something that kept the pipes open);
            // the stream ends once all of it was delivered.
            ChildEvent::Exited(status) => exit_code = Some(status.code()),
        }
    }

    let code = exit_code.context("the event stream ended without the exit")?;
    eprintln!("{program} exited with {code}");
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}
