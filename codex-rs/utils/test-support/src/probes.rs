//! Perl programs the sandbox suites run inside a sandbox to probe what it lets through.

/// Tries, as a command on the host would, to reach into process `$ARGV[0]` (a server, or any
/// process of the same user):
/// `pidfd_open` it and `pidfd_getfd` each of its sockets (its listener, the client's
/// connection), `PTRACE_SEIZE` it (does not stop it; the tracer's exit detaches),
/// `process_vm_readv` its first mapping and `process_vm_writev` the same bytes back (that
/// mapping is read-only: `EFAULT` where the call is allowed), `kcmp` a descriptor with it,
/// and `open_by_handle_at` a made-up handle (`ESTALE` where allowed, as root). One line per
/// call: `ok` or the errno's name (for `pidfd_getfd`, every distinct outcome). Where the
/// target's `/proc` entries cannot be read (it is not dumpable, or another user's, and
/// the prober is not root), it says so (`sockets:` and `maps:` lines) and tries descriptors 3 to 31 and the
/// first page instead.
pub const PROCESS_PROBE: &str = r#"
use strict; use warnings; no warnings "portable"; use Errno; use POSIX ();
my $pid = $ARGV[0] + 0;
my %numbers = (x86_64 => [434, 438, 101, 310, 311, 312, 304],
               aarch64 => [434, 438, 117, 270, 271, 272, 265]);
my ($pidfd_open, $pidfd_getfd, $ptrace, $vm_readv, $vm_writev, $kcmp, $by_handle) =
    @{ $numbers{(POSIX::uname())[4]} or die "unknown architecture" };
sub outcome { return "ok" if $_[0] >= 0; my ($name) = grep { $!{$_} } keys %!; $name }
sub report { print "$_[0]: $_[1]\n" }
my $pidfd = syscall($pidfd_open, $pid, 0);
report("pidfd_open", outcome($pidfd));
my @sockets = (3 .. 31);
if (opendir(my $dir, "/proc/$pid/fd")) {
    @sockets = grep { (readlink("/proc/$pid/fd/$_") // "") =~ /^socket:/ } readdir($dir);
    report("sockets", @sockets ? "found" : "none");
} else {
    report("sockets", outcome(-1));
}
my %got = map { (outcome(syscall($pidfd_getfd, $pidfd, $_ + 0, 0)) => 1) } @sockets;
report("pidfd_getfd", join(",", sort keys %got));
report("ptrace", outcome(syscall($ptrace, 0x4206, $pid, 0, 0)));
my $start = "1000";
if (open(my $maps, "<", "/proc/$pid/maps")) {
    ($start) = <$maps> =~ /^([0-9a-f]+)-/;
    report("maps", "found");
} else {
    report("maps", outcome(-1));
}
my $buffer = "\0" x 8;
my $local = pack("QQ", unpack("J", pack("p", $buffer)), 8);
my $remote = pack("QQ", hex($start), 8);
report("process_vm_readv", outcome(syscall($vm_readv, $pid, $local, 1, $remote, 1, 0)));
report("process_vm_writev", outcome(syscall($vm_writev, $pid, $local, 1, $remote, 1, 0)));
report("kcmp", outcome(syscall($kcmp, $$ + 0, $pid, 0, 0, 0)));
my $handle = pack("LlQ", 8, 1, 0);
report("open_by_handle_at", outcome(syscall($by_handle, -100, $handle, 0)));
"#;

/// What [`PROCESS_PROBE`] prints when every call is refused by the seccomp filter, with
/// `sockets` and `maps` the outcome of reading the target's `/proc` entries.
pub fn process_probe_refused(sockets: &str, maps: &str) -> String {
    format!(
        "pidfd_open: EPERM\nsockets: {sockets}\npidfd_getfd: EPERM\nptrace: EPERM\n\
         maps: {maps}\nprocess_vm_readv: EPERM\nprocess_vm_writev: EPERM\nkcmp: EPERM\n\
         open_by_handle_at: EPERM\n"
    )
}
