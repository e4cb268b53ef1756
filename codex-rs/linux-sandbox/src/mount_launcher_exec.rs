//! The end of a mount launch (see `mount_launcher.rs`). PID 1, with no capability left,
//! installs the seccomp programs on itself (the command inherits them, and PID 1 is then
//! no tool for a command that could trace it), makes itself non-dumpable (its `/proc`
//! entries, its descriptors and its executable out of the command's reach), and forks
//! the command, which starts its own session, enters its cwd and executes as `execvp`
//! would. PID 1 then keeps only the pipe to the monitor, reaps until the command ends and
//! hands its exit code over.

use std::ffi::CString;
use std::ffi::OsStr;
use std::ffi::OsString;
use std::io::Read;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::fd::FromRawFd;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::launch_plan::LaunchPlan;
use crate::mount_launcher::die;

/// Forks the command and reaps; never returns. `result` takes the command's exit code
/// (as 4 native-endian bytes) once it ended; nothing is written if it never ran.
pub(crate) fn run_command(plan: &LaunchPlan, result: OwnedFd) -> ! {
    let programs = plan
        .seccomp_fds
        .iter()
        .map(|fd| read_program(*fd))
        .collect::<std::io::Result<Vec<_>>>()
        .unwrap_or_else(|err| die(&format!("cannot read a seccomp program: {err}")));
    for program in &programs {
        let fprog = libc::sock_fprog {
            len: program.len() as u16,
            filter: program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: prctl reads the program we pass, which outlives the call.
        if unsafe { libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &fprog) } != 0 {
            die(&format!(
                "cannot install a seccomp program: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    // SAFETY: prctl with plain integers.
    if unsafe {
        libc::prctl(
            libc::PR_SET_DUMPABLE,
            /*dumpable*/ 0,
            /*arg3*/ 0,
            /*arg4*/ 0,
            /*arg5*/ 0,
        )
    } != 0
    {
        die(&format!(
            "cannot make PID 1 non-dumpable: {}",
            std::io::Error::last_os_error()
        ));
    }
    let (exec_error_read, exec_error_write) = match crate::launcher::cloexec_pipe() {
        Ok(pipe) => pipe,
        Err(err) => die(&format!("pipe: {err}")),
    };
    // SAFETY: fork in a process with one thread.
    let command = unsafe { libc::fork() };
    if command < 0 {
        die(&format!("fork: {}", std::io::Error::last_os_error()));
    }
    if command == 0 {
        drop((exec_error_read, result));
        let err = exec_command(plan);
        // The message first: PID 1 ends the sandbox, this process with it, as soon as
        // it reads the error.
        crate::mount_launcher::say(&err.to_string());
        let code = err.raw_os_error().unwrap_or(libc::EINVAL);
        let _ = std::fs::File::from(exec_error_write).write_all(&code.to_ne_bytes());
        // SAFETY: _exit ends this process only.
        unsafe { libc::_exit(1) };
    }
    drop(exec_error_write);
    let mut exec_error = [0u8; 4];
    if std::fs::File::from(exec_error_read)
        .read_exact(&mut exec_error)
        .is_ok()
    {
        // The command was never executed (its message is on stderr).
        // SAFETY: _exit ends this process only.
        unsafe { libc::_exit(1) };
    }
    keep_only(&result);
    loop {
        let mut status = 0;
        // SAFETY: wait writes the status into the integer we own.
        let pid = unsafe { libc::wait(&mut status) };
        if pid == command {
            let code = if libc::WIFSIGNALED(status) {
                128 + libc::WTERMSIG(status)
            } else {
                libc::WEXITSTATUS(status)
            };
            let _ = std::fs::File::from(result).write_all(&code.to_ne_bytes());
            // Ending PID 1 ends every process left in the sandbox.
            // SAFETY: _exit ends this process only.
            unsafe { libc::_exit(code) };
        }
        if pid < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            // SAFETY: as above.
            unsafe { libc::_exit(1) };
        }
    }
}

/// Closes every descriptor of this process but `keep` (what the host passed on is the
/// command's, not PID 1's).
fn keep_only(keep: &OwnedFd) {
    let fd = keep.as_raw_fd() as libc::c_uint;
    // SAFETY: close_range with plain integers; `keep` stays open.
    unsafe {
        if fd > 0 {
            libc::syscall(
                libc::SYS_close_range,
                /*first*/ 0,
                fd - 1,
                /*flags*/ 0,
            );
        }
        libc::syscall(
            libc::SYS_close_range,
            fd + 1,
            libc::c_uint::MAX,
            /*flags*/ 0,
        );
    }
}

/// In the command's process: everything up to `execve`, which only returns on failure.
fn exec_command(plan: &LaunchPlan) -> std::io::Error {
    if plan.new_session {
        // SAFETY: setsid takes no arguments.
        if unsafe { libc::setsid() } < 0 {
            return std::io::Error::last_os_error();
        }
    }
    let cwd = plan.chdir.as_deref().unwrap_or(Path::new("/"));
    if let Err(err) = std::env::set_current_dir(cwd) {
        return std::io::Error::new(err.kind(), format!("cannot enter {}: {err}", cwd.display()));
    }
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    for (name, value) in &plan.env {
        env.retain(|(existing, _)| existing != name);
        env.push((name.clone(), value.clone()));
    }
    let path_env = env
        .iter()
        .find(|(name, _)| name == "PATH")
        .map(|(_, value)| value.clone());
    let err = match c_strings(plan, &env) {
        Ok((argv, envp)) => execvp(&plan.command[0], &argv, &envp, path_env.as_deref()),
        Err(err) => err,
    };
    std::io::Error::new(
        err.kind(),
        format!("execvp {}: {err}", plan.command[0].to_string_lossy()),
    )
}

/// The command's arguments and environment as C strings.
fn c_strings(
    plan: &LaunchPlan,
    env: &[(OsString, OsString)],
) -> std::io::Result<(Vec<CString>, Vec<CString>)> {
    let to_c = |bytes: &[u8]| {
        CString::new(bytes).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
    };
    let argv = plan
        .command
        .iter()
        .map(|arg| to_c(arg.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let envp = env
        .iter()
        .map(|(name, value)| to_c(&[name.as_bytes(), b"=", value.as_bytes()].concat()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((argv, envp))
}

/// Executes `program` as glibc's `execvp` does (and so bubblewrap): a name with a `/` as
/// is, else each directory of `path_env` (`/bin:/usr/bin` when unset; an empty entry is
/// the cwd) in turn, going on after `EACCES`, `ENOENT` and `ENOTDIR`; a file the kernel
/// does not recognise (`ENOEXEC`) is run by `/bin/sh`. Returns only on failure: `EACCES`
/// if some candidate was refused so, else the last error.
fn execvp(
    program: &OsStr,
    argv: &[CString],
    envp: &[CString],
    path_env: Option<&OsStr>,
) -> std::io::Error {
    let candidates: Vec<Vec<u8>> = if program.as_bytes().contains(&b'/') {
        vec![program.as_bytes().to_vec()]
    } else {
        path_env
            .unwrap_or(OsStr::new("/bin:/usr/bin"))
            .as_bytes()
            .split(|byte| *byte == b':')
            .map(|dir| {
                let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
                [dir, b"/", program.as_bytes()].concat()
            })
            .collect()
    };
    let pointers = |strings: &[&std::ffi::CStr]| {
        let mut pointers: Vec<*const libc::c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        pointers.push(std::ptr::null());
        pointers
    };
    let argv_refs: Vec<&std::ffi::CStr> = argv.iter().map(CString::as_c_str).collect();
    let envp_ptrs = pointers(&envp.iter().map(CString::as_c_str).collect::<Vec<_>>());
    let mut denied = false;
    let mut last = std::io::Error::from_raw_os_error(libc::ENOENT);
    for candidate in candidates {
        let Ok(path) = CString::new(candidate) else {
            continue;
        };
        // SAFETY: execve with NUL-terminated strings and null-terminated arrays that live
        // until it returns (it only returns on failure).
        unsafe {
            libc::execve(
                path.as_ptr(),
                pointers(&argv_refs).as_ptr(),
                envp_ptrs.as_ptr(),
            )
        };
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ENOEXEC) => {
                // A script without `#!`: the shell runs it, with its path as `$0`.
                let shell = c"/bin/sh";
                let script: Vec<&std::ffi::CStr> = [shell, path.as_c_str()]
                    .into_iter()
                    .chain(argv_refs.iter().skip(1).copied())
                    .collect();
                // SAFETY: as above.
                unsafe {
                    libc::execve(
                        shell.as_ptr(),
                        pointers(&script).as_ptr(),
                        envp_ptrs.as_ptr(),
                    )
                };
                return std::io::Error::last_os_error();
            }
            Some(libc::EACCES) => denied = true,
            Some(libc::ENOENT | libc::ENOTDIR) => {}
            _ => return err,
        }
        last = err;
    }
    if denied {
        std::io::Error::from_raw_os_error(libc::EACCES)
    } else {
        last
    }
}

/// A seccomp program as bubblewrap's `--add-seccomp-fd` takes it (raw `struct
/// sock_filter` array), read from `fd`, aligned for the kernel.
fn read_program(fd: i32) -> std::io::Result<Vec<libc::sock_filter>> {
    use std::os::unix::fs::FileExt;

    // SAFETY: the host handed this descriptor over for the program; it is ours now.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    // From the start, whatever the descriptor's offset (a caller may pass one memory file
    // to several launches).
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let read = file.read_at(&mut chunk, bytes.len() as u64)?;
        if read == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..read]);
    }
    let size = std::mem::size_of::<libc::sock_filter>();
    if bytes.is_empty() || bytes.len() % size != 0 || bytes.len() / size > u16::MAX as usize {
        return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok(bytes
        .chunks_exact(size)
        .map(|chunk| libc::sock_filter {
            code: u16::from_ne_bytes([chunk[0], chunk[1]]),
            jt: chunk[2],
            jf: chunk[3],
            k: u32::from_ne_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]),
        })
        .collect())
}

/// Every capability given up for good (bounding set, ambient, permitted, effective,
/// inheritable), and no new privileges: for PID 1 and so for the command.
pub(crate) fn drop_privileges() -> Result<(), String> {
    let prctl = |option: libc::c_int, arg2: libc::c_ulong| {
        // SAFETY: prctl with plain integers and no pointers.
        unsafe {
            libc::prctl(
                option, arg2, /*arg3*/ 0, /*arg4*/ 0, /*arg5*/ 0,
            )
        }
    };
    // Capabilities past the last one this kernel knows fail with EINVAL.
    for cap in 0..64 {
        prctl(libc::PR_CAPBSET_DROP, cap);
    }
    prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
    );
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    let header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let data = [0u32; 6];
    // SAFETY: capset reads the header and two zeroed data structs we pass.
    if unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) } != 0 {
        return Err(format!(
            "cannot drop capabilities: {}",
            std::io::Error::last_os_error()
        ));
    }
    crate::seccomp::set_no_new_privs().map_err(|err| err.to_string())
}
