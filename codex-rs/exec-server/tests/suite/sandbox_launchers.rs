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
        assert_eq!(launcher, bubblewrap, "{name}");
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
