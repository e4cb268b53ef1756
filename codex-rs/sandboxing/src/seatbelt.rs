//! A macOS Seatbelt profile (`.sbpl`) for a sandbox policy, and the `sandbox-exec`
//! argv that applies it.
//!
//! Generation is plain string building, so it is compiled and tested on every platform
//! even though only macOS can run the result: the profile is pinned by golden files
//! (`tests/golden/`) rather than by executing it.
//!
//! What the profile allows is read off [`SandboxPolicy::effective_access`], the same
//! answer the exec-server's filesystem checks use, so the two cannot drift apart. The
//! generator adds only what is specific to Seatbelt:
//!
//! - **Paths travel as parameters**, never inside the profile text: each root becomes
//!   `(param "WRITABLE_ROOT_0")` and its value is passed as `-DWRITABLE_ROOT_0=<path>`.
//!   A path with quotes, spaces or parentheses therefore cannot change the profile's
//!   meaning, and no escaping is needed. Names are numbered in policy order, so the
//!   same policy always gives the same profile.
//! - **macOS system symlinks are resolved**: Seatbelt matches the real path of a file,
//!   so `/tmp`, `/var` and `/etc` (symlinks into `/private`) are rewritten to their
//!   targets. This is a fixed table, not filesystem access.
//! - **Platform defaults are macOS's**: `includePlatformDefaults` grants
//!   [`MACOS_DEFAULT_READ_ROOTS`] and the cwd whatever platform generates the profile,
//!   plus the loader and device access of `seatbelt_platform_defaults.sbpl`.
//! - **Protected subpaths win across roots**: a writable root's rule excludes its own
//!   read-only subpaths and every other root's read-only subpath inside it, matching
//!   [`codex_protocol::EffectiveAccess::check_write`] (with roots `/work` and
//!   `/work/proj`, `/work/proj/.git` stays read-only).

use std::ffi::OsString;
use std::path::Path;
use std::path::PathBuf;

use codex_protocol::MACOS_DEFAULT_READ_ROOTS;
use codex_protocol::ReadAccess;
use codex_protocol::ReadOnlyAccess;
use codex_protocol::SandboxPolicy;
use codex_protocol::WriteAccess;
use codex_protocol::read_gitdir_pointer_from_disk;
use codex_utils_absolute_path::AbsolutePathBuf;

use crate::PathProblem;
use crate::SandboxingError;

/// The only `sandbox-exec` this crate runs. Taken by absolute path, never from `PATH`,
/// so a planted binary earlier in `PATH` cannot replace the sandbox.
pub(crate) const SANDBOX_EXEC_PATH: &str = "/usr/bin/sandbox-exec";

/// `(deny default)` and what every sandboxed process needs regardless of policy.
const BASE_POLICY: &str = include_str!("seatbelt_base_policy.sbpl");
/// The system services name resolution and TLS need; only with network access.
const NETWORK_POLICY: &str = include_str!("seatbelt_network_policy.sbpl");
/// Loader, device and metadata access for restricted reads with platform defaults.
const PLATFORM_DEFAULTS_POLICY: &str = include_str!("seatbelt_platform_defaults.sbpl");

/// macOS symlinks into `/private` that Seatbelt sees through (it matches real paths):
/// `(symlink, target)`.
const MACOS_PRIVATE_SYMLINKS: [(&str, &str); 3] = [
    ("/tmp", "/private/tmp"),
    ("/var", "/private/var"),
    ("/etc", "/private/etc"),
];

/// A generated Seatbelt profile: the `.sbpl` text and the values of the parameters it
/// refers to (`(param "NAME")`), in the order they are numbered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatbeltPolicy {
    /// The profile, starting with `(version 1)` and `(deny default)`.
    pub text: String,
    /// `(NAME, path)` for every `(param "NAME")` in `text`: readable roots first
    /// (`READABLE_ROOT_<i>`), then writable roots (`WRITABLE_ROOT_<i>`) each followed by
    /// its read-only subpaths (`WRITABLE_ROOT_<i>_RO_<j>`).
    pub params: Vec<(String, AbsolutePathBuf)>,
}

/// What Seatbelt should do for a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatbeltDecision {
    /// Run the command under `sandbox-exec` with this profile
    /// (see [`sandbox_exec_argv`]).
    Sandbox(SeatbeltPolicy),
    /// Run the command as it is; the reason says why that is what the policy asks.
    NotNeeded(NoSandboxReason),
}

/// Why a policy needs no Seatbelt profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSandboxReason {
    /// `dangerFullAccess`: the policy restricts nothing.
    DangerFullAccess,
    /// `externalSandbox`: the caller states that the process already runs inside a
    /// sandbox of its own (a container, a VM), which enforces filesystem and network
    /// limits; the policy grants everything on the filesystem, and its
    /// `networkAccess` reports the external sandbox's setting rather than asking us to
    /// enforce one. Layering Seatbelt on top would add nothing the policy asks for, and
    /// `sandbox-exec` cannot start inside an already sandboxed process anyway.
    ExternalSandbox,
}

/// The Seatbelt profile for `policy` bound to its own cwd (`policy_cwd`, not a command's
/// working directory; `None` grants no cwd), with `tmpdir` the `$TMPDIR` of the host that
/// enforces it (passed in, never read here).
///
/// Reads the `.git` file of each writable root to protect the git directory a worktree
/// or submodule points to; otherwise pure. See
/// [`seatbelt_policy_with_gitdir_reader`] to supply that reader.
pub fn seatbelt_policy(
    policy: &SandboxPolicy,
    cwd: Option<&AbsolutePathBuf>,
    tmpdir: Option<&AbsolutePathBuf>,
) -> Result<SeatbeltDecision, SandboxingError> {
    seatbelt_policy_with_gitdir_reader(policy, cwd, tmpdir, read_gitdir_pointer_from_disk)
}

/// [`seatbelt_policy`] with the `.git` pointer reader passed in (see
/// [`codex_protocol::WriteAccess::protect_gitdir_targets`]), so the result depends
/// only on the arguments.
///
/// Fails with [`SandboxingError::UnrepresentablePath`] when a path cannot be passed
/// to Seatbelt faithfully (not UTF-8, or holding a NUL byte): the command must not run
/// with a profile that names a different path.
pub fn seatbelt_policy_with_gitdir_reader(
    policy: &SandboxPolicy,
    cwd: Option<&AbsolutePathBuf>,
    tmpdir: Option<&AbsolutePathBuf>,
    read_gitdir_pointer: impl Fn(&Path) -> Option<PathBuf>,
) -> Result<SeatbeltDecision, SandboxingError> {
    let mut policy = policy.clone();
    let read_only_access = match &mut policy {
        SandboxPolicy::DangerFullAccess => {
            return Ok(SeatbeltDecision::NotNeeded(
                NoSandboxReason::DangerFullAccess,
            ));
        }
        SandboxPolicy::ExternalSandbox { .. } => {
            return Ok(SeatbeltDecision::NotNeeded(
                NoSandboxReason::ExternalSandbox,
            ));
        }
        SandboxPolicy::ReadOnly { access } => access,
        SandboxPolicy::WorkspaceWrite {
            read_only_access, ..
        } => read_only_access,
    };
    // `effective_access` adds the defaults of the platform it was compiled for; a
    // Seatbelt profile needs macOS's wherever it is generated. So ask it without
    // defaults and name macOS's (and the cwd, which the defaults also grant) as
    // readable roots instead, in the order `effective_access` would list them.
    let include_platform_defaults = match read_only_access {
        ReadOnlyAccess::FullAccess => false,
        ReadOnlyAccess::Restricted {
            include_platform_defaults,
            readable_roots,
        } => {
            let include = *include_platform_defaults;
            if include {
                readable_roots.extend(
                    MACOS_DEFAULT_READ_ROOTS
                        .iter()
                        .filter_map(|root| AbsolutePathBuf::try_from_absolute(root).ok()),
                );
                readable_roots.extend(cwd.cloned());
                *include_platform_defaults = false;
            }
            include
        }
    };
    let access = policy
        .effective_access(cwd, tmpdir)
        .protect_gitdir_targets(read_gitdir_pointer);

    let mut params: Vec<(String, AbsolutePathBuf)> = Vec::new();
    let mut sections = vec![BASE_POLICY.to_string()];

    sections.push(match access.read() {
        ReadAccess::Everything => "; Reads: everywhere.\n(allow file-read*)\n".to_string(),
        ReadAccess::Roots(roots) => {
            let mut unique: Vec<AbsolutePathBuf> = Vec::with_capacity(roots.len());
            for root in roots.iter().map(macos_real_path) {
                if !unique.contains(&root) {
                    unique.push(root);
                }
            }
            if unique.is_empty() {
                "; Reads: no readable roots; only what the rest of the profile allows.\n"
                    .to_string()
            } else {
                let mut rule =
                    String::from("; Reads: only under the readable roots.\n(allow file-read*");
                for (index, root) in unique.into_iter().enumerate() {
                    let name = format!("READABLE_ROOT_{index}");
                    rule.push_str(&format!("\n  (subpath (param \"{name}\"))"));
                    push_param(&mut params, name, root)?;
                }
                rule.push_str(")\n");
                rule
            }
        }
    });

    sections.push(match access.write() {
        WriteAccess::Everything => "; Writes: everywhere.\n(allow file-write*)\n".to_string(),
        // `(allow file-write*)` with no filters would allow every write, so no roots must
        // mean no rule (a policy with no roots, no cwd and both temp directories excluded).
        WriteAccess::Nothing => {
            "; Writes: none (beyond the devices the base profile allows).\n".to_string()
        }
        WriteAccess::Roots(roots) if roots.is_empty() => {
            "; Writes: none (beyond the devices the base profile allows).\n".to_string()
        }
        WriteAccess::Roots(roots) => {
            // Resolve symlinks first, then merge roots that became the same path.
            let mut resolved: Vec<(AbsolutePathBuf, Vec<AbsolutePathBuf>)> = Vec::new();
            for root in roots {
                let path = macos_real_path(&root.root);
                let subpaths = root.read_only_subpaths.iter().map(macos_real_path);
                match resolved.iter_mut().find(|(existing, _)| *existing == path) {
                    Some((_, existing_subpaths)) => existing_subpaths.extend(subpaths),
                    None => resolved.push((path, subpaths.collect())),
                }
            }
            let mut rule = String::from(
                "; Writes: under the writable roots, except their read-only subpaths\n\
                 ; (`.git`, `.codex`, `.agents`, a worktree's git directory). Both\n\
                 ; `literal` and `subpath` are excluded so that creating the protected\n\
                 ; entry itself is refused as well as writing below it.\n\
                 (allow file-write*",
            );
            for (index, (root, own_subpaths)) in resolved.iter().enumerate() {
                // A protected subpath of any root wins over every other root.
                let mut excluded: Vec<&AbsolutePathBuf> = Vec::new();
                let foreign = resolved
                    .iter()
                    .flat_map(|(_, subpaths)| subpaths)
                    .filter(|subpath| subpath.starts_with(root) || root.starts_with(subpath));
                for subpath in own_subpaths.iter().chain(foreign) {
                    if !excluded.contains(&subpath) {
                        excluded.push(subpath);
                    }
                }
                let name = format!("WRITABLE_ROOT_{index}");
                rule.push_str(&format!(
                    "\n  (require-all\n    (subpath (param \"{name}\"))"
                ));
                push_param(&mut params, name.clone(), root.clone())?;
                for (sub_index, subpath) in excluded.into_iter().enumerate() {
                    let sub_name = format!("{name}_RO_{sub_index}");
                    rule.push_str(&format!(
                        "\n    (require-not (literal (param \"{sub_name}\")))\
                         \n    (require-not (subpath (param \"{sub_name}\")))"
                    ));
                    push_param(&mut params, sub_name, subpath.clone())?;
                }
                rule.push(')');
            }
            rule.push_str(")\n");
            rule
        }
    });

    sections.push(if policy.has_full_network_access() {
        format!("; Network: allowed.\n(allow network*)\n\n{NETWORK_POLICY}")
    } else {
        "; Network: denied (no rule allows it).\n".to_string()
    });

    if include_platform_defaults {
        sections.push(PLATFORM_DEFAULTS_POLICY.to_string());
    }

    Ok(SeatbeltDecision::Sandbox(SeatbeltPolicy {
        text: sections.join("\n"),
        params,
    }))
}

/// `/usr/bin/sandbox-exec -p <profile> -D<NAME>=<path>... -- <command...>`: the argv
/// that runs `command` under `policy`. Pure; spawning it is the caller's business
/// (and only works on macOS).
pub fn sandbox_exec_argv<I, S>(policy: &SeatbeltPolicy, command: I) -> Vec<OsString>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let mut argv = vec![
        OsString::from(SANDBOX_EXEC_PATH),
        OsString::from("-p"),
        OsString::from(&policy.text),
    ];
    for (name, path) in &policy.params {
        let mut define = OsString::from(format!("-D{name}="));
        define.push(path.as_path().as_os_str());
        argv.push(define);
    }
    argv.push(OsString::from("--"));
    argv.extend(command.into_iter().map(Into::into));
    argv
}

/// The path Seatbelt will see for `path` on macOS: `/tmp`, `/var` and `/etc` (and what
/// is below them) rewritten into `/private`.
fn macos_real_path(path: &AbsolutePathBuf) -> AbsolutePathBuf {
    for (link, target) in MACOS_PRIVATE_SYMLINKS {
        if let Ok(rest) = path.as_path().strip_prefix(link) {
            // `target` is absolute, so this cannot fail; `ok()` only spares an `expect`.
            if let Ok(target) = AbsolutePathBuf::try_from_absolute(target) {
                return target.join(rest);
            }
        }
    }
    path.clone()
}

/// Records `(name, path)`, refusing paths Seatbelt would see differently.
fn push_param(
    params: &mut Vec<(String, AbsolutePathBuf)>,
    name: String,
    path: AbsolutePathBuf,
) -> Result<(), SandboxingError> {
    let problem = match path.as_path().to_str() {
        None => Some(PathProblem::NotUtf8),
        Some(text) if text.contains('\0') => Some(PathProblem::ContainsNul),
        Some(_) => None,
    };
    match problem {
        Some(problem) => Err(SandboxingError::UnrepresentablePath {
            path: path.into_path_buf(),
            problem,
        }),
        None => {
            params.push((name, path));
            Ok(())
        }
    }
}

#[cfg(test)]
#[path = "seatbelt_tests.rs"]
mod tests;
