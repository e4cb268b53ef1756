//! Network off: no TCP even to a listener on the host's loopback, Unix sockets still
//! work; network on: TCP works. The client is `perl` (`perl-base` is Essential on
//! Debian, so it is there wherever `/bin/sh` is).

use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

use super::harness::TestDir;
use super::harness::sandbox_command;
use super::harness::stderr;
use super::harness::stdout;
use super::harness::workspace_write;

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
    fn new(dir: &Path) -> Self {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let unix_path = dir.join("server.sock");
        let unix = UnixListener::bind(&unix_path).unwrap();
        Self {
            tcp,
            unix_path,
            _unix: unix,
        }
    }

    fn run_client(&self, policy: &Value, cwd: &Path) -> (String, String) {
        let port = self.tcp.local_addr().unwrap().port().to_string();
        let unix_path = self.unix_path.to_string_lossy().into_owned();
        let output = sandbox_command(
            policy,
            cwd,
            &["/usr/bin/perl", "-e", CLIENT, &port, &unix_path],
        )
        .output()
        .unwrap();
        (stdout(&output), stderr(&output))
    }
}

#[test]
fn network_off_refuses_tcp_to_host_loopback_but_allows_unix_sockets() {
    let dir = TestDir::new();
    let ws = dir.mkdir("ws");
    let listeners = Listeners::new(&ws);
    let policy = workspace_write(&[], /*network_access*/ false);

    let (out, err) = listeners.run_client(&policy, &ws);

    // EPERM, not ECONNREFUSED: the seccomp filter refuses the socket itself, before the
    // private network namespace would have refused the connection.
    assert_eq!(
        out, "tcp: Operation not permitted\nunix: connected\n",
        "{err}"
    );
}

#[test]
fn network_on_reaches_the_host_loopback() {
    let dir = TestDir::new();
    let ws = dir.mkdir("ws");
    let listeners = Listeners::new(&ws);
    let policy = workspace_write(&[], /*network_access*/ true);

    let (out, err) = listeners.run_client(&policy, &ws);

    assert_eq!(out, "tcp: connected\nunix: connected\n", "{err}");
}

#[test]
fn external_sandbox_without_network_gets_the_seccomp_filter_but_no_bwrap() {
    let dir = TestDir::new();
    let ws = dir.mkdir("ws");
    let outside = dir.mkdir("outside");
    let listeners = Listeners::new(&ws);
    let policy = json!({"type": "externalSandbox", "networkAccess": "restricted"});

    let (out, err) = listeners.run_client(&policy, &ws);
    let write = sandbox_command(
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

#[test]
fn danger_full_access_runs_the_command_directly() {
    let dir = TestDir::new();
    let ws = dir.mkdir("ws");
    let listeners = Listeners::new(&ws);
    let policy = json!({"type": "dangerFullAccess"});

    let (out, err) = listeners.run_client(&policy, &ws);

    assert_eq!(out, "tcp: connected\nunix: connected\n", "{err}");
}
