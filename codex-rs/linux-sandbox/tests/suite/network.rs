//! Network off: no TCP even to a listener on the host's loopback, Unix sockets still
//! work; network on: TCP works. The client is `perl` (`perl-base` is Essential on
//! Debian, so it is there wherever `/bin/sh` is).

use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

use super::harness::UserDir;
use super::harness::stderr;
use super::harness::stdout;
use super::harness::user_dir;
use codex_utils_test_support::PROCESS_PROBE;
use codex_utils_test_support::Who;
use codex_utils_test_support::both_users;
use codex_utils_test_support::process_probe_refused;
use codex_utils_test_support::workspace_write;

both_users!(
    network_off_refuses_tcp_to_host_loopback_but_allows_unix_sockets,
    network_on_reaches_the_host_loopback,
    external_sandbox_without_network_gets_the_seccomp_filter_but_no_bwrap,
    external_sandbox_without_network_cannot_reach_into_other_processes,
    danger_full_access_runs_the_command_directly,
);

/// Connects to `127.0.0.1:port` and to the Unix socket at `unix_path`, printing one line
/// per attempt: `tcp: connected` / `tcp: <error>`, `unix: connected` / `unix: <error>`.
const CLIENT: &str = r#"
use IO::Socket::INET;
use IO::Socket::UNIX;
my ($port, $unix_path) = @ARGV;
my $tcp = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port, Proto => "tcp");
print "tcp: ", ($tcp ? "connected" : "$!"), "\n";
my $unix = IO::Socket::UNIX->new(Peer => $unix_path, Type => SOCK_STREAM);
print "unix: ", ($unix ? "connected" : "$!"), "\n";
"#;

/// Listeners the sandboxed client tries to reach; they only need to accept into the
/// backlog, so nobody calls `accept`.
struct Listeners {
    tcp: TcpListener,
    unix_path: std::path::PathBuf,
    _unix: UnixListener,
}

impl Listeners {
    /// The Unix socket in `dir`'s `relative` directory is the user's, as one it made
    /// would be (connecting needs write permission on it).
    fn new(dir: &UserDir, relative: &str) -> Self {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let unix_path = dir.path(relative).join("server.sock");
        let unix = UnixListener::bind(&unix_path).unwrap();
        dir.own(&unix_path);
        Self {
            tcp,
            unix_path,
            _unix: unix,
        }
    }

    fn run_client(&self, dir: &UserDir, policy: &Value, cwd: &Path) -> (String, String) {
        let port = self.tcp.local_addr().unwrap().port().to_string();
        let unix_path = self.unix_path.to_string_lossy().into_owned();
        let output = dir
            .sandbox_command(
                policy,
                cwd,
                &["/usr/bin/perl", "-e", CLIENT, &port, &unix_path],
            )
            .output()
            .unwrap();
        (stdout(&output), stderr(&output))
    }
}

fn network_off_refuses_tcp_to_host_loopback_but_allows_unix_sockets(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let listeners = Listeners::new(&dir, "ws");
    let policy = workspace_write(&[], /*network_access*/ false);

    let (out, err) = listeners.run_client(&dir, &policy, &ws);

    // EPERM, not ECONNREFUSED: the seccomp filter refuses the socket itself, before the
    // private network namespace would have refused the connection.
    assert_eq!(
        out, "tcp: Operation not permitted\nunix: connected\n",
        "{err}"
    );
}

fn network_on_reaches_the_host_loopback(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let listeners = Listeners::new(&dir, "ws");
    let policy = workspace_write(&[], /*network_access*/ true);

    let (out, err) = listeners.run_client(&dir, &policy, &ws);

    assert_eq!(out, "tcp: connected\nunix: connected\n", "{err}");
}

fn external_sandbox_without_network_gets_the_seccomp_filter_but_no_bwrap(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let outside = dir.mkdir("outside");
    let listeners = Listeners::new(&dir, "ws");
    let policy = json!({"type": "externalSandbox", "networkAccess": "restricted"});

    let (out, err) = listeners.run_client(&dir, &policy, &ws);
    let write = dir
        .sandbox_command(
            &policy,
            &ws,
            &[
                "/bin/sh",
                "-c",
                &format!("echo x > {}/file", outside.display()),
            ],
        )
        .output()
        .unwrap();

    assert_eq!(
        out, "tcp: Operation not permitted\nunix: connected\n",
        "{err}"
    );
    // The filesystem is the external sandbox's business: nothing is mounted read-only.
    assert!(write.status.success(), "{}", stderr(&write));
    assert!(outside.join("file").exists());
}

/// Listens on a loopback port, says `ready`, and waits to be killed.
const SOCKET_HOLDER: &str = r#"
use IO::Socket::INET;
my $listener = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0", Proto => "tcp")
    or die "listen: $!";
$| = 1;
print "ready\n";
sleep 1000;
"#;

/// A [`SOCKET_HOLDER`] run by a user, killed on drop.
struct SocketHolder(std::process::Child);

impl SocketHolder {
    fn start(dir: &UserDir) -> Self {
        let mut child = dir
            .command("/usr/bin/perl")
            .args(["-e", SOCKET_HOLDER])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line, "ready\n");
        Self(child)
    }
}

impl Drop for SocketHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `externalSandbox` runs the command on the host, as the user of its caller (root here,
/// with every capability; or nobody): it must not take a socket of another process of
/// that user (`pidfd_getfd`) nor read or write its memory, which would hand it the
/// network the policy denies. The target is dumpable, so for `nobody` too only the
/// filter stands in the way.
fn external_sandbox_without_network_cannot_reach_into_other_processes(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let holder = SocketHolder::start(&dir);
    let policy = json!({"type": "externalSandbox", "networkAccess": "restricted"});
    let target = holder.0.id().to_string();

    let output = dir
        .sandbox_command(
            &policy,
            &ws,
            &["/usr/bin/perl", "-e", PROCESS_PROBE, &target],
        )
        .output()
        .unwrap();

    assert_eq!(
        (stdout(&output), stderr(&output), output.status.code()),
        (
            process_probe_refused("found", "found"),
            String::new(),
            Some(0)
        )
    );
}

fn danger_full_access_runs_the_command_directly(who: Who) {
    let dir = user_dir(who);
    let ws = dir.mkdir("ws");
    let listeners = Listeners::new(&dir, "ws");
    let policy = json!({"type": "dangerFullAccess"});

    let (out, err) = listeners.run_client(&dir, &policy, &ws);

    assert_eq!(out, "tcp: connected\nunix: connected\n", "{err}");
}
