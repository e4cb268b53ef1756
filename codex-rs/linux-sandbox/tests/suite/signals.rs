//! Terminating the sandbox from outside: the signal reaches the sandboxed command, the
//! binary dies of the same signal, and the placeholders of missing protected paths are
//! gone afterwards.

use std::io::BufRead;
use std::io::BufReader;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use pretty_assertions::assert_eq;

use codex_utils_test_support::Who;

use super::harness::user_dir;
use codex_utils_test_support::both_users;
use codex_utils_test_support::workspace_write;

both_users!(sigterm_is_forwarded_and_placeholders_are_removed,);

/// How long the sandbox may take to die after SIGTERM before the test gives up (a
/// failure bound, not a performance expectation: it exits in milliseconds).
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(20);

fn sigterm_is_forwarded_and_placeholders_are_removed(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let policy = workspace_write(&[], /*network_access*/ false);
    let mut child = dir
        .sandbox_command(
            &policy,
            &ws,
            &[
                "/bin/sh",
                "-c",
                "test -d .git && echo started; exec sleep 1000",
            ],
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "started\n");
    // While the command runs, the `.git` placeholder exists on the host.
    assert!(ws.join(".git").is_dir());

    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: sending a signal to our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + EXIT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            // SIGKILL cannot be caught; `--die-with-parent` takes the sandbox down too.
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the sandbox did not exit within {EXIT_TIMEOUT:?} of SIGTERM");
        }
        std::thread::sleep(POLL_INTERVAL);
    };

    assert_eq!(status.signal(), Some(libc::SIGTERM));
    let left: Vec<String> = std::fs::read_dir(&ws)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, Vec::<String>::new());
}
