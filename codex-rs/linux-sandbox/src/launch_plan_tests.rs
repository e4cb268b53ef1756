use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::PathBuf;

use pretty_assertions::assert_eq;

use super::LaunchPlan;
use super::MountOp;
use super::Source;
use super::parse;

fn words(text: &str) -> Vec<OsString> {
    text.split_whitespace().map(OsString::from).collect()
}

/// Parses `argv`, with `args` as the contents of any `--args` descriptor (`''` stands for
/// an empty argument there).
fn parse_with(argv: &str, args: &str) -> Result<LaunchPlan, String> {
    let contents: Vec<u8> = args
        .split_whitespace()
        .flat_map(|arg| if arg == "''" { "" } else { arg }.bytes().chain([0]))
        .collect();
    let mut read = |_fd: RawFd| Ok(contents.clone());
    parse(words(argv), &mut read)
}

const SANDBOX: &str =
    "--unshare-user --cap-drop ALL --uid 65534 --gid 65534 --unshare-pid --unshare-ipc";

#[test]
fn reads_what_build_bwrap_argv_writes_with_the_options_from_the_args_descriptor() {
    let options = format!(
        "--codex-launcher-build 0123456789abcdef --json-status-fd 5 {SANDBOX} --new-session --die-with-parent --unshare-net \
         --ro-bind / / --dev /dev --proc /proc --remount-ro /proc --bind-fd 7 /ws \
         --ro-bind-fd 8 /ws/.git --tmpfs /ws/.codex --remount-ro /ws/.codex \
         --symlink usr/lib64 /lib64 --add-seccomp-fd 9 --setenv EMPTY '' --setenv PATH /bin \
         --chdir /ws"
    );

    let plan = parse_with("--args 4 -- sh -c true", &options).expect("parse");

    let path = PathBuf::from;
    assert_eq!(
        plan,
        LaunchPlan {
            build: Some(OsString::from("0123456789abcdef")),
            status_fd: Some(5),
            uid: Some(65534),
            gid: Some(65534),
            new_session: true,
            die_with_parent: true,
            unshare_net: true,
            mounts: vec![
                MountOp::Bind {
                    source: Source::Path(path("/")),
                    dest: path("/"),
                    read_only: true
                },
                MountOp::Dev { dest: path("/dev") },
                MountOp::Proc {
                    dest: path("/proc")
                },
                MountOp::RemountRo {
                    dest: path("/proc")
                },
                MountOp::Bind {
                    source: Source::Fd(7),
                    dest: path("/ws"),
                    read_only: false
                },
                MountOp::Bind {
                    source: Source::Fd(8),
                    dest: path("/ws/.git"),
                    read_only: true
                },
                MountOp::Tmpfs {
                    dest: path("/ws/.codex")
                },
                MountOp::RemountRo {
                    dest: path("/ws/.codex")
                },
                MountOp::Symlink {
                    target: OsString::from("usr/lib64"),
                    dest: path("/lib64")
                },
            ],
            seccomp_fds: vec![9],
            env: vec![
                (OsString::from("EMPTY"), OsString::new()),
                (OsString::from("PATH"), OsString::from("/bin"))
            ],
            chdir: Some(path("/ws")),
            command: words("sh -c true"),
        }
    );
}

#[test]
fn refuses_what_it_does_not_build_rather_than_build_less() {
    let refusals = [
        // An option it does not know (bubblewrap's, or anything else).
        (
            format!("{SANDBOX} --tmpfs / --share-net -- true"),
            "unsupported option --share-net",
        ),
        // Every sandbox has its own user, PID and IPC namespaces and no capabilities.
        (
            "--cap-drop ALL --unshare-pid --unshare-ipc --tmpfs / -- true".to_string(),
            "every sandbox needs",
        ),
        (
            "--unshare-user --cap-drop ALL --unshare-ipc --tmpfs / -- true".to_string(),
            "every sandbox needs",
        ),
        (
            "--unshare-user --cap-drop ALL --unshare-pid --tmpfs / -- true".to_string(),
            "every sandbox needs",
        ),
        (
            "--unshare-user --unshare-pid --unshare-ipc --tmpfs / -- true".to_string(),
            "every sandbox needs",
        ),
        (
            format!("{SANDBOX} --cap-drop CAP_NET_RAW --tmpfs / -- true"),
            "only ALL",
        ),
        // The new root comes first.
        (
            format!("{SANDBOX} --dev /dev --tmpfs / -- true"),
            "first mount",
        ),
        (format!("{SANDBOX} --proc /proc -- true"), "first mount"),
        // Destinations are plain absolute paths.
        (
            format!("{SANDBOX} --tmpfs / --tmpfs /ws/../etc -- true"),
            "not a plain absolute path",
        ),
        (
            format!("{SANDBOX} --tmpfs / --tmpfs ws -- true"),
            "not a plain absolute path",
        ),
        // Descriptors are above stderr; an option's value is there.
        (
            format!("{SANDBOX} --tmpfs / --add-seccomp-fd 1 -- true"),
            "above stderr",
        ),
        (format!("{SANDBOX} --tmpfs / --chdir"), "--chdir needs"),
        // A descriptor is taken over once.
        (
            format!("{SANDBOX} --tmpfs / --bind-fd 7 /a --add-seccomp-fd 7 -- true"),
            "named twice",
        ),
        // A command, after `--`.
        (
            format!("{SANDBOX} --tmpfs / true"),
            "unsupported option true",
        ),
        (format!("{SANDBOX} --tmpfs / --"), "no command"),
    ];
    for (argv, expected) in refusals {
        let err = parse_with(&argv, "").expect_err(&argv);
        assert!(err.contains(expected), "{argv}: {err}");
    }
}
