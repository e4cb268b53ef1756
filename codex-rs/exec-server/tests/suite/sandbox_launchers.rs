//! A server builds its sandboxes with codex-sandbox-launcher (next to the server's
//! executable, if only root can change it), from the same options it would give
//! bubblewrap. The sandbox must be the same: each test runs one probe in the same
//! sandboxes of two servers, one with the launcher and one with `--sandbox-launcher
//! bubblewrap`, and compares everything the command can see (ids, capabilities, filters,
//! `/dev`, network interfaces, cwd, environment, what it may write, and every mount it
//! can reach with its options), with the servers run by the caller and by `nobody`. The
//! rest of the suite, run as root, runs through the launcher.
//!
//! Root only: elsewhere the built launcher is not root's, so it is not used.
#![cfg(target_os = "linux")]

use std::collections::BTreeSet;
use std::collections::HashMap;
use std::path::Path;

use pretty_assertions::assert_eq;
use serde_json::Value;
use serde_json::json;

use super::harness::RawClient;
use super::sandbox::Run;
use super::sandbox::run;
use super::sandbox::sandboxed;
use super::users::server;
use codex_utils_test_support::Who;
use codex_utils_test_support::both_users;
use codex_utils_test_support::workspace_write;

both_users!(async
    the_launcher_and_bubblewrap_build_the_same_sandboxes,
    ipc_objects_and_keyrings_of_the_host_are_out_of_reach,
    pid_1_and_the_host_devices_are_out_of_reach,
    a_launch_that_cannot_be_built_exits_125_and_runs_nothing_with_either,
);

/// The server options that pick each program, the launcher's first.
const LAUNCHERS: [&[&str]; 2] = [&[], &["--sandbox-launcher", "bubblewrap"]];

/// Everything the command can observe of its sandbox, as text; the mounts last.
const PROBE: &str = r#"
echo "== id"; id
echo "== status"; grep -E '^(Cap|NoNewPrivs|Seccomp|Sig(Ign|Blk)|Umask)' /proc/self/status
echo "== pids $$ $PPID"
echo "== ids"; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups
echo "== limits"; ulimit -a
echo "== root"; ls -la / | awk '{print $1, $3, $4, $NF}'
echo "== command"; tr '\0' ' ' < /proc/self/cmdline; echo
ls -la /dev/.codex-arg0 2>&1 | awk '{print $1, $NF}'
echo "== dev"; ls -la /dev /dev/pts /dev/shm | awk '{print $1, $3, $4, $NF}'
echo "== net"; awk 'NR > 2 {print $1}' /proc/net/dev
echo "== cwd"; pwd
echo "== env"; env | sort
echo "== writes"
for path in "$PWD/new" "$PWD/.git/hook" "$PWD/.codex/x" "$PWD/.agents" /etc/x /tmp/x \
    /dev/x /dev/shm/x /proc/sys/kernel/hostname /lib64/x; do
  if (: > "$path") 2>/dev/null; then echo "wrote $path"; else echo "refused $path"; fi
done
mkdir "$PWD/.codex" 2>/dev/null && echo "made .codex" || echo "refused .codex"
echo "== mounts"; cat /proc/self/mountinfo
"#;

/// The mounts of a `mountinfo` the command can reach (not covered by a mount on the same
/// point, nor under one that is), without ids (which differ from run to run), sorted.
fn reachable_mounts(mountinfo: &str) -> BTreeSet<String> {
    struct Mount<'a> {
        parent: &'a str,
        point: &'a str,
        rest: String,
    }
    let mounts: HashMap<&str, Mount> = mountinfo
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let separator = fields.iter().position(|field| *field == "-")?;
            // root, mount point, options; then type, source, super options.
            let rest = [&fields[3..6], &fields[separator + 1..]].concat().join(" ");
            Some((
                fields[0],
                Mount {
                    parent: fields[1],
                    point: fields[4],
                    rest,
                },
            ))
        })
        .collect();
    let covered = |id: &str, mount: &Mount| {
        mounts
            .values()
            .any(|other| other.parent == id && other.point == mount.point)
    };
    let reachable = |start: &str| {
        let mut id = start.to_string();
        loop {
            let Some(mount) = mounts.get(id.as_str()) else {
                // Above the sandbox's root.
                return true;
            };
            if covered(&id, mount) {
                return false;
            }
            id = mount.parent.to_string();
        }
    };
    mounts
        .iter()
        .filter(|(id, _)| reachable(id))
        .map(|(_, mount)| mount.rest.clone())
        .collect()
}

/// The probe's output with the mounts reduced to [`reachable_mounts`].
fn observed(run: Run) -> (String, BTreeSet<String>, String, i64) {
    // A terminal's output ends its lines with CR LF.
    let stdout = run.stdout.replace("\r\n", "\n");
    let (before, mountinfo) = stdout
        .split_once("== mounts\n")
        .unwrap_or((stdout.as_str(), ""));
    (
        before.to_string(),
        reachable_mounts(mountinfo),
        run.stderr,
        run.exit_code,
    )
}

/// What the probe observed: its output before the mounts, the mounts it can reach, its
/// stderr and its exit code.
type Observation = (String, BTreeSet<String>, String, i64);

/// What the launcher is expected to show where bubblewrap showed `bubblewrap`: the same,
/// but with the host's devices (and the terminal) bound read-only. Bubblewrap 0.8 cannot
/// (its read-only binds are also `nodev`), so a root server's command can `chmod` the
/// host's device nodes under it; see `pid_1_and_the_host_devices_are_out_of_reach` below.
fn as_the_launcher_builds_it(bubblewrap: Observation) -> Observation {
    const DEVICES: [&str; 7] = [
        "null", "zero", "full", "random", "urandom", "tty", "console",
    ];
    let (before, mounts, stderr, code) = bubblewrap;
    let mounts = mounts
        .into_iter()
        .map(|mount| {
            let fields: Vec<&str> = mount.splitn(/*n*/ 4, ' ').collect();
            let [root, point, options, rest] = fields[..] else {
                return mount;
            };
            if !DEVICES.iter().any(|name| point == format!("/dev/{name}")) {
                return mount;
            }
            let options = match options.strip_prefix("rw") {
                Some(tail) => format!("ro{tail}"),
                None => options.to_string(),
            };
            format!("{root} {point} {options} {rest}")
        })
        .collect();
    (before, mounts, stderr, code)
}

/// Runs `argv` under `policy` (with the `extra` request fields) in `ws` on a server run by `who` with the
/// launcher and on one with bubblewrap, and returns both runs.
async fn run_both(who: Who, ws: &Path, policy: &Value, argv: &[&str], extra: &Value) -> [Run; 2] {
    let mut runs = Vec::new();
    for args in LAUNCHERS {
        let server = server(who, args).expect("root can be anyone");
        let (mut client, _) = RawClient::initialized(&server.url).await;
        let mut params = sandboxed("probe", argv, ws, policy);
        for (key, value) in extra.as_object().into_iter().flatten() {
            params[key] = value.clone();
        }
        runs.push(run(&mut client, params).await);
    }
    runs.try_into().expect("two runs")
}

/// Whether the launcher is used here: tests run by root only (see the module's doc).
fn launcher_in_use() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() == 0 };
    if !root {
        eprintln!("skipped: the launcher is only used where root installed it");
    }
    root
}

async fn the_launcher_and_bubblewrap_build_the_same_sandboxes(who: Who) {
    if !launcher_in_use() {
        return;
    }
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    // A `.git` that exists (bound read-only) and a `.codex` and `.agents` that do not
    // (read-only placeholders).
    dir.mkdir("ws/.git");
    let restricted = json!({
        "type": "readOnly",
        "access": {"type": "restricted", "includePlatformDefaults": true, "readableRoots": [ws]},
    });
    // A nested writable root, with a `.git` in it (so the directories between the roots
    // and it are mount points of their own).
    dir.mkdir("ws/sub/.git");
    let nested = workspace_write(&[&ws, &ws.join("sub")], /*network_access*/ false);
    let off = || workspace_write(&[&ws], /*network_access*/ false);
    let cases = [
        ("workspace write, network off", off(), json!({})),
        (
            "workspace write, network on",
            workspace_write(&[&ws], /*network_access*/ true),
            json!({}),
        ),
        ("restricted reads", restricted, json!({})),
        ("workspace write, terminal", off(), json!({"tty": true})),
        // The program bound in the sandbox's `/dev` to run under another name.
        ("nested roots, arg0", nested, json!({"arg0": "probe-name"})),
    ];
    for (name, policy, extra) in cases {
        let [launcher, bubblewrap]: [Observation; 2] =
            run_both(who, &ws, &policy, &["/bin/sh", "-c", PROBE], &extra)
                .await
                .map(observed);
        assert_eq!(launcher, as_the_launcher_builds_it(bubblewrap), "{name}");
        // And it is a sandbox: no capabilities, the protected paths refused.
        let text = &launcher.0;
        let expected = [
            "CapEff:\t0000000000000000\n".to_string(),
            "CapBnd:\t0000000000000000\n".to_string(),
            format!("refused {}/.git/hook", ws.display()),
            "refused .codex".to_string(),
        ];
        for line in expected {
            assert!(text.contains(&line), "{name}: no {line:?} in {text}");
        }
        assert!(!launcher.1.is_empty(), "{name}: no mounts");
        if extra.get("arg0").is_some() {
            let named = "/dev/.codex-arg0/probe-name -c";
            assert!(text.contains(named), "{name}: no {named:?} in {text}");
        }
    }
}

async fn a_launch_that_cannot_be_built_exits_125_and_runs_nothing_with_either(who: Who) {
    if !launcher_in_use() {
        return;
    }
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let marker = ws.join("ran");
    // `/bin/sh` is not in the sandbox: set-up fails at the command's `execvp`.
    let mut policy = workspace_write(&[&ws], /*network_access*/ false);
    policy["readOnlyAccess"] =
        json!({"type": "restricted", "includePlatformDefaults": false, "readableRoots": [ws]});
    let script = format!("touch {}", marker.display());

    let runs = run_both(who, &ws, &policy, &["/bin/sh", "-c", &script], &json!({})).await;

    assert_eq!(
        runs,
        ["codex-sandbox-launcher", "bwrap"].map(|name| Run {
            stdout: String::new(),
            stderr: format!("{name}: execvp /bin/sh: No such file or directory\n"),
            exit_code: 125,
        })
    );
    assert!(!marker.exists());
}

/// What the sandbox's PID 1 and the host's device nodes show a command that tries to use
/// them: tracing PID 1 (`PTRACE_SEIZE`, which does not stop it, so that a failure here
/// does not hang the sandbox) (whose system calls would not be filtered if it had no seccomp
/// program of its own), writing into its descriptors (the pipe that reports the exit
/// code), reaching its executable (the launcher, on the host's mount), and `chmod` of a
/// device (the host's node; a root server's command owns it).
const PID_1_PROBE: &str = r#"
perl -e 'print syscall(101, 16902, 1, 0, 0) == -1 ? "trace refused\n" : "trace allowed\n"'
grep '^Seccomp:' /proc/1/status
reopened=no
for fd in /proc/1/fd/*; do (printf 'AAAA' > "$fd") 2> /dev/null && reopened=yes; done
echo "descriptors reopened: $reopened"
readlink /proc/1/exe > /dev/null 2>&1 && echo "exe shown" || echo "exe hidden"
chmod 600 /dev/full 2> /dev/null && echo "chmod done" || echo "chmod refused"
exit 3
"#;

/// Found by attacking the launcher: its PID 1 ran without the seccomp programs and could
/// be traced (a command attached to it and had it `chmod` a setuid file, open a vsock and
/// make a user namespace, all refused to the command itself), its descriptors could be
/// reopened through `/proc/1/fd` (a command forged its own exit code), its executable
/// could be `chmod`ed through `/proc/1/exe`, and the host's devices were bound writable.
/// Each line below failed before its fix.
async fn pid_1_and_the_host_devices_are_out_of_reach(who: Who) {
    if !launcher_in_use() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let mode_of_full = || {
        std::fs::metadata("/dev/full")
            .expect("/dev/full")
            .permissions()
            .mode()
    };
    let before = mode_of_full();
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let server = server(who, LAUNCHERS[0]).expect("root can be anyone");
    let (mut client, _) = RawClient::initialized(&server.url).await;
    let policy = workspace_write(&[&ws], /*network_access*/ false);

    let result = run(
        &mut client,
        sandboxed("p", &["/bin/sh", "-c", PID_1_PROBE], &ws, &policy),
    )
    .await;

    let after = mode_of_full();
    if after != before {
        // Put the host back before failing.
        std::fs::set_permissions("/dev/full", std::fs::Permissions::from_mode(before))
            .expect("chmod");
    }
    assert_eq!(
        result,
        Run {
            stdout:
                "trace refused\nSeccomp:\t2\ndescriptors reopened: no\nexe hidden\nchmod refused\n"
                    .to_string(),
            stderr: String::new(),
            exit_code: 3,
        }
    );
    assert_eq!(after, before, "the host's /dev/full");
}

/// A launcher left over from another build (one without a later fix, say) never runs: the
/// server passes its own build and the launcher refuses any other.
#[test]
fn a_launcher_of_another_build_refuses_to_run() {
    let launcher = codex_utils_cargo_bin::cargo_bin("codex-sandbox-launcher").expect("binary");
    let run = |build: &str| {
        std::process::Command::new(&launcher)
            .args(["--codex-launcher-build", build])
            .args([
                "--unshare-user",
                "--cap-drop",
                "ALL",
                "--unshare-pid",
                "--unshare-ipc",
            ])
            .args(["--ro-bind", "/", "/", "--", "/bin/true"])
            .output()
            .expect("run the launcher")
    };

    let other = run("0000000000000000");

    assert_eq!(other.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(
        stderr.starts_with("codex-sandbox-launcher: built from other sources than the host"),
        "{stderr}"
    );
    // Its own build gets past that check, to the next: a sandbox without a seccomp
    // program (the filter is what refuses nested user namespaces) is refused too.
    let own = run(&codex_linux_sandbox::mount_launcher_build());
    assert_eq!(own.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&own.stderr),
        "codex-sandbox-launcher: every sandbox needs a seccomp program (--add-seccomp-fd)\n"
    );
}

/// Found by attacking the launcher (bubblewrap had both too): the sandbox shared the host's
/// SysV IPC and POSIX message queues, and a root server's command read and overwrote a
/// shared memory segment of root's with mode 0600; and it kept the server's session
/// keyring, whose keys it read and added to. Sandboxes now have IPC of their own, and
/// the keyring calls are refused (`keyctl` asking for the session keyring's id here).
async fn ipc_objects_and_keyrings_of_the_host_are_out_of_reach(who: Who) {
    if !launcher_in_use() {
        return;
    }
    // SAFETY: shmget with plain integers makes a private segment, removed below.
    let segment = unsafe {
        libc::shmget(
            libc::IPC_PRIVATE,
            /*size*/ 4096,
            libc::IPC_CREAT | 0o600,
        )
    };
    assert!(segment >= 0, "shmget: {}", std::io::Error::last_os_error());
    let dir = who.dir();
    let ws = dir.mkdir("ws");
    let policy = workspace_write(&[&ws], /*network_access*/ false);
    let script = "tail -n +2 /proc/sysvipc/shm | wc -l; [ -p /dev/stdin ] && echo 'stdin: a pipe'
        perl -e 'print syscall(250, 0, -3, 0) == -1 ? \"keyctl: $!\\n\" : \"keyctl allowed\\n\"'";

    let runs = run_both(who, &ws, &policy, &["/bin/sh", "-c", script], &json!({})).await;

    // SAFETY: shmctl removes the segment made above.
    unsafe { libc::shmctl(segment, libc::IPC_RMID, std::ptr::null_mut()) };
    // No segment of the host's; and stdin an empty pipe, not a descriptor of the host's
    // `/dev/null`, which a root command could `fchmod` past the read-only `/dev`.
    let expected = Run {
        stdout: "0\nstdin: a pipe\nkeyctl: Operation not permitted\n".to_string(),
        stderr: String::new(),
        exit_code: 0,
    };
    assert_eq!(runs, [expected.clone(), expected]);
}
