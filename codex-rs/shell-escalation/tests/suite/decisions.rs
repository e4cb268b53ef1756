//! The three decisions, through the real wrapper, as the caller and as `nobody`: `Run`
//! executes the program in place (same pid, inside: the wrapper's user), `Escalate` runs
//! it in the server (a child of this test process, with the server's user) on the
//! wrapper's stdin/stdout/stderr, `Deny` prints the reason and runs nothing.

use std::process::Stdio;
use std::time::Duration;

use codex_shell_escalation::EscalationDecision;
use codex_utils_test_support::Who;
use codex_utils_test_support::both_users;
use pretty_assertions::assert_eq;

use super::harness::Session;
use super::harness::StubPolicy;
use super::harness::code;
use super::harness::output;
use super::harness::stderr;
use super::harness::stdout;

both_users!(async
    run_executes_in_place,
    run_keeps_argv0_and_arguments,
    escalate_runs_outside_with_the_wrappers_stdio,
    escalate_passes_stdin_cwd_env_and_argv0,
    escalate_reports_a_signal_as_128_plus_it,
    deny_prints_the_reason_and_runs_nothing,
    a_relative_program_is_resolved_against_the_working_directory,
    a_program_written_while_it_is_decided_about_is_refused,
);

/// `Run`: the program replaces the wrapper (its pid is the wrapper's) and runs as the
/// wrapper's user, i.e. inside.
async fn run_executes_in_place(who: Who) {
    let session = Session::start(who, StubPolicy::always(EscalationDecision::Run));
    let mut command = tokio::process::Command::from(
        session.wrapper_command("/bin/sh", &["sh", "-c", "echo $$ $(id -u)"]),
    );
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = command.spawn().unwrap();
    let pid = child.id().unwrap();
    let out = child.wait_with_output().await.unwrap();

    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), format!("{pid} {}\n", who.uid()));
    let requests = session.policy.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].file.to_str(), Some("/bin/sh"));
    assert_eq!(requests[0].argv, ["sh", "-c", "echo $$ $(id -u)"]);
    assert_eq!(requests[0].cwd, session.dir.root());
}

/// `Run` passes `argv[0]` and every argument (spaces, empty) through unchanged.
async fn run_keeps_argv0_and_arguments(who: Who) {
    let session = Session::start(who, StubPolicy::always(EscalationDecision::Run));
    let script = "tr '\\0' '|' < /proc/$$/cmdline";

    let out = session
        .run("/bin/sh", &["my-argv0", "-c", script, "zero", "a b", ""])
        .await;

    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), format!("my-argv0|-c|{script}|zero|a b||"));
}

/// `Escalate`: the program is a child of the server (this process), runs as the
/// server's user, writes in order to the wrapper's stdout and stderr, and its exit
/// status is the wrapper's.
async fn escalate_runs_outside_with_the_wrappers_stdio(who: Who) {
    let session = Session::start(who, StubPolicy::always(EscalationDecision::Escalate));
    let script = "echo $PPID $(id -u); i=1; while [ $i -le 2000 ]; do echo $i; i=$((i+1)); done; \
                  echo to-stderr >&2; exit 7";

    let out = session.sh(script).await;

    assert_eq!(code(&out), 7, "stderr: {}", stderr(&out));
    let expected: String =
        std::iter::once(format!("{} {}\n", std::process::id(), Who::Caller.uid()))
            .chain((1..=2000).map(|i| format!("{i}\n")))
            .collect();
    assert_eq!(stdout(&out), expected);
    assert_eq!(stderr(&out), "to-stderr\n");
}

/// `Escalate` runs with the wrapper's stdin, working directory, environment (without
/// the escalation variables) and `argv[0]`.
async fn escalate_passes_stdin_cwd_env_and_argv0(who: Who) {
    let session = Session::start(who, StubPolicy::always(EscalationDecision::Escalate));
    let script = "read line; echo \"in:$line\"; pwd; echo \"foo:$FOO\"; \
                  echo \"socket:${CODEX_ESCALATE_SOCKET-unset} wrapper:${EXEC_WRAPPER-unset}\"; \
                  tr '\\0' '|' < /proc/$$/cmdline";
    let mut command = session.wrapper_command("/bin/sh", &["renamed-sh", "-c", script]);
    command.env("FOO", "bar baz");
    let mut command = tokio::process::Command::from(command);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, b"hello from stdin\n")
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();

    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "in:hello from stdin\n{}\nfoo:bar baz\nsocket:unset wrapper:unset\nrenamed-sh|-c|{script}|",
            session.dir.root().display()
        )
    );
    let request = &session.policy.requests()[0];
    assert_eq!(request.env.get("FOO").map(String::as_str), Some("bar baz"));
    assert!(!request.env.contains_key("CODEX_ESCALATE_SOCKET"));
    assert!(!request.env.contains_key("EXEC_WRAPPER"));
}

/// A program killed by a signal makes the wrapper exit with 128 + that signal.
async fn escalate_reports_a_signal_as_128_plus_it(who: Who) {
    let session = Session::start(who, StubPolicy::always(EscalationDecision::Escalate));

    let out = session.sh("kill -TERM $$").await;

    assert_eq!(code(&out), 128 + libc::SIGTERM);
}

/// `Deny`: the reason on stderr, exit 126, and the program never ran.
async fn deny_prints_the_reason_and_runs_nothing(who: Who) {
    let reason = "rm -rf is forbidden here";
    let session = Session::start(
        who,
        StubPolicy::always(EscalationDecision::Deny {
            reason: reason.to_string(),
        }),
    );
    let marker = session.dir.path("ran");

    let out = session.sh(&format!("touch {}", marker.display())).await;

    assert_eq!(code(&out), 126);
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains(reason), "stderr: {}", stderr(&out));
    assert!(
        stderr(&out).starts_with("codex-execve-wrapper: denied: /bin/sh: "),
        "stderr: {}",
        stderr(&out)
    );
    assert!(!marker.exists());
}

/// A relative program path (`./tool`, as a shell passes it) reaches the policy joined
/// to the working directory, and runs.
async fn a_relative_program_is_resolved_against_the_working_directory(who: Who) {
    let session = Session::start(who, StubPolicy::always(EscalationDecision::Run));
    let tool = session.dir.write("tool", "#!/bin/sh\necho tool ran\n");
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let out = session.run("./tool", &["./tool"]).await;

    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "tool ran\n");
    assert_eq!(session.policy.requests()[0].file, tool);
}

/// A program the server cannot start: the wrapper says so and exits 127 (not found).
#[tokio::test]
async fn escalating_a_missing_program_fails_with_127() {
    let session = Session::start(
        Who::Caller,
        StubPolicy::always(EscalationDecision::Escalate),
    );

    let out = session.run("/nonexistent/program", &["program"]).await;

    assert_eq!(code(&out), 127);
    assert!(
        stderr(&out).contains("cannot run /nonexistent/program outside the sandbox"),
        "stderr: {}",
        stderr(&out)
    );
}

/// A script without `#!` runs under `/bin/sh` after `Run`, as `execvp` would run it.
#[tokio::test]
async fn run_falls_back_to_sh_for_a_script_without_shebang() {
    let session = Session::start(Who::Caller, StubPolicy::always(EscalationDecision::Run));
    let script = session.dir.write("plain", "echo plain \"$1\"\n");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let out = session.run(&script, &["plain", "arg"]).await;

    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "plain arg\n");
}

/// A wrapper that dies while its program runs escalated (Ctrl-C reaches the wrapper,
/// not the server's child) takes the program's process group down with it.
#[tokio::test]
async fn a_dying_wrapper_kills_its_escalated_program() {
    let session = Session::start(
        Who::Caller,
        StubPolicy::always(EscalationDecision::Escalate),
    );
    let pids = session.dir.path("pids");
    let script = format!(
        "sleep 1000 & echo $$ $! > {}.tmp; mv {0}.tmp {0}; wait",
        pids.display()
    );
    let mut command = session.wrapper_command("/bin/sh", &["sh", "-c", &script]);
    command.stdin(Stdio::null());
    let mut wrapper = tokio::process::Command::from(command).spawn().unwrap();
    let started = tokio::time::Instant::now();
    while !pids.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the program never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let running: Vec<libc::pid_t> = std::fs::read_to_string(&pids)
        .unwrap()
        .split_whitespace()
        .map(|pid| pid.parse().unwrap())
        .collect();

    wrapper.start_kill().unwrap();
    wrapper.wait().await.unwrap();

    for pid in running {
        let started = tokio::time::Instant::now();
        // Gone, or a zombie of ours that the runtime has yet to reap.
        while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            !stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        }) {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "process {pid} survived its wrapper"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Pipelines and lists: a shell whose commands each go through the wrapper (as the
/// patched shells do) shares the one inherited socket among all of them.
#[tokio::test]
async fn a_pipeline_of_wrapped_commands_shares_the_socket() {
    let session = Session::start(
        Who::Caller,
        StubPolicy::always(EscalationDecision::Escalate),
    );
    let w = session.wrapper().display().to_string();
    let script = format!(
        "{w} /bin/echo echo hello | {w} /usr/bin/tr tr a-z A-Z; {w} /bin/sh sh -c 'exit 3'; echo status=$?"
    );
    let mut command = std::process::Command::new("/bin/sh");
    command
        .args(["-c", &script])
        .current_dir(session.dir.root());
    session.shell.configure(&mut command);

    let out = output(command).await;

    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "HELLO\nstatus=3\n");
    assert_eq!(session.policy.requests().len(), 3);
}

/// A program file written to while it is decided about (while a person looks at it) is
/// not run: what was judged is not what it is now.
async fn a_program_written_while_it_is_decided_about_is_refused(who: Who) {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;

    let session = Session::start(
        who,
        StubPolicy::with(|request| {
            let mut file = std::fs::OpenOptions::new()
                .append(/*append*/ true)
                .open(&request.file)
                .unwrap();
            file.write_all(b"echo planted\n").unwrap();
            Box::pin(async { EscalationDecision::Escalate })
        }),
    );
    let tool = session.dir.root().join("tool.sh");
    std::fs::write(&tool, "#!/bin/sh\necho judged\n").unwrap();
    std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = session.run(&tool, &["tool.sh"]).await;
    assert_eq!(
        (code(&out), stdout(&out)),
        (126, String::new()),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("changed while it was being decided about"),
        "{}",
        stderr(&out)
    );
}
