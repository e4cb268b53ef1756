//! What the mount launcher (`mount_launcher.rs`) is asked to build, read from the same
//! bubblewrap options [`crate::build_bwrap_argv`] writes: one sandbox description, two
//! programs that can carry it out. The launcher takes only the options that description
//! uses and refuses every other one, and refuses a description that lacks what every
//! sandbox must have (a user namespace without capabilities, a PID namespace), so it never
//! runs something with less isolation than bubblewrap would.

use std::ffi::OsStr;
use std::ffi::OsString;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Where a bind's source comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A path, looked up by the launcher (`--bind`, `--ro-bind`).
    Path(PathBuf),
    /// A descriptor the host opened and checked (`--bind-fd`, `--ro-bind-fd`).
    Fd(RawFd),
}

/// One step of building the sandbox's file system, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MountOp {
    Bind {
        source: Source,
        dest: PathBuf,
        read_only: bool,
    },
    Tmpfs {
        dest: PathBuf,
    },
    RemountRo {
        dest: PathBuf,
    },
    Symlink {
        target: OsString,
        dest: PathBuf,
    },
    Dev {
        dest: PathBuf,
    },
    Proc {
        dest: PathBuf,
    },
}

/// A whole launch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct LaunchPlan {
    /// `--codex-launcher-build`: the host's [`crate::launcher_build::LAUNCHER_BUILD`].
    pub build: Option<OsString>,
    pub status_fd: Option<RawFd>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub new_session: bool,
    pub die_with_parent: bool,
    pub unshare_net: bool,
    pub mounts: Vec<MountOp>,
    pub seccomp_fds: Vec<RawFd>,
    pub env: Vec<(OsString, OsString)>,
    pub chdir: Option<PathBuf>,
    pub command: Vec<OsString>,
}

/// Reads the plan from the launcher's arguments (without `argv[0]`); `read_args` returns
/// the NUL-separated contents of an `--args` descriptor.
pub(crate) fn parse(
    argv: Vec<OsString>,
    read_args: &mut dyn FnMut(RawFd) -> std::io::Result<Vec<u8>>,
) -> Result<LaunchPlan, String> {
    let mut plan = LaunchPlan::default();
    let (mut unshare_user, mut unshare_pid, mut unshare_ipc, mut cap_drop_all) =
        (false, false, false, false);
    let mut pending: std::collections::VecDeque<OsString> = argv.into();
    let mut saw_separator = false;
    let mut args_fds = Vec::new();
    while let Some(option) = pending.pop_front() {
        let mut value = |what: &str| {
            pending
                .pop_front()
                .ok_or_else(|| format!("{} needs {what}", option.to_string_lossy()))
        };
        match option.as_bytes() {
            b"--" => {
                saw_separator = true;
                break;
            }
            b"--args" => {
                let fd = parse_fd(&value("a descriptor")?)?;
                args_fds.push(fd);
                let bytes =
                    read_args(fd).map_err(|err| format!("cannot read --args {fd}: {err}"))?;
                // NUL-terminated arguments (an empty one is an argument too: an empty
                // environment value).
                let mut inserted: Vec<OsString> = bytes
                    .split(|byte| *byte == 0)
                    .map(|arg| OsStr::from_bytes(arg).to_owned())
                    .collect();
                // What follows the last NUL (nothing, when the file ends with one).
                if inserted.last().is_some_and(|last| last.is_empty()) {
                    inserted.pop();
                }
                for arg in inserted.into_iter().rev() {
                    pending.push_front(arg);
                }
            }
            b"--codex-launcher-build" => plan.build = Some(value("a build")?),
            b"--json-status-fd" => plan.status_fd = Some(parse_fd(&value("a descriptor")?)?),
            b"--unshare-user" => unshare_user = true,
            b"--unshare-pid" => unshare_pid = true,
            b"--unshare-ipc" => unshare_ipc = true,
            b"--unshare-net" => plan.unshare_net = true,
            b"--new-session" => plan.new_session = true,
            b"--die-with-parent" => plan.die_with_parent = true,
            b"--cap-drop" => {
                let caps = value("ALL")?;
                if caps != "ALL" {
                    return Err(format!(
                        "--cap-drop {}: only ALL is supported",
                        caps.to_string_lossy()
                    ));
                }
                cap_drop_all = true;
            }
            b"--uid" => plan.uid = Some(parse_id(&value("an id")?)?),
            b"--gid" => plan.gid = Some(parse_id(&value("an id")?)?),
            b"--bind" | b"--ro-bind" | b"--bind-fd" | b"--ro-bind-fd" => {
                let source = if option.as_bytes().ends_with(b"-fd") {
                    Source::Fd(parse_fd(&value("a descriptor")?)?)
                } else {
                    Source::Path(PathBuf::from(value("a source")?))
                };
                let dest = PathBuf::from(value("a destination")?);
                let read_only = option.as_bytes().starts_with(b"--ro-");
                plan.mounts.push(MountOp::Bind {
                    source,
                    dest,
                    read_only,
                });
            }
            b"--tmpfs" => plan.mounts.push(MountOp::Tmpfs {
                dest: value("a destination")?.into(),
            }),
            b"--remount-ro" => plan.mounts.push(MountOp::RemountRo {
                dest: value("a destination")?.into(),
            }),
            b"--dev" => plan.mounts.push(MountOp::Dev {
                dest: value("a destination")?.into(),
            }),
            b"--proc" => plan.mounts.push(MountOp::Proc {
                dest: value("a destination")?.into(),
            }),
            b"--symlink" => {
                let target = value("a target")?;
                let dest = PathBuf::from(value("a destination")?);
                plan.mounts.push(MountOp::Symlink { target, dest });
            }
            b"--add-seccomp-fd" => plan.seccomp_fds.push(parse_fd(&value("a descriptor")?)?),
            b"--setenv" => {
                let name = value("a name")?;
                let env_value = value("a value")?;
                plan.env.push((name, env_value));
            }
            b"--chdir" => plan.chdir = Some(PathBuf::from(value("a directory")?)),
            _ => return Err(format!("unsupported option {}", option.to_string_lossy())),
        }
    }
    // Each descriptor is taken over once (closed after use): one named twice is refused.
    let mut fds: Vec<RawFd> = args_fds
        .into_iter()
        .chain(plan.status_fd)
        .chain(plan.seccomp_fds.iter().copied())
        .chain(plan.mounts.iter().filter_map(|op| match op {
            MountOp::Bind {
                source: Source::Fd(fd),
                ..
            } => Some(*fd),
            _ => None,
        }))
        .collect();
    let named = fds.len();
    fds.sort_unstable();
    fds.dedup();
    if fds.len() != named {
        return Err("a descriptor is named twice".to_string());
    }
    if !saw_separator {
        return Err("no `--` before the command".to_string());
    }
    plan.command = pending.into();
    if plan.command.is_empty() {
        return Err("no command".to_string());
    }
    if !(unshare_user && unshare_pid && unshare_ipc && cap_drop_all) {
        return Err(
            "every sandbox needs --unshare-user, --unshare-pid, --unshare-ipc and --cap-drop ALL"
                .to_string(),
        );
    }
    let root_first = matches!(
        plan.mounts.first(),
        Some(MountOp::Bind { dest, .. } | MountOp::Tmpfs { dest }) if dest == "/"
    );
    if !root_first {
        return Err("the first mount must be the new root (`/`)".to_string());
    }
    for op in &plan.mounts {
        let dest = match op {
            MountOp::Bind { dest, .. }
            | MountOp::Tmpfs { dest }
            | MountOp::RemountRo { dest }
            | MountOp::Symlink { dest, .. }
            | MountOp::Dev { dest }
            | MountOp::Proc { dest } => dest,
        };
        let plain = dest.is_absolute()
            && dest.components().all(|part| {
                matches!(
                    part,
                    std::path::Component::RootDir | std::path::Component::Normal(_)
                )
            });
        if !plain {
            return Err(format!(
                "destination {} is not a plain absolute path",
                dest.display()
            ));
        }
    }
    Ok(plan)
}

fn parse_fd(text: &OsStr) -> Result<RawFd, String> {
    text.to_str()
        .and_then(|text| text.parse::<RawFd>().ok())
        .filter(|fd| *fd > 2)
        .ok_or_else(|| format!("not a descriptor above stderr: {}", text.to_string_lossy()))
}

fn parse_id(text: &OsStr) -> Result<u32, String> {
    text.to_str()
        .and_then(|text| text.parse::<u32>().ok())
        .ok_or_else(|| format!("not an id: {}", text.to_string_lossy()))
}

#[cfg(test)]
#[path = "launch_plan_tests.rs"]
mod tests;
