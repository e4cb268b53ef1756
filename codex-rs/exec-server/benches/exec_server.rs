//! `cargo bench -p codex-exec-server --bench exec_server`
//!
//! Measures, in one run, the server against a local baseline measured in the same run:
//! 1. spawn-to-first-output latency (p50/p99) of `/bin/echo` through the server vs a direct
//!    `tokio::process` spawn;
//! 2. streaming 1 GiB through the server (notifications, and a `process/read` loop; both
//!    lossless) vs through a local pipe, `outputMode: "drop"`, and a client that stops
//!    reading beside one that streams (`exec_server/streaming.rs`);
//! 3. the server's resident memory (VmRSS) with 1000 idle processes, per process;
//! 4. spawn-to-exit latency (p50/p99) of `/bin/true` through the server with a
//!    `workspaceWrite` sandbox policy vs without one (Linux: bubblewrap + seccomp),
//!    interleaved in the same run, and the floor under it: `bwrap` with the same mounts and
//!    namespaces started by the benchmark itself vs `/bin/true` alone;
//! 5. (`client-memory`) the Rust client's peak memory while a slow consumer takes 8 GiB
//!    of output (`exec_server/client_memory.rs`).
//!
//! It prints figures and ratios; it asserts nothing about timing. Name sections to run only
//! them: `cargo bench -p codex-exec-server --bench exec_server -- sandbox`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::BufRead;
use std::io::BufReader;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use codex_exec_server::ClientConfig;
use codex_exec_server::ExecServerClient;
use codex_exec_server::ProcessStream;
use codex_exec_server::protocol::ProcessEvent;
use codex_exec_server::protocol::StartParams;
use codex_exec_server::protocol::TerminateParams;
use codex_protocol::SandboxPolicy;
use tokio::io::AsyncReadExt;

const LATENCY_WARMUP: usize = 20;
const LATENCY_SAMPLES: usize = 500;
const STREAM_BYTES: u64 = 1 << 30;
const IDLE_PROCESSES: usize = 1000;
const SANDBOX_SAMPLES: usize = 300;
const EVENT_TIMEOUT: Duration = Duration::from_secs(120);

#[path = "exec_server/client_memory.rs"]
mod client_memory;
#[path = "exec_server/streaming.rs"]
mod streaming;

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(args: &[&str]) -> Self {
        let bin = codex_utils_cargo_bin::cargo_bin("codex-exec-server").unwrap();
        let mut command = Command::new(bin);
        command.args(["--listen", "ws://127.0.0.1:0"]).args(args);
        Self::spawn(command)
    }

    /// The server run as `nobody` with `args`, from a world-readable copy of the binary
    /// (and of codex-sandbox-launcher next to it), in a mount namespace of its own below a
    /// shared mount (as systemd hosts have `/`): with bubblewrap, its sandboxes start
    /// through the trampoline. Root only (`None` otherwise); the copy and the mount's
    /// directory must outlive the server.
    #[cfg(target_os = "linux")]
    fn start_as_nobody_where_mounts_propagate(
        args: &[&str],
    ) -> Option<(
        Self,
        codex_utils_test_support::InstalledCopy,
        tempfile::TempDir,
    )> {
        // SAFETY: geteuid cannot fail and touches no memory.
        if unsafe { libc::geteuid() } != 0 {
            println!("(the runs as nobody need root: skipped)\n");
            return None;
        }
        let bin = codex_utils_cargo_bin::cargo_bin("codex-exec-server").unwrap();
        let launcher = codex_utils_cargo_bin::cargo_bin("codex-sandbox-launcher").unwrap();
        let copy = codex_utils_test_support::installed_copy_with(&bin, &[&launcher]);
        let shared = tempfile::tempdir_in("/tmp").unwrap();
        let wrapper = codex_utils_test_support::below_a_shared_mount(
            shared.path().to_str().unwrap(),
            &codex_utils_test_support::NOBODY_SETPRIV,
        );
        let mut command = Command::new(wrapper[0]);
        command
            .args(&wrapper[1..])
            .arg(&copy.path)
            .args(["--listen", "ws://127.0.0.1:0"])
            .args(args);
        Some((Self::spawn(command), copy, shared))
    }

    fn spawn(mut command: Command) -> Self {
        let home = std::env::temp_dir();
        let mut child = command
            .env("HOME", home)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Self {
            child,
            url: line.trim().to_string(),
        }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn params(process_id: String, argv: &[&str]) -> StartParams {
    StartParams {
        process_id,
        argv: argv.iter().map(|s| s.to_string()).collect(),
        cwd: std::env::temp_dir().try_into().unwrap(),
        env: BTreeMap::from([("PATH".to_string(), "/usr/bin:/bin".to_string())]),
        tty: false,
        pty_size: None,
        pipe_stdin: false,
        arg0: None,
        sandbox_policy: None,
        limits: None,
        output_mode: codex_exec_server::protocol::OutputMode::Pace,
        escalation: None,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

/// A p50 and a p99.
type Figures = (Duration, Duration);

/// The p50 and p99 of `samples` (sorted here).
fn p50_p99(samples: &mut [Duration]) -> Figures {
    samples.sort();
    (
        percentile(samples, /*p*/ 0.5),
        percentile(samples, /*p*/ 0.99),
    )
}

/// One line of figures: `label`, padded to the column where they start, then p50 and p99.
fn print_figures(label: &str, (p50, p99): Figures) {
    println!(
        "  {label:<22} p50 {:7.3} ms   p99 {:7.3} ms",
        ms(p50),
        ms(p99)
    );
}

/// One line of `figures` minus `baseline`, then `suffix` (the goal, or nothing).
fn print_difference(label: &str, figures: Figures, baseline: Figures, suffix: &str) {
    println!(
        "  {label:<22} p50 {:+7.3} ms   p99 {:+7.3} ms{suffix}",
        ms(figures.0) - ms(baseline.0),
        ms(figures.1) - ms(baseline.1)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn next_event(events: &mut ProcessStream) -> ProcessEvent {
    tokio::time::timeout(EVENT_TIMEOUT, events.recv())
        .await
        .expect("event in time")
        .expect("event stream open")
        .expect("no stream error")
}

async fn wait_closed(events: &mut ProcessStream, process_id: &str) {
    loop {
        if let ProcessEvent::Closed(n) = next_event(events).await
            && n.process_id == process_id
        {
            return;
        }
    }
}

async fn latency_local() -> Vec<Duration> {
    let mut samples = Vec::new();
    for i in 0..LATENCY_WARMUP + LATENCY_SAMPLES {
        let started = Instant::now();
        let mut child = tokio::process::Command::new("/bin/echo")
            .arg("hi")
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(/*pgroup*/ 0)
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut buf = [0u8; 64];
        let n = stdout.read(&mut buf).await.unwrap();
        let elapsed = started.elapsed();
        assert!(n > 0);
        child.wait().await.unwrap();
        if i >= LATENCY_WARMUP {
            samples.push(elapsed);
        }
    }
    samples
}

async fn latency_server(client: &ExecServerClient) -> Vec<Duration> {
    let mut samples = Vec::new();
    for i in 0..LATENCY_WARMUP + LATENCY_SAMPLES {
        let process_id = format!("lat{i}");
        let started = Instant::now();
        let (_, mut events) = client
            .start_streaming(params(process_id.clone(), &["/bin/echo", "hi"]))
            .await
            .unwrap();
        let elapsed = loop {
            if let ProcessEvent::Output(n) = next_event(&mut events).await
                && n.process_id == process_id
            {
                break started.elapsed();
            }
        };
        wait_closed(&mut events, &process_id).await;
        if i >= LATENCY_WARMUP {
            samples.push(elapsed);
        }
    }
    samples
}

/// `start` → `exited` of one `/bin/true` with `policy`.
async fn spawn_to_exit(
    client: &ExecServerClient,
    process_id: String,
    policy: Option<&SandboxPolicy>,
) -> Duration {
    let mut start = params(process_id.clone(), &["/bin/true"]);
    start.sandbox_policy = policy.cloned();
    let started = Instant::now();
    let (_, mut events) = client.start_streaming(start).await.unwrap();
    let elapsed = loop {
        if let ProcessEvent::Exited(n) = next_event(&mut events).await
            && n.process_id == process_id
        {
            assert_eq!(n.exit_code, 0, "{process_id}");
            break started.elapsed();
        }
    };
    wait_closed(&mut events, &process_id).await;
    elapsed
}

/// `workspaceWrite` over the temporary directory with full reads and no network: the
/// usual policy of a coding agent.
fn bench_policy() -> SandboxPolicy {
    let workspace = std::env::temp_dir().canonicalize().unwrap();
    serde_json::from_value(serde_json::json!({
        "type": "workspaceWrite",
        "writableRoots": [workspace],
        "readOnlyAccess": {"type": "fullAccess"},
        "networkAccess": false,
        "excludeTmpdirEnvVar": true,
        "excludeSlashTmp": false,
    }))
    .unwrap()
}

/// Spawn-to-exit samples of `/bin/true` run directly by this process (no server): plain,
/// under bubblewrap with the mounts and namespaces [`bench_policy`] gets from the server
/// (without its seccomp filter and status pipe), and, where this process may make network
/// namespaces (root), the same bubblewrap started in one made beforehand instead of
/// making its own, as a root server starts it. What bubblewrap itself costs on this
/// machine: the floor under the server's sandboxed figure.
#[cfg(target_os = "linux")]
struct BubblewrapAlone {
    plain: Vec<Duration>,
    own_network: Vec<Duration>,
    network_made_ahead: Option<Vec<Duration>>,
    /// codex-sandbox-launcher with the same options, in its own network namespace and
    /// in one made ahead.
    launcher: Vec<Duration>,
    launcher_network_made_ahead: Option<Vec<Duration>>,
}

#[cfg(target_os = "linux")]
fn bubblewrap_alone_latency() -> BubblewrapAlone {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;

    use codex_linux_sandbox::BwrapOptions;
    use codex_linux_sandbox::PlaceholderLease;
    use codex_utils_absolute_path::AbsolutePathBuf;

    let cwd =
        AbsolutePathBuf::try_from_absolute(std::env::temp_dir().canonicalize().unwrap()).unwrap();
    let options = BwrapOptions::default();
    let command = [std::ffi::OsString::from("/bin/true")];
    let argv =
        codex_linux_sandbox::build_bwrap_argv(&bench_policy(), &cwd, &command, &options).unwrap();
    let joined_args: Vec<std::ffi::OsString> = argv
        .args
        .iter()
        .filter(|arg| *arg != "--unshare-net")
        .cloned()
        .collect();
    let lease = PlaceholderLease::acquire(&argv.placeholders).unwrap();
    let bwrap = codex_linux_sandbox::find_bwrap(
        /*explicit*/ None,
        std::env::var_os("PATH").as_deref(),
    )
    .unwrap();
    let launcher = codex_utils_cargo_bin::cargo_bin("codex-sandbox-launcher").unwrap();
    // The launcher runs only with the build of the host that starts it, and a seccomp
    // program (the filter a sandbox without network gets, in one memory file all runs
    // share; bubblewrap here runs without one).
    let filter = codex_linux_sandbox::NetworkFilter::compile(
        codex_linux_sandbox::FilterKind::InBubblewrap { deny_network: true },
    )
    .unwrap()
    .to_bwrap_bytes();
    // SAFETY: memfd_create with a NUL-terminated name; inheritable on purpose.
    let filter_fd = unsafe {
        libc::memfd_create(c"bench-seccomp".as_ptr(), /*flags*/ 0)
    };
    assert!(filter_fd > 2);
    // SAFETY: a fresh descriptor owned by nothing else, open until the samples are taken.
    let mut filter_file = std::mem::ManuallyDrop::new(unsafe {
        <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(filter_fd)
    });
    std::io::Write::write_all(&mut *filter_file, &filter[0]).unwrap();
    let with_build = |args: &[std::ffi::OsString]| -> Vec<std::ffi::OsString> {
        [
            "--codex-launcher-build".into(),
            codex_linux_sandbox::mount_launcher_build().into(),
            "--add-seccomp-fd".into(),
            filter_fd.to_string().into(),
        ]
        .into_iter()
        .chain(args.iter().cloned())
        .collect()
    };
    let (launcher_args, launcher_joined_args) = (with_build(&argv.args), with_build(&joined_args));
    let network = network_namespace_made_ahead();
    let run = |program: &std::path::Path,
               args: &[std::ffi::OsString],
               network: Option<std::os::fd::RawFd>| {
        let mut command = Command::new(program);
        command.args(args).stdin(Stdio::null());
        if let Some(network) = network {
            // SAFETY: setns is async-signal-safe; the descriptor outlives the spawn.
            unsafe {
                command.pre_exec(move || {
                    if libc::setns(network, libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let started = Instant::now();
        let status = command.status().unwrap();
        assert!(status.success(), "{program:?} {args:?}: {status}");
        started.elapsed()
    };
    let mut samples = BubblewrapAlone {
        plain: Vec::new(),
        own_network: Vec::new(),
        network_made_ahead: network.as_ref().map(|_| Vec::new()),
        launcher: Vec::new(),
        launcher_network_made_ahead: network.as_ref().map(|_| Vec::new()),
    };
    for i in 0..LATENCY_WARMUP + SANDBOX_SAMPLES {
        let a = run(
            std::path::Path::new("/bin/true"),
            &[],
            /*network*/ None,
        );
        let b = run(&bwrap, &argv.args, /*network*/ None);
        let c = network
            .as_ref()
            .map(|network| run(&bwrap, &joined_args, Some(network.as_raw_fd())));
        let d = run(&launcher, &launcher_args, /*network*/ None);
        let e = network
            .as_ref()
            .map(|network| run(&launcher, &launcher_joined_args, Some(network.as_raw_fd())));
        if i >= LATENCY_WARMUP {
            samples.plain.push(a);
            samples.own_network.push(b);
            samples.launcher.push(d);
            if let (Some(samples), Some(c)) = (&mut samples.network_made_ahead, c) {
                samples.push(c);
            }
            if let (Some(samples), Some(e)) = (&mut samples.launcher_network_made_ahead, e) {
                samples.push(e);
            }
        }
    }
    lease.release();
    samples
}

/// A network namespace made by a thread of this process (root only; `None` otherwise):
/// one for every run, so its making costs nothing here, as when a server made it ahead.
#[cfg(target_os = "linux")]
fn network_namespace_made_ahead() -> Option<std::os::fd::OwnedFd> {
    // SAFETY: geteuid cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    std::thread::spawn(|| {
        // SAFETY: unshare takes plain flags; it moves only this thread.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return None;
        }
        std::fs::File::open("/proc/thread-self/ns/net")
            .ok()
            .map(std::os::fd::OwnedFd::from)
    })
    .join()
    .unwrap()
}

/// Spawn-to-exit samples `(unsandboxed, sandboxed)`, alternating so both see the same
/// machine load.
async fn sandbox_latency(client: &ExecServerClient) -> (Vec<Duration>, Vec<Duration>) {
    let policy = bench_policy();
    let (mut plain, mut sandboxed) = (Vec::new(), Vec::new());
    for i in 0..LATENCY_WARMUP + SANDBOX_SAMPLES {
        let a = spawn_to_exit(client, format!("plain{i}"), /*policy*/ None).await;
        let b = spawn_to_exit(client, format!("sbx{i}"), Some(&policy)).await;
        if i >= LATENCY_WARMUP {
            plain.push(a);
            sandboxed.push(b);
        }
    }
    (plain, sandboxed)
}

async fn idle_memory() -> (u64, u64) {
    let server = Server::start(&[]);
    let client = ExecServerClient::connect(ClientConfig::new(server.url.clone()))
        .await
        .unwrap();
    // Warm up the connection and the runtime's threads before the baseline.
    let (_, mut events) = client
        .start_streaming(params("warm".to_string(), &["/bin/true"]))
        .await
        .unwrap();
    wait_closed(&mut events, "warm").await;
    let before = server.rss_kib();
    for i in 0..IDLE_PROCESSES {
        client
            .start(params(format!("idle{i}"), &["sleep", "1000"]))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = server.rss_kib();
    for i in 0..IDLE_PROCESSES {
        client
            .terminate(TerminateParams {
                process_id: format!("idle{i}"),
            })
            .await
            .unwrap();
    }
    (before, after)
}

/// The sections of the benchmark, in the order they run; `cargo bench ... -- NAME...`
/// runs only the named ones (all by default).
const SECTIONS: [&str; 5] = [
    "latency",
    "throughput",
    "sandbox",
    "memory",
    "client-memory",
];

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; any other argument names a section to run.
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    if let Some(unknown) = wanted
        .iter()
        .find(|name| !SECTIONS.contains(&name.as_str()))
    {
        eprintln!("unknown section `{unknown}`; the sections are {SECTIONS:?}");
        std::process::exit(2);
    }
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|wanted| wanted == name);
    // The client's own warnings (a reconnect, a malformed frame) explain a loss or a slow
    // round; `RUST_LOG` overrides the level.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    println!("codex-exec-server benchmark (baseline measured in the same run)\n");
    if run("latency") {
        latency_section().await;
    }
    if run("throughput") {
        streaming::section().await;
    }
    if run("sandbox") {
        sandbox_section().await;
    }
    if run("memory") {
        memory_section().await;
    }
    if run("client-memory") {
        if wanted.len() == 1 {
            client_memory::section().await;
        } else {
            // A fresh process: memory the other sections freed would hide the peak.
            let status = Command::new(std::env::current_exe().unwrap())
                .arg("client-memory")
                .status()
                .unwrap();
            assert!(status.success(), "the client-memory section failed");
        }
    }
}

async fn latency_section() {
    let server = Server::start(&[]);
    let client = ExecServerClient::connect(ClientConfig::new(server.url.clone()))
        .await
        .unwrap();
    let local = p50_p99(&mut latency_local().await);
    let remote = p50_p99(&mut latency_server(&client).await);
    println!("spawn-to-first-output of /bin/echo ({LATENCY_SAMPLES} samples):");
    print_figures("local tokio::process", local);
    print_figures("through exec-server", remote);
    print_difference(
        "delta",
        remote,
        local,
        "   (goal: p50 <= +1 ms, p99 <= +5 ms)\n",
    );
}

/// Prints the spawn-to-exit latency through `server` with and without a sandbox, and the
/// difference.
async fn print_sandbox_latency(server: &Server, title: &str) {
    let client = ExecServerClient::connect(ClientConfig::new(server.url.clone()))
        .await
        .unwrap();
    let (mut plain, mut sandboxed) = sandbox_latency(&client).await;
    let (plain, sandboxed) = (p50_p99(&mut plain), p50_p99(&mut sandboxed));
    println!("{title} ({SANDBOX_SAMPLES} samples each, interleaved):");
    print_figures("no sandboxPolicy", plain);
    print_figures("sandboxed", sandboxed);
    print_difference("delta", sandboxed, plain, "   (goal: p50 <= +4 ms)\n");
}

async fn sandbox_section() {
    const BUBBLEWRAP: [&str; 2] = ["--sandbox-launcher", "bubblewrap"];
    {
        let server = Server::start(&[]);
        print_sandbox_latency(
            &server,
            "spawn-to-exit of /bin/true through exec-server, workspaceWrite sandbox vs none \
             (sandboxes built by codex-sandbox-launcher)",
        )
        .await;
        let server = Server::start(&BUBBLEWRAP);
        print_sandbox_latency(&server, "the same with --sandbox-launcher bubblewrap").await;
    }
    #[cfg(target_os = "linux")]
    if let Some((server, _copy, _shared)) = Server::start_as_nobody_where_mounts_propagate(&[]) {
        print_sandbox_latency(
            &server,
            "the same with the server run as nobody below a shared mount (as on systemd \
             hosts), sandboxes built by codex-sandbox-launcher",
        )
        .await;
        drop(server);
        if let Some((server, _copy, _shared)) =
            Server::start_as_nobody_where_mounts_propagate(&BUBBLEWRAP)
        {
            print_sandbox_latency(
                &server,
                "the same with --sandbox-launcher bubblewrap, which starts through the \
                 trampoline there",
            )
            .await;
        }
    }
    #[cfg(target_os = "linux")]
    {
        let BubblewrapAlone {
            mut plain,
            mut own_network,
            network_made_ahead,
            mut launcher,
            launcher_network_made_ahead,
        } = bubblewrap_alone_latency();
        let plain = p50_p99(&mut plain);
        println!(
            "the floor: /bin/true run by this process, bubblewrap and codex-sandbox-launcher \
             alone with the same mounts and namespaces vs none ({SANDBOX_SAMPLES} samples each, interleaved):"
        );
        print_figures("/bin/true", plain);
        let print_cost = |samples: &mut Vec<Duration>, what: &str, cost: &str| {
            let figures = p50_p99(samples);
            print_figures(what, figures);
            print_difference(cost, figures, plain, "");
        };
        print_cost(
            &mut own_network,
            "bwrap ... /bin/true",
            "bubblewrap's own cost",
        );
        match network_made_ahead {
            Some(mut samples) => print_cost(
                &mut samples,
                "bwrap in a made netns",
                "cost, netns made ahead",
            ),
            None => {
                println!("  (bubblewrap in a network namespace made ahead needs root: skipped)")
            }
        }
        print_cost(
            &mut launcher,
            "launcher ... /bin/true",
            "the launcher's cost",
        );
        if let Some(mut samples) = launcher_network_made_ahead {
            print_cost(
                &mut samples,
                "launcher, made netns",
                "cost, netns made ahead",
            );
        }
        println!();
    }
}

async fn memory_section() {
    let (before, after) = idle_memory().await;
    println!("resident memory of the server with {IDLE_PROCESSES} idle `sleep 1000` processes:");
    println!("  before {before} KiB, after {after} KiB");
    println!(
        "  per process            {:8.1} KiB",
        (after.saturating_sub(before)) as f64 / IDLE_PROCESSES as f64
    );
}
