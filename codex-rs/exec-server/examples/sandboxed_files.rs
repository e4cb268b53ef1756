//! Files and a command confined to one workspace directory by a sandbox policy.
//!
//! Shows: building a policy with the `SandboxPolicy` constructors and modifiers, reading
//! and writing through `Environment::file_system()` under it, a write outside the
//! workspace refused with a typed error (`FileSystemError::SandboxDenied`), and a command
//! run with `Command::sandbox`, which is refused with `ExecError::SandboxUnavailable`
//! (never run unconfined) where no sandbox can be built, e.g. without bubblewrap on Linux.
//!
//! ```sh
//! cargo run -p codex-exec-server --example sandboxed_files
//! ```
//!
//! It works in two fresh temporary directories (removed at the end), so it runs locally;
//! with `CODEX_EXEC_SERVER_URL` the same calls go to a server on this machine.

use anyhow::Context;
use anyhow::bail;
use codex_exec_server::Command;
use codex_exec_server::Environment;
use codex_exec_server::ExecError;
use codex_file_system::CreateDirectoryOptions;
use codex_file_system::FileSystemError;
use codex_protocol::SandboxPolicy;
use codex_utils_absolute_path::AbsolutePathBuf;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let workspace_dir = tempfile::tempdir()?;
    let elsewhere_dir = tempfile::tempdir()?;
    // Policies hold absolute paths; canonical ones, so a symlinked temp directory does not
    // confuse the output.
    let workspace = AbsolutePathBuf::try_from(workspace_dir.path().canonicalize()?)?;
    let elsewhere = AbsolutePathBuf::try_from(elsewhere_dir.path().canonicalize()?)?;

    // Writes only under `workspace` (plus `/tmp` and `$TMPDIR`, which `excluding_tmp`
    // takes out again: both temp directories live there), reads everywhere, no network.
    let policy = SandboxPolicy::workspace_write([workspace.clone()]).excluding_tmp()?;
    println!("workspace: {workspace}\npolicy: {policy:?}\n");

    let env = Environment::from_env().await?;
    let fs = env.file_system()?;

    // Inside the workspace: allowed.
    let notes = workspace.join("notes");
    let todo = notes.join("todo.txt");
    fs.create_directory(
        &notes,
        CreateDirectoryOptions { recursive: true },
        Some(&policy),
    )
    .await?;
    fs.write_file(&todo, b"write the examples\n".to_vec(), Some(&policy))
        .await?;
    let text = fs.read_file(&todo, Some(&policy)).await?;
    println!(
        "wrote and read {todo}: {:?}",
        String::from_utf8_lossy(&text)
    );
    let entries = fs.read_directory(&notes, Some(&policy)).await?;
    let names: Vec<&str> = entries
        .iter()
        .map(|entry| entry.file_name.as_str())
        .collect();
    println!("{notes} holds {names:?}");

    // Outside the workspace: refused before anything is written.
    let outside = elsewhere.join("escape.txt");
    match fs
        .write_file(&outside, b"should not exist\n".to_vec(), Some(&policy))
        .await
    {
        Err(FileSystemError::SandboxDenied(message)) => {
            println!("writing {outside} was refused (sandboxDenied): {message}");
        }
        Ok(()) => bail!("the policy let a write outside the workspace through"),
        Err(other) => return Err(other).context("writing outside the workspace"),
    }
    if outside.as_path().exists() {
        bail!("{outside} exists although the write was refused");
    }

    // A command under the same policy: its cwd (the workspace) is writable, the rest is not.
    let script = format!(
        "echo 'written in the sandbox' > from-command.txt && cat from-command.txt; \
         if (echo x > '{outside}') 2>/dev/null; then echo 'wrote outside!'; exit 1; \
         else echo 'writing outside the workspace failed, as it should'; fi"
    );
    let command = Command::new("/bin/sh")
        .args(["-c", script.as_str()])
        .current_dir(workspace.clone())
        .sandbox(policy.clone());
    println!();
    match command.output(&env).await {
        Ok(output) => {
            print!("{}", String::from_utf8_lossy(&output.stdout));
            eprint!("{}", String::from_utf8_lossy(&output.stderr));
            let status = output.status;
            println!("sandboxed command exited with {status}");
            if !status.success() {
                bail!("the sandboxed command failed");
            }
            let written = fs
                .read_file(&workspace.join("from-command.txt"), Some(&policy))
                .await?;
            println!(
                "read back through the filesystem: {:?}",
                String::from_utf8_lossy(&written)
            );
        }
        Err(ExecError::SandboxUnavailable(reason)) => {
            // Refused, never run unconfined: the policy cannot be enforced on this machine.
            println!(
                "sandboxed command not run, since no sandbox can be built here: {reason}\n\
                 (the filesystem part above needs no sandbox: it checks the policy itself)"
            );
        }
        Err(other) => return Err(other).context("running the sandboxed command"),
    }
    Ok(())
}
