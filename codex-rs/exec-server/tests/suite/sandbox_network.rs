//! The network namespace of a sandbox without network, through the real server and
//! bubblewrap, with the server run by the caller and by `nobody`: each sandbox has one of
//! its own, whether the server made it ahead (root) or bubblewrap made it (anyone else),
//! with loopback up and nothing of the host's or of another sandbox's in it.
#![cfg(target_os = "linux")]

use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::SocketAddr;
use std::os::unix::net::UnixListener;
use std::time::Duration;
use std::time::Instant;

use pretty_assertions::assert_eq;
use serde_json::json;

use super::harness::RawClient;
use super::harness::unb64;
use super::sandbox::run;
use super::sandbox::sandboxed;
use super::users::server;
use codex_utils_test_support::Who;
use codex_utils_test_support::both_users;
use codex_utils_test_support::workspace_write;

both_users!(async network_off_sandboxes_share_no_network_namespace,);

/// Listens on the abstract Unix socket `ARGV[0]`, says so, and waits to be terminated.
const LISTENER: &str = r#"
use IO::Socket::UNIX;
my $l = IO::Socket::UNIX->new(Local => "\0$ARGV[0]", Listen => 1, Type => SOCK_STREAM)
    or die "listen: $!";
$| = 1;
print "listening\n";
sleep 60;
"#;

/// Listens on the abstract socket `ARGV[0]`, then connects to it and to `ARGV[1]` (another
/// sandbox's) and `ARGV[2]` (the host's), and tells whether loopback is up.
const PROBE: &str = r#"
use IO::Socket::UNIX;
my ($own, $other, $host) = @ARGV;
my $l = IO::Socket::UNIX->new(Local => "\0$own", Listen => 1, Type => SOCK_STREAM)
    or die "listen: $!";
for (["own", $own], ["other sandbox", $other], ["host", $host]) {
    my $c = IO::Socket::UNIX->new(Peer => "\0$_->[1]", Type => SOCK_STREAM);
    print "$_->[0]: ", ($c ? "connected" : "$!"), "\n";
}
open my $f, "<", "/proc/net/fib_trie" or die "fib_trie: $!";
my $trie = do { local $/; <$f> };
print "loopback: ", ($trie =~ /127\.0\.0\.1/ ? "up" : "down"), "\n";
"#;

/// `NS_GET_USERNS` (`linux/nsfs.h`): the user namespace that owns a namespace.
const NS_GET_USERNS: libc::c_ulong = 0xb701;

/// The processes whose command line has `marker` as an argument: the sandboxed command
/// and the bubblewrap processes that run it.
fn processes_running(marker: &str) -> Vec<(u32, Vec<Vec<u8>>)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let line = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let args: Vec<Vec<u8>> = line.split(|b| *b == 0).map(<[u8]>::to_vec).collect();
            args.iter()
                .any(|arg| arg == marker.as_bytes())
                .then_some((pid, args))
        })
        .collect()
}

/// Whether the network namespace of the `perl` running `marker` belongs to this test's
/// user namespace, i.e. was made by the server rather than inside the sandbox by
/// bubblewrap.
fn network_namespace_is_the_servers(marker: &str) -> bool {
    let (pid, _) = processes_running(marker)
        .into_iter()
        // The command itself, not the bubblewrap that runs it.
        .find(|(_, args)| args[0] == b"/usr/bin/perl")
        .unwrap_or_else(|| panic!("no perl runs with `{marker}`"));
    let network = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
    // SAFETY: an nsfs ioctl on a descriptor we own; it returns a new descriptor or -1.
    let owner = unsafe { libc::ioctl(network.as_raw_fd(), NS_GET_USERNS) };
    assert!(owner >= 0, "{}", std::io::Error::last_os_error());
    // SAFETY: a descriptor the ioctl just returned, owned by nothing else.
    let owner = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(owner) };
    let ours = std::fs::metadata("/proc/self/ns/user").unwrap();
    owner.metadata().unwrap().ino() == ours.ino()
}

/// The network namespaces that the processes running `marker` hold descriptors of
/// (none should: the server's are close-on-exec).
fn namespace_descriptors_of(marker: &str) -> Vec<String> {
    processes_running(marker)
        .into_iter()
        .flat_map(|(pid, _)| std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap())
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .map(|target| target.display().to_string())
        .filter(|target| target.starts_with("net:"))
        .collect()
}

/// The threads of process `pid` that are not in its network namespace (the thread that
/// makes namespaces must go back to it after each).
fn threads_elsewhere(pid: u32) -> Vec<String> {
    let own = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|task| {
            let task = task.ok()?.path();
            let net = std::fs::read_link(task.join("ns/net")).ok()?;
            (net != own).then(|| format!("{}: {}", task.display(), net.display()))
        })
        .collect()
}

/// Whether this test runs as root with `CAP_SYS_ADMIN`, as a server must to make network
/// namespaces itself.
fn root_with_cap_sys_admin() -> bool {
    const CAP_SYS_ADMIN: u32 = 21;
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let caps = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .map(|hex| u64::from_str_radix(hex.trim(), /*radix*/ 16).unwrap())
        .unwrap();
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    euid == 0 && caps & (1 << CAP_SYS_ADMIN) != 0
}

/// Reads the output of `process_id` until it printed `text`.
async fn wait_printed(client: &mut RawClient, process_id: &str, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut stdout = Vec::new();
    let mut after = 0u64;
    while !String::from_utf8_lossy(&stdout).contains(text) {
        assert!(Instant::now() < deadline, "{process_id} printed {stdout:?}");
        let result = client
            .ok(
                "process/read",
                json!({"processId": process_id, "afterSeq": after, "waitMs": 500}),
            )
            .await;
        for chunk in result["chunks"].as_array().expect("chunks") {
            stdout.extend(unb64(&chunk["chunk"]));
        }
        after = result["nextSeq"].as_u64().expect("nextSeq") - 1;
        assert_ne!(
            result["closed"],
            json!(true),
            "{process_id} ended: {stdout:?}"
        );
    }
}

/// Two sandboxes without network at once, and the host: neither sandbox reaches an
/// abstract Unix socket of the other or of the host (they are per network namespace), a
/// sandbox reaches its own, and loopback is up. A root server's sandboxes get namespaces
/// it made ahead; anyone else's get bubblewrap's. No sandbox process holds a descriptor
/// of a network namespace, and every thread of the server is in its own.
async fn network_off_sandboxes_share_no_network_namespace(who: Who) {
    let Some(server) = server(who, &[]) else {
        return;
    };
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let policy = workspace_write(&[&ws], /*network_access*/ false);
    let unique = format!(
        "codex-netns-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let (host, first, second) = (
        format!("{unique}-host"),
        format!("{unique}-first"),
        format!("{unique}-second"),
    );
    let _host = UnixListener::bind_addr(&SocketAddr::from_abstract_name(&host).unwrap()).unwrap();
    // A first start, after which a root server has namespaces ready.
    let warm = run(&mut client, sandboxed("warm", &["/bin/true"], &ws, &policy)).await;
    assert_eq!(warm.exit_code, 0, "{warm:?}");
    std::thread::sleep(Duration::from_millis(100));

    let listener = ["/usr/bin/perl", "-e", LISTENER, first.as_str()];
    client
        .ok("process/start", sandboxed("first", &listener, &ws, &policy))
        .await;
    wait_printed(&mut client, "first", "listening").await;
    let made_by_server = network_namespace_is_the_servers(&first);
    let held = namespace_descriptors_of(&first);
    let elsewhere = threads_elsewhere(server.pid());
    let probe = [
        "/usr/bin/perl",
        "-e",
        PROBE,
        second.as_str(),
        first.as_str(),
        host.as_str(),
    ];
    let second_run = run(&mut client, sandboxed("second", &probe, &ws, &policy)).await;
    client
        .ok("process/terminate", json!({"processId": "first"}))
        .await;

    assert_eq!(
        (second_run.stdout.as_str(), made_by_server, held, elsewhere),
        (
            "own: connected\nother sandbox: Connection refused\nhost: Connection refused\n\
             loopback: up\n",
            who == Who::Caller && root_with_cap_sys_admin(),
            Vec::<String>::new(),
            Vec::<String>::new(),
        ),
        "{second_run:?}"
    );
}
