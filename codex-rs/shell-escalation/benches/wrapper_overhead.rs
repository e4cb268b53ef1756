//! What `codex-execve-wrapper` adds to one exec: `/bin/true` started directly, then
//! through the wrapper with a server answering `Run` (the common case) and `Escalate`.
//! Prints the median and 90th percentile of each and the wrapper's overhead (the goal
//! is at most +1 ms per exec). Then the same in the shell, as it is used: a loop of 1,000
//! `/bin/true` in the pinned patched bash, without `EXEC_WRAPPER` and with it (a server
//! answering `Run`), same run. `cargo bench -p codex-shell-escalation` (`just
//! bench-shell-escalation`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use codex_shell_escalation::BoxFuture;
use codex_shell_escalation::EscalationDecision;
use codex_shell_escalation::EscalationPolicy;
use codex_shell_escalation::EscalationServer;
use codex_shell_escalation::ExecRequest;
use codex_shell_escalation::ServerOptions;
use codex_shell_escalation::ShellSide;

const RUNS: usize = 300;

struct Always(EscalationDecision);

impl EscalationPolicy for Always {
    fn decide(&self, _request: ExecRequest) -> BoxFuture<'_, EscalationDecision> {
        let decision = self.0.clone();
        Box::pin(async move { decision })
    }
}

/// Fastest, median and 90th percentile of `RUNS` runs of `command()`, which must
/// exit with `expected`.
fn measure(expected: i32, mut command: impl FnMut() -> std::process::Command) -> [Duration; 3] {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let mut command = command();
            command.stderr(std::process::Stdio::null());
            let started = Instant::now();
            let status = command.status().unwrap();
            let elapsed = started.elapsed();
            assert_eq!(status.code(), Some(expected));
            elapsed
        })
        .collect();
    times.sort();
    [times[0], times[RUNS / 2], times[RUNS * 9 / 10]]
}

fn report(what: &str, [fastest, median, p90]: [Duration; 3], base: Option<[Duration; 3]>) {
    print!("{what:<34} fastest {fastest:>9.2?}  median {median:>9.2?}  p90 {p90:>9.2?}");
    match base {
        Some([base_fastest, base_median, _]) => println!(
            "  overhead: fastest {:>9.2?}  median {:>9.2?}",
            fastest.saturating_sub(base_fastest),
            median.saturating_sub(base_median)
        ),
        None => println!(),
    }
}

fn wrapped(wrapper: &Path, shell: &ShellSide) -> std::process::Command {
    let mut command = std::process::Command::new(wrapper);
    command.args(["/bin/true", "true"]);
    shell.configure(&mut command);
    command
}

fn main() {
    let wrapper = codex_utils_cargo_bin::cargo_bin("codex-execve-wrapper").unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(/*val*/ 1)
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();

    let direct = measure(
        /*expected*/ 0,
        || std::process::Command::new("/bin/true"),
    );
    report("/bin/true", direct, /*base*/ None);
    // The wrapper's own start-up: it refuses at once without a socket.
    let alone = measure(/*expected*/ 126, || {
        let mut command = std::process::Command::new(&wrapper);
        command
            .args(["/bin/true", "true"])
            .env_remove("CODEX_ESCALATE_SOCKET");
        command
    });
    report("wrapper alone (refuses, no socket)", alone, Some(direct));
    for decision in [EscalationDecision::Run, EscalationDecision::Escalate] {
        let policy: Arc<dyn EscalationPolicy> = Arc::new(Always(decision.clone()));
        let (_server, shell) =
            EscalationServer::start_with(policy, ServerOptions::new(&wrapper)).unwrap();
        let times = measure(/*expected*/ 0, || wrapped(&wrapper, &shell));
        report(
            &format!("wrapper, {decision:?}, /bin/true"),
            times,
            Some(direct),
        );
    }
    shell_loop(&wrapper);
}

/// Execs of the shell loop.
const LOOP_EXECS: u32 = 1000;

/// 1,000 `/bin/true` in the patched bash (the pinned `bash-wrapped` of the exec-server's
/// tests), plain and through the wrapper; the fastest of 3 runs each.
fn shell_loop(wrapper: &Path) {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../exec-server/tests/suite/bash-wrapped");
    let bash = match codex_utils_dotslash::dotslash_fetch(&fixture) {
        Ok(bash) => bash,
        Err(err) => {
            println!(
                "patched bash: not available ({err}); tools/dotslash/seed-test-shells.sh seeds it"
            );
            return;
        }
    };
    let script = format!("i=0; while [ $i -lt {LOOP_EXECS} ]; do /bin/true; i=$((i+1)); done");
    let run = |configure: &dyn Fn(&mut std::process::Command)| {
        (0..3)
            .map(|_| {
                let mut command = std::process::Command::new(&bash);
                command
                    .args(["-c", &script])
                    .env_clear()
                    .env("PATH", "/usr/bin:/bin");
                configure(&mut command);
                let started = Instant::now();
                let status = command.status().unwrap();
                assert!(status.success());
                started.elapsed()
            })
            .min()
            .unwrap()
    };
    let plain = run(&|_| {});
    let policy: Arc<dyn EscalationPolicy> = Arc::new(Always(EscalationDecision::Run));
    let (_server, shell) =
        EscalationServer::start_with(policy, ServerOptions::new(wrapper)).unwrap();
    let escalated = run(&|command| shell.configure(command));
    println!(
        "patched bash, {LOOP_EXECS} x /bin/true: plain {plain:.2?} ({:.2?}/exec), with escalation \
         {escalated:.2?} ({:.2?}/exec): +{:.2?} per exec (goal: at most +1 ms)",
        plain / LOOP_EXECS,
        escalated / LOOP_EXECS,
        escalated.saturating_sub(plain) / LOOP_EXECS
    );
}
