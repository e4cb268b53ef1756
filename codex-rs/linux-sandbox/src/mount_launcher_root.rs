//! The sandbox's file system, built by PID 1 of a mount launch (see
//! `mount_launcher.rs`) in its own user and mount namespaces: every source cloned into a
//! detached tree and given its final options in one call for all the mounts in it, new
//! file systems made by descriptor, everything attached in order under the new root
//! with destinations resolved without following symlinks, then the pivot.

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::fd::FromRawFd;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::launch_plan::LaunchPlan;
use crate::launch_plan::MountOp;
use crate::launch_plan::Source;
use crate::mount_api;
use crate::mount_api::MOUNT_ATTR_NODEV;
use crate::mount_api::MOUNT_ATTR_NOEXEC;
use crate::mount_api::MOUNT_ATTR_NOSUID;
use crate::mount_api::MOUNT_ATTR_RDONLY;

/// The devices every sandbox's `/dev` holds, bound from the host's (as bubblewrap's
/// `--dev` does).
const DEVICES: [(&std::ffi::CStr, &std::ffi::CStr); 6] = [
    (c"/dev/null", c"null"),
    (c"/dev/zero", c"zero"),
    (c"/dev/full", c"full"),
    (c"/dev/random", c"random"),
    (c"/dev/urandom", c"urandom"),
    (c"/dev/tty", c"tty"),
];

/// The `/dev` links bubblewrap's `--dev` makes.
const DEV_LINKS: [(&std::ffi::CStr, &std::ffi::CStr); 6] = [
    (c"/proc/self/fd", c"fd"),
    (c"/proc/self/fd/0", c"stdin"),
    (c"/proc/self/fd/1", c"stdout"),
    (c"/proc/self/fd/2", c"stderr"),
    (c"/proc/kcore", c"core"),
    (c"pts/ptmx", c"ptmx"),
];

/// The `/proc` entries bubblewrap's `--proc` binds read-only over themselves.
const PROC_COVERED: [&std::ffi::CStr; 4] = [c"sys", c"sysrq-trigger", c"irq", c"bus"];

/// Where the new root is attached in the sandbox's copy of the host's mounts until the
/// pivot: a directory every Linux system has.
const STAGING: &std::ffi::CStr = c"/proc";

/// What was prepared for one [`MountOp`] before anything is attached.
enum Prepared {
    /// A detached tree, and whether its root is a directory.
    Tree(OwnedFd, bool),
    /// The host's devices for `--dev` (and its terminal, bound as `console`).
    Devices(Vec<OwnedFd>, Option<OwnedFd>),
    Nothing,
}

/// Clones a bind's source (or the host's devices) into detached trees with their final
/// options, from the sandbox's copy of the host's mounts (so the trees are locked
/// together, as bubblewrap's binds are).
fn prepare(op: &MountOp) -> Result<Prepared, String> {
    match op {
        MountOp::Bind {
            source,
            read_only,
            dest,
        } => {
            let tree = match source {
                Source::Path(path) => {
                    let c_path = mount_api::c_path(path.as_os_str().as_bytes())
                        .map_err(|err| format!("{}: {err}", path.display()))?;
                    mount_api::clone_tree(libc::AT_FDCWD, &c_path)
                }
                Source::Fd(fd) => pinned_tree(*fd, dest),
            }
            .map_err(|err| format!("cannot bind {}: {err}", dest.display()))?;
            let mut attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
            if *read_only {
                attrs |= MOUNT_ATTR_RDONLY;
            }
            mount_api::set_attrs(&tree, attrs, /*recursive*/ true)
                .map_err(|err| format!("cannot set the options of {}: {err}", dest.display()))?;
            let is_dir = std::fs::File::from(tree.try_clone().map_err(|err| err.to_string())?)
                .metadata()
                .map_err(|err| format!("{}: {err}", dest.display()))?
                .is_dir();
            Ok(Prepared::Tree(tree, is_dir))
        }
        MountOp::Dev { .. } => {
            let mut devices = Vec::new();
            for (path, _) in DEVICES {
                devices.push(device_tree(path)?);
            }
            // The command's terminal, if it has one, as the sandbox's console.
            // SAFETY: isatty on a descriptor number.
            let console = if unsafe { libc::isatty(libc::STDOUT_FILENO) } == 1 {
                let tty = std::fs::read_link("/proc/self/fd/1").map_err(|err| err.to_string())?;
                Some(device_tree(
                    &mount_api::c_path(tty.as_os_str().as_bytes()).map_err(|e| e.to_string())?,
                )?)
            } else {
                None
            };
            Ok(Prepared::Devices(devices, console))
        }
        _ => Ok(Prepared::Nothing),
    }
}

/// The tree at what the host pinned with descriptor `fd` (the descriptor names a mount of
/// the host's namespace, which cannot be cloned from this one): cloned by the path the
/// descriptor resolves to, then checked to be the very directory or file pinned (device
/// and inode), as bubblewrap checks its `--bind-fd`. A path swapped in between is refused.
/// The descriptor is closed, so it never reaches the command.
fn pinned_tree(fd: std::os::fd::RawFd, dest: &Path) -> std::io::Result<OwnedFd> {
    // SAFETY: the host handed this descriptor over for this bind; it is ours now.
    let pinned = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let path = std::fs::read_link(format!("/proc/self/fd/{fd}"))?;
    // Resolved without following a symlink (a link to another mount of the same
    // directory, with other mounts below it, would pass the check below).
    let relative = path.strip_prefix("/").map_err(std::io::Error::other)?;
    let root = open_path(c"/").map_err(std::io::Error::other)?;
    let found = mount_api::open_beneath(
        root.as_raw_fd(),
        &mount_api::c_path(relative.as_os_str().as_bytes())?,
    )?;
    let tree = mount_api::clone_tree(found.as_raw_fd(), c"")?;
    let expected = pinned.metadata()?;
    let found = std::fs::File::from(tree.try_clone()?).metadata()?;
    if (found.dev(), found.ino()) != (expected.dev(), expected.ino()) {
        return Err(std::io::Error::other(format!(
            "{} changed after it was checked (now {})",
            dest.display(),
            path.display()
        )));
    }
    Ok(tree)
}

/// A host device (or the terminal) for the sandbox's `/dev`: read-only, unlike
/// bubblewrap's (whose read-only binds are also `nodev`), so that a root server's command,
/// uid 0 on the host and so the owner of the host's device nodes, cannot `chmod` them
/// (`chmod 000 /dev/null` breaks the host). Reading and writing the device still work.
fn device_tree(path: &std::ffi::CStr) -> Result<OwnedFd, String> {
    let tree = mount_api::clone_tree(libc::AT_FDCWD, path)
        .map_err(|err| format!("cannot bind {}: {err}", path.to_string_lossy()))?;
    let attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_RDONLY;
    mount_api::set_attrs(&tree, attrs, /*recursive*/ true).map_err(|err| {
        format!(
            "cannot set the options of {}: {err}",
            path.to_string_lossy()
        )
    })?;
    Ok(tree)
}

/// Builds the file system and pivots into it; returns this process's directory in the
/// host's (writable) `/proc`, for [`enter_requested_ids`].
pub(crate) fn build_root(plan: &LaunchPlan) -> Result<OwnedFd, String> {
    if plan.unshare_net {
        crate::netns_pool::loopback_up().map_err(|err| format!("cannot bring up lo: {err}"))?;
    }
    crate::private_mounts::make_every_mount_private()
        .map_err(|err| format!("cannot make the mounts private: {err}"))?;
    // `/proc` instances are made before the new root covers the host's `/proc`, which
    // the kernel wants fully visible when it makes one.
    let mut procs = Vec::new();
    for op in &plan.mounts {
        if let MountOp::Proc { .. } = op {
            let attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
            procs.push(
                mount_api::new_fs(c"proc", &[], attrs)
                    .map_err(|err| format!("cannot mount proc: {err}"))?,
            );
        }
    }
    let mut procs = procs.into_iter();
    let prepared = plan
        .mounts
        .iter()
        .map(prepare)
        .collect::<Result<Vec<_>, String>>()?;
    let this_process = open_path(c"/proc/self")?;
    let staging = open_path(STAGING)?;
    let mut root: Option<OwnedFd> = None;
    for (op, prepared) in plan.mounts.iter().zip(prepared) {
        match (op, prepared) {
            (MountOp::Bind { dest, .. }, Prepared::Tree(tree, is_dir)) => {
                let target = match &root {
                    None => staging.try_clone().map_err(|err| err.to_string())?,
                    Some(root) => destination(root, dest, Some(is_dir))?,
                };
                mount_api::attach(&tree, &target).map_err(step("cannot bind", dest, ""))?;
            }
            (MountOp::Tmpfs { dest }, _) => {
                let target = match &root {
                    None => staging.try_clone().map_err(|err| err.to_string())?,
                    Some(root) => destination(root, dest, Some(true))?,
                };
                let tmpfs = mount_api::new_fs(
                    c"tmpfs",
                    &[(c"mode", Some(c"0755"))],
                    MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                )
                .map_err(step("cannot mount a tmpfs on", dest, ""))?;
                mount_api::attach(&tmpfs, &target).map_err(step(
                    "cannot mount a tmpfs on",
                    dest,
                    "",
                ))?;
            }
            (MountOp::RemountRo { dest }, _) => {
                let root = root.as_ref().ok_or("--remount-ro before the root")?;
                let target = destination(root, dest, /*create*/ None)?;
                mount_api::set_attrs_of_mount(&target, MOUNT_ATTR_RDONLY).map_err(step(
                    "cannot remount read-only",
                    dest,
                    "",
                ))?;
            }
            (MountOp::Symlink { target, dest }, _) => {
                let root = root.as_ref().ok_or("--symlink before the root")?;
                let (parent, name) = parent_of(root, dest)?;
                let target =
                    mount_api::c_path(target.as_bytes()).map_err(step("cannot link", dest, ""))?;
                symlink(&target, &parent, &name).map_err(step("cannot link", dest, ""))?;
            }
            (MountOp::Dev { dest }, Prepared::Devices(devices, console)) => {
                let root = root.as_ref().ok_or("--dev before the root")?;
                make_dev(root, dest, devices, console)?;
            }
            (MountOp::Proc { dest }, _) => {
                let root = root.as_ref().ok_or("--proc before the root")?;
                let target = destination(root, dest, Some(true))?;
                let proc = procs.next().ok_or("no proc made")?;
                mount_api::attach(&proc, &target).map_err(step(
                    "cannot mount proc on",
                    dest,
                    "",
                ))?;
                cover_proc(root, dest)?;
            }
            _ => return Err("internal: a mount without what it needs".to_string()),
        }
        if root.is_none() {
            // The staging directory now shows the new root (the topmost mount).
            root = Some(open_path(STAGING)?);
        }
    }
    let root = root.ok_or("no root")?;
    // SAFETY: fchdir to a directory descriptor we own.
    if unsafe { libc::fchdir(root.as_raw_fd()) } != 0 {
        return Err(format!(
            "cannot enter the new root: {}",
            std::io::Error::last_os_error()
        ));
    }
    mount_api::pivot_to_cwd().map_err(|err| format!("cannot pivot into the new root: {err}"))?;
    // SAFETY: chdir with a static path.
    unsafe { libc::chdir(c"/".as_ptr()) };
    Ok(this_process)
}

/// `/dev` as bubblewrap's `--dev` makes it: a tmpfs (`nodev`; each device is a bind of its own) with the host's six
/// devices, a private `devpts`, `shm`, the standard links, and the terminal as `console`.
fn make_dev(
    root: &OwnedFd,
    dest: &Path,
    devices: Vec<OwnedFd>,
    console: Option<OwnedFd>,
) -> Result<(), String> {
    let fail = |what: &'static str| step("cannot make", dest, what);
    let target = destination(root, dest, Some(true))?;
    let tmpfs = mount_api::new_fs(
        c"tmpfs",
        &[(c"mode", Some(c"0755"))],
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
    )
    .map_err(fail("tmpfs"))?;
    mount_api::attach(&tmpfs, &target).map_err(fail("tmpfs"))?;
    let dev = destination(root, dest, /*create*/ None)?;
    for ((_, name), tree) in DEVICES.iter().zip(devices) {
        create_file(&dev, name).map_err(fail("device"))?;
        let node = mount_api::open_beneath(dev.as_raw_fd(), name).map_err(fail("device"))?;
        mount_api::attach(&tree, &node).map_err(fail("device"))?;
    }
    for dir in [c"shm", c"pts"] {
        // SAFETY: mkdirat with a descriptor we own and a static name.
        if unsafe {
            libc::mkdirat(dev.as_raw_fd(), dir.as_ptr(), /*mode*/ 0o755)
        } != 0
        {
            return Err(fail("directory")(std::io::Error::last_os_error()));
        }
    }
    let pts = mount_api::open_beneath(dev.as_raw_fd(), c"pts").map_err(fail("pts"))?;
    let devpts = mount_api::new_fs(
        c"devpts",
        &[
            (c"newinstance", None),
            (c"ptmxmode", Some(c"0666")),
            (c"mode", Some(c"620")),
        ],
        MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
    )
    .map_err(fail("devpts"))?;
    mount_api::attach(&devpts, &pts).map_err(fail("devpts"))?;
    for (target, name) in DEV_LINKS {
        symlink(target, &dev, name).map_err(fail("link"))?;
    }
    if let Some(console) = console {
        create_file(&dev, c"console").map_err(fail("console"))?;
        let node = mount_api::open_beneath(dev.as_raw_fd(), c"console").map_err(fail("console"))?;
        mount_api::attach(&console, &node).map_err(fail("console"))?;
    }
    Ok(())
}

/// Binds `/proc/sys`, `/proc/sysrq-trigger`, `/proc/irq` and `/proc/bus` read-only over
/// themselves, as bubblewrap's `--proc` does (those that exist).
fn cover_proc(root: &OwnedFd, dest: &Path) -> Result<(), String> {
    let proc = destination(root, dest, /*create*/ None)?;
    for name in PROC_COVERED {
        // As bubblewrap: only what this process could write (the rest is safe already).
        // SAFETY: faccessat with a descriptor we own and a NUL-terminated name.
        if unsafe {
            libc::faccessat(
                proc.as_raw_fd(),
                name.as_ptr(),
                libc::W_OK,
                /*flags*/ 0,
            )
        } != 0
        {
            continue;
        }
        let Ok(target) = mount_api::open_beneath(proc.as_raw_fd(), name) else {
            continue;
        };
        let fail = |err: std::io::Error| {
            format!(
                "cannot cover {}/{}: {err}",
                dest.display(),
                name.to_string_lossy()
            )
        };
        let tree = mount_api::clone_tree(proc.as_raw_fd(), name).map_err(fail)?;
        let attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        mount_api::set_attrs(&tree, attrs, /*recursive*/ true).map_err(fail)?;
        mount_api::attach(&tree, &target).map_err(fail)?;
    }
    Ok(())
}

/// The mode of the directories made above a mount point, as bubblewrap 0.8 makes them
/// (the mount point itself gets 0755). The command's ids map to their owner either way.
const PARENT_MODE: libc::mode_t = 0o700;

/// Opens `dest` under `root` (an `O_PATH` descriptor of what it names, the topmost mount
/// there), never following a symlink. With `create`, missing directories on the way are
/// made (mode [`PARENT_MODE`]), and a missing last component is made as a directory
/// (`Some(true)`, mode 0755) or an empty file (`Some(false)`, mode 0444), as bubblewrap
/// makes mount points.
fn destination(root: &OwnedFd, dest: &Path, create: Option<bool>) -> Result<OwnedFd, String> {
    open_or_make(root, dest, create, /*last_dir_mode*/ 0o755)
}

fn open_or_make(
    root: &OwnedFd,
    dest: &Path,
    create: Option<bool>,
    last_dir_mode: libc::mode_t,
) -> Result<OwnedFd, String> {
    let fail =
        |err: std::io::Error| format!("cannot open {} in the sandbox: {err}", dest.display());
    let mut current = root.try_clone().map_err(fail)?;
    let parts: Vec<&std::ffi::OsStr> = dest.iter().skip(1).collect();
    for (index, part) in parts.iter().enumerate() {
        let name = mount_api::c_path(part.as_bytes()).map_err(fail)?;
        let last = index + 1 == parts.len();
        match mount_api::open_beneath(current.as_raw_fd(), &name) {
            Ok(next) => current = next,
            Err(err) if err.raw_os_error() == Some(libc::ENOENT) && create.is_some() => {
                if last && create == Some(false) {
                    create_file(&current, &name).map_err(fail)?;
                } else {
                    let mode = if last { last_dir_mode } else { PARENT_MODE };
                    // SAFETY: mkdirat with a descriptor we own and a NUL-terminated name.
                    if unsafe { libc::mkdirat(current.as_raw_fd(), name.as_ptr(), mode) } != 0 {
                        let err = std::io::Error::last_os_error();
                        if err.raw_os_error() != Some(libc::EEXIST) {
                            return Err(fail(err));
                        }
                    }
                }
                current = mount_api::open_beneath(current.as_raw_fd(), &name).map_err(fail)?;
            }
            Err(err) => return Err(fail(err)),
        }
    }
    Ok(current)
}

/// The directory `dest` is in (made if missing, as a parent) and its last component.
fn parent_of(root: &OwnedFd, dest: &Path) -> Result<(OwnedFd, CString), String> {
    let parent = dest
        .parent()
        .ok_or_else(|| format!("{} has no parent", dest.display()))?;
    let name = dest
        .file_name()
        .ok_or_else(|| format!("{} has no name", dest.display()))?;
    let dir = open_or_make(root, parent, Some(true), PARENT_MODE)?;
    let name = mount_api::c_path(name.as_bytes()).map_err(|err| err.to_string())?;
    Ok((dir, name))
}

fn create_file(dir: &OwnedFd, name: &std::ffi::CStr) -> std::io::Result<()> {
    // SAFETY: openat with a descriptor we own and a NUL-terminated name.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            /*mode*/ 0o444,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok(())
}

/// A symlink `name` -> `target` in `dir`; one that is already there with that target is
/// fine (as with bubblewrap).
fn symlink(target: &std::ffi::CStr, dir: &OwnedFd, name: &std::ffi::CStr) -> std::io::Result<()> {
    // SAFETY: symlinkat with NUL-terminated strings and a descriptor we own.
    if unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) } == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EEXIST) {
        let mut buffer = [0u8; 4096];
        // SAFETY: readlinkat writes at most the buffer's length into it.
        let len = unsafe {
            libc::readlinkat(
                dir.as_raw_fd(),
                name.as_ptr(),
                buffer.as_mut_ptr().cast(),
                buffer.len(),
            )
        };
        if len >= 0 && &buffer[..len as usize] == target.to_bytes() {
            return Ok(());
        }
    }
    Err(err)
}

/// An error mapper naming the step, the destination and (if not empty) what of it failed.
fn step<'a>(
    what: &'a str,
    dest: &'a Path,
    part: &'a str,
) -> impl Fn(std::io::Error) -> String + 'a {
    move |err| {
        if part.is_empty() {
            format!("{what} {}: {err}", dest.display())
        } else {
            format!("{what} {} ({part}): {err}", dest.display())
        }
    }
}

pub(crate) fn open_path(path: &std::ffi::CStr) -> Result<OwnedFd, String> {
    // SAFETY: open with a NUL-terminated path.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(format!(
            "cannot open {}: {}",
            path.to_string_lossy(),
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: a fresh descriptor owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
