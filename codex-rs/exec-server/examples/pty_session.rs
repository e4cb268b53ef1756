//! Drive a shell under a pseudo-terminal: type into it, resize it, end it.
//!
//! Shows: `Command::pty(rows, cols)`, writing to the terminal with `Child::stdin()`,
//! `Child::resize(PtySize)` (the shell's `stty size` follows), `ChildStdin::close` (the
//! terminal's end-of-file, which ends the shell) and `Child::wait`.
//!
//! ```sh
//! cargo run -p codex-exec-server --example pty_session                # scripted, exits 0
//! cargo run -p codex-exec-server --example pty_session -- bash        # another shell
//! cargo run -p codex-exec-server --example pty_session -- --interactive
//! ```
//!
//! By default it types a short script and checks what the terminal shows, so it runs
//! unattended (CI runs it). `--interactive` instead forwards the lines you type to the
//! shell until you press Ctrl-D (line by line: this program's own terminal stays in its
//! normal mode). `CODEX_EXEC_SERVER_URL` runs the shell on an exec-server instead.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use anyhow::bail;
use codex_exec_server::Child;
use codex_exec_server::ChildEvent;
use codex_exec_server::Command;
use codex_exec_server::Environment;
use codex_exec_server::ExitStatus;
use codex_exec_server::protocol::PtySize;
use tokio::io::AsyncBufReadExt;

/// How long the scripted session waits for the terminal to show what it expects.
const EXPECT_WITHIN: Duration = Duration::from_secs(10);
/// The terminal is taken to be waiting for input after this long without output.
const QUIET: Duration = Duration::from_millis(300);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    let interactive = argv.first().is_some_and(|arg| arg == "--interactive");
    if interactive {
        argv.remove(0);
    }
    if argv.is_empty() {
        argv = vec!["/bin/sh".to_string()];
    }
    let program = argv.remove(0);

    let env = Environment::from_env().await?;
    let mut child = Command::new(&program)
        .args(argv)
        .cwd(std::env::current_dir()?)?
        // A terminal needs TERM; PS1 keeps the prompt short and the same in every shell.
        .env("TERM", "xterm")
        .env("PS1", "$ ")
        .pty(/*rows*/ 24, /*cols*/ 80)
        .spawn(&env)
        .await?;
    eprintln!(
        "started {program} under a 24x80 terminal (process {})",
        child.id()
    );

    if interactive {
        forward_lines(&mut child).await?;
    } else {
        scripted(&mut child).await?;
    }

    // The terminal's end-of-file (Ctrl-D) makes the shell exit. `Child::wait` takes (and
    // discards) what the shell still prints; after a session typed by hand that is shown
    // instead.
    child.stdin().close().await?;
    let ending = async {
        if interactive {
            show_until_exit(&mut child).await
        } else {
            Ok(child.wait().await?)
        }
    };
    let status = tokio::time::timeout(EXPECT_WITHIN, ending)
        .await
        .context("the shell did not exit after end-of-file")??;
    eprintln!("\n{program} exited with {status}");
    if !status.success() {
        std::process::exit(status.code());
    }
    Ok(())
}

/// Type commands, resize in between, and check each answer.
async fn scripted(child: &mut Child) -> anyhow::Result<()> {
    let stdin = child.stdin();
    let mut screen = String::new();

    stdin.write(b"stty size\n").await?;
    expect(child, &mut screen, "24 80").await?;

    child
        .resize(PtySize {
            rows: 40,
            cols: 120,
        })
        .await?;
    eprintln!("\n[resized to 40x120]");
    stdin.write(b"stty size\n").await?;
    expect(child, &mut screen, "40 120").await?;

    stdin.write(b"tty\n").await?;
    expect(child, &mut screen, "/dev/pts/").await?;

    // Let the shell print its next prompt before the end-of-file below: a shell with line
    // editing (bash) reads the terminal raw only while it waits for a line, and a Ctrl-D
    // that arrives while a command still runs can get lost on the switch.
    show_until_quiet(child, QUIET).await
}

/// Show terminal output until none came for `quiet`.
async fn show_until_quiet(child: &mut Child, quiet: Duration) -> anyhow::Result<()> {
    while let Ok(event) = tokio::time::timeout(quiet, child.next_event()).await {
        match event.transpose()? {
            Some(ChildEvent::Pty(bytes)) => show(&bytes)?,
            Some(ChildEvent::Exited(status)) => bail!("the shell exited ({status}) early"),
            Some(_) => {}
            None => bail!("the shell's events ended early"),
        }
    }
    Ok(())
}

/// Print terminal output until `needle` appears in it (after what was already matched).
async fn expect(child: &mut Child, screen: &mut String, needle: &str) -> anyhow::Result<()> {
    let start = screen.len();
    let deadline = tokio::time::Instant::now() + EXPECT_WITHIN;
    while !screen[start..].contains(needle) {
        let event = tokio::time::timeout_at(deadline, child.next_event())
            .await
            .with_context(|| format!("waiting for {needle:?}; the terminal showed {screen:?}"))?;
        match event.transpose()? {
            Some(ChildEvent::Pty(bytes)) => {
                screen.push_str(&String::from_utf8_lossy(&bytes));
                show(&bytes)?;
            }
            Some(ChildEvent::Exited(status)) => bail!("the shell exited ({status}) early"),
            Some(other) => eprintln!("[{other:?}]"),
            None => bail!("the shell's events ended while waiting for {needle:?}"),
        }
    }
    Ok(())
}

/// Forward this program's stdin to the shell, line by line, and show its terminal, until
/// this program's stdin ends.
async fn forward_lines(child: &mut Child) -> anyhow::Result<()> {
    let stdin = child.stdin();
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            line = lines.next_line() => match line? {
                Some(line) => stdin.write(format!("{line}\n").as_bytes()).await?,
                None => return Ok(()),
            },
            event = child.next_event() => match event.transpose()? {
                Some(ChildEvent::Pty(bytes)) => show(&bytes)?,
                Some(ChildEvent::Exited(status)) => bail!("the shell exited ({status}) early"),
                Some(_) => {}
                None => bail!("the shell's events ended early"),
            },
        }
    }
}

/// Show the terminal's output until the shell exits.
async fn show_until_exit(child: &mut Child) -> anyhow::Result<ExitStatus> {
    while let Some(event) = child.next_event().await {
        match event? {
            ChildEvent::Pty(bytes) => show(&bytes)?,
            ChildEvent::Exited(status) => return Ok(status),
            _ => {}
        }
    }
    bail!("the shell's events ended without its exit")
}

fn show(bytes: &[u8]) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()
}
