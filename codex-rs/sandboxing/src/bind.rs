//! Binding a policy to the host that enforces it: every root resolved once, from `/`,
//! and refused when a sandboxed command could have redirected it.
//!
//! A policy names paths; what a sandbox mounts and what the filesystem layer checks are
//! the directories those paths lead to *now*. A command that may write the directory
//! holding a root (a nested root's parent, or `/tmp` above the server's own `$TMPDIR`)
//! could replace that root with a symlink, and every later sandbox and `fs/*` request
//! would grant the link's target instead. So [`bind_policy`]:
//!
//! 1. resolves each root the policy names (writable and readable roots, the policy's
//!    cwd, `/tmp`, `$TMPDIR`) component by component, noting every symlink it follows;
//! 2. refuses a root that passes through a symlink lying in a directory the policy makes
//!    writable, unless the root then resolves to a place that is writable anyway (a
//!    link inside `/tmp` to elsewhere in `/tmp` grants nothing new);
//! 3. binds the policy with the resolved roots ([`SandboxPolicy::effective_access`]),
//!    protects the git directories `.git` files point to (resolved the same way), and
//!    refuses a writable root inside a protected path;
//! 4. with [`RootPins`] (one per server: every session shares it), judges links in
//!    step 2 against the writable roots of *every* policy bound so far (a command of an
//!    earlier policy, of this session or another, may have planted a symlink where a
//!    later, narrower policy names a root), and refuses a root that resolves elsewhere
//!    than it did the first time it was used.
//!
//! The result holds only resolved paths, so callers compare resolved paths with it and
//! hand resolved paths to the kernel: nothing is resolved twice.

use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::Component;
use std::path::Path;
use std::path::PathBuf;

use codex_protocol::EffectiveAccess;
use codex_protocol::ReadOnlyAccess;
use codex_protocol::SandboxPolicy;
use codex_protocol::WriteAccess;
use codex_protocol::read_gitdir_pointer_as_written;
use codex_utils_absolute_path::AbsolutePathBuf;

use crate::SandboxingError;

/// Symlinks followed while resolving one path before giving up (Linux's own limit).
const MAX_SYMLINK_HOPS: usize = 40;

/// `/tmp`, a writable root of `workspaceWrite` unless `excludeSlashTmp`.
const SLASH_TMP: &str = "/tmp";

/// What has been granted so far (see the module docs, step 4): where each root resolved
/// the first time it was used, and every directory any policy made writable. The
/// exec-server shares one across all its sessions, processes and `fs/*` alike.
#[derive(Debug, Default)]
pub struct RootPins {
    state: std::sync::Mutex<PinState>,
}

#[derive(Debug, Default)]
struct PinState {
    first: BTreeMap<AbsolutePathBuf, AbsolutePathBuf>,
    /// Resolved writable roots of every policy bound so far: a command of any of them may
    /// have planted a symlink there.
    granted_writable: Vec<AbsolutePathBuf>,
}

impl RootPins {
    fn state(&self) -> std::sync::MutexGuard<'_, PinState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The writable roots this session granted before.
    fn granted_writable(&self) -> Vec<AbsolutePathBuf> {
        self.state().granted_writable.clone()
    }

    /// Records the writable roots of a policy just bound.
    fn grant(&self, writable: &[&AbsolutePathBuf]) {
        let mut state = self.state();
        for root in writable {
            if !state.granted_writable.contains(root) {
                state.granted_writable.push((*root).clone());
            }
        }
    }

    /// Records where `root` resolves now, or refuses it if it resolved elsewhere before.
    fn pin(&self, root: &AbsolutePathBuf, now: &AbsolutePathBuf) -> Result<(), SandboxingError> {
        let mut state = self.state();
        let first = &mut state.first;
        match first.get(root) {
            Some(before) if before != now => Err(SandboxingError::RootChanged {
                root: root.as_path().to_path_buf(),
                first: before.as_path().to_path_buf(),
                now: now.as_path().to_path_buf(),
            }),
            Some(_) => Ok(()),
            None => {
                first.insert(root.clone(), now.clone());
                Ok(())
            }
        }
    }
}

/// A path resolved from `/`, and the symlinks met on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolution {
    /// The path with every symlink of its existing part followed; a missing rest is
    /// appended as written.
    pub path: AbsolutePathBuf,
    /// Each symlink followed, at its resolved location (its parent directory resolved).
    pub links: Vec<AbsolutePathBuf>,
}

/// Resolves `path` from `/` as the kernel would, one component at a time, recording each
/// symlink it follows. Components after the first missing one are appended as written
/// (a root may name a directory that does not exist yet); `..` after a resolved
/// component goes to the resolved parent.
pub(crate) fn resolve_recording_links(path: &AbsolutePathBuf) -> io::Result<Resolution> {
    let mut pending: VecDeque<OsString> = names(path.as_path()).collect();
    let mut resolved = PathBuf::from("/");
    let mut links = Vec::new();
    let mut missing = false;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            if missing {
                // The kernel would stop at the missing component; once something is
                // created there (a symlink, say), `..` leads somewhere else.
                return Err(io::Error::other(format!(
                    "`{path}` goes up (`..`) from a directory that does not exist"
                )));
            }
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&name);
        if missing {
            resolved = candidate;
            continue;
        }
        match std::fs::symlink_metadata(&candidate) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                if links.len() == MAX_SYMLINK_HOPS {
                    return Err(io::Error::other(format!(
                        "more than {MAX_SYMLINK_HOPS} symbolic links while resolving `{path}`"
                    )));
                }
                links.push(absolute(&candidate)?);
                let target = std::fs::read_link(&candidate)?;
                if target.is_absolute() {
                    resolved = PathBuf::from("/");
                }
                for name in names(&target).collect::<Vec<_>>().into_iter().rev() {
                    pending.push_front(name);
                }
            }
            Ok(_) => resolved = candidate,
            Err(err) if is_missing(&err) => {
                missing = true;
                resolved = candidate;
            }
            Err(err) => return Err(err),
        }
    }
    Ok(Resolution {
        path: absolute(&resolved)?,
        links,
    })
}

/// The policy bound to the host: every root resolved (see the module docs), bound to
/// `policy_cwd` (the policy's own cwd, `sandboxPolicyCwd` on the wire, never a command's
/// working directory) and `tmpdir` (the enforcing host's `$TMPDIR`), with the git
/// directories of `.git` files protected.
///
/// Refuses ([`SandboxingError::RootThroughWritableSymlink`]) a root redirected by a
/// symlink that a sandboxed command could have planted, a writable root inside a
/// protected path ([`SandboxingError::Policy`]), a root that cannot be resolved, and,
/// with `pins`, a root that resolves elsewhere than the first time
/// ([`SandboxingError::RootChanged`]).
pub fn bind_policy(
    policy: &SandboxPolicy,
    policy_cwd: Option<&AbsolutePathBuf>,
    tmpdir: Option<&AbsolutePathBuf>,
    pins: Option<&RootPins>,
) -> Result<EffectiveAccess, SandboxingError> {
    let mut resolver = Resolver::default();
    let policy = match policy {
        SandboxPolicy::DangerFullAccess => SandboxPolicy::DangerFullAccess,
        SandboxPolicy::ExternalSandbox { network_access } => SandboxPolicy::ExternalSandbox {
            network_access: *network_access,
        },
        SandboxPolicy::ReadOnly { access } => SandboxPolicy::ReadOnly {
            access: resolver.access(access)?,
        },
        SandboxPolicy::WorkspaceWrite {
            writable_roots,
            read_only_access,
            network_access,
            exclude_tmpdir_env_var,
            exclude_slash_tmp,
        } => {
            if !exclude_slash_tmp {
                // Not renamed by the binding (it is always `/tmp`), but a symlink there
                // must be judged like any other root.
                let slash_tmp = AbsolutePathBuf::try_from_absolute(SLASH_TMP).map_err(|err| {
                    SandboxingError::Resolve {
                        path: PathBuf::from(SLASH_TMP),
                        message: err.to_string(),
                    }
                })?;
                resolver.one(&slash_tmp)?;
            }
            SandboxPolicy::WorkspaceWrite {
                writable_roots: resolver.all(writable_roots)?,
                read_only_access: resolver.access(read_only_access)?,
                network_access: *network_access,
                exclude_tmpdir_env_var: *exclude_tmpdir_env_var,
                exclude_slash_tmp: *exclude_slash_tmp,
            }
        }
    };
    let policy_cwd = policy_cwd.map(|cwd| resolver.one(cwd)).transpose()?;
    let tmpdir = tmpdir.map(|dir| resolver.one(dir)).transpose()?;
    let resolutions = resolver.resolutions;
    let access = policy.effective_access(policy_cwd.as_ref(), tmpdir.as_ref());
    let writable: Vec<AbsolutePathBuf> = match access.write() {
        WriteAccess::Roots(roots) => roots.iter().map(|root| root.root.clone()).collect(),
        WriteAccess::Everything | WriteAccess::Nothing => Vec::new(),
    };
    // Where a sandboxed command may have planted a link: this policy's writable roots,
    // and those of every policy the session bound before (its commands may have run).
    let session_writable: Vec<AbsolutePathBuf> =
        pins.map(RootPins::granted_writable).unwrap_or_default();
    let planted_link = |resolution: &Resolution| -> Option<AbsolutePathBuf> {
        resolution
            .links
            .iter()
            .find(|link| {
                link.parent().is_some_and(|dir| {
                    writable
                        .iter()
                        .chain(&session_writable)
                        .any(|root| dir.starts_with(root))
                })
            })
            .cloned()
    };
    // The git directory a `.git` file names, and the common directory a worktree's git
    // directory names (hooks and config live there), are protected where they resolve
    // to; a path git would walk through a replaceable symlink is refused.
    let gitdir_problem: std::cell::RefCell<Option<SandboxingError>> = Default::default();
    let follow = |pointer: &Path, written: PathBuf| -> Option<AbsolutePathBuf> {
        let written = AbsolutePathBuf::try_from_absolute(written).ok()?;
        match resolve_recording_links(&written) {
            Ok(resolution) => {
                if let Some(link) = planted_link(&resolution) {
                    gitdir_problem.replace(Some(SandboxingError::GitdirThroughWritableSymlink {
                        pointer: pointer.to_path_buf(),
                        link: link.into_path_buf(),
                    }));
                }
                Some(resolution.path)
            }
            // Git could be led elsewhere later: refuse rather than guess.
            Err(err) => {
                gitdir_problem.replace(Some(SandboxingError::Resolve {
                    path: pointer.to_path_buf(),
                    message: err.to_string(),
                }));
                None
            }
        }
    };
    let gitdir_of = |dot_git: &Path| follow(dot_git, read_gitdir_pointer_as_written(dot_git)?);
    let access = access
        .protect_gitdir_targets(|dot_git| gitdir_of(dot_git).map(AbsolutePathBuf::into_path_buf))
        .protect_gitdir_targets(|dot_git| {
            let gitdir = gitdir_of(dot_git)?;
            let commondir = gitdir.join("commondir");
            let common = std::fs::read_to_string(commondir.as_path()).ok()?;
            follow(commondir.as_path(), gitdir.as_path().join(common.trim()))
                .map(AbsolutePathBuf::into_path_buf)
        });
    if let Some(problem) = gitdir_problem.take() {
        return Err(problem);
    }
    access.check_roots().map_err(SandboxingError::Policy)?;
    let writable: Vec<&AbsolutePathBuf> = writable.iter().collect();
    // Writable roots reached without such a link: what a redirected root may land in.
    let trusted: Vec<&AbsolutePathBuf> = writable
        .iter()
        .copied()
        .filter(|root| {
            resolutions.iter().any(|(_, resolution)| {
                resolution.path == **root && planted_link(resolution).is_none()
            })
        })
        .collect();
    for (root, resolution) in &resolutions {
        let Some(link) = planted_link(resolution) else {
            continue;
        };
        if !trusted.iter().any(|w| resolution.path.starts_with(w)) {
            return Err(SandboxingError::RootThroughWritableSymlink {
                root: root.as_path().to_path_buf(),
                link: link.as_path().to_path_buf(),
                target: resolution.path.as_path().to_path_buf(),
            });
        }
    }
    if let Some(pins) = pins {
        for (root, resolution) in &resolutions {
            pins.pin(root, &resolution.path)?;
        }
        pins.grant(&writable);
    }
    Ok(access)
}

/// Resolves the roots of one policy, keeping each resolution for the symlink check.
#[derive(Default)]
struct Resolver {
    resolutions: Vec<(AbsolutePathBuf, Resolution)>,
}

impl Resolver {
    fn one(&mut self, path: &AbsolutePathBuf) -> Result<AbsolutePathBuf, SandboxingError> {
        let resolution =
            resolve_recording_links(path).map_err(|source| SandboxingError::Resolve {
                path: path.as_path().to_path_buf(),
                message: source.to_string(),
            })?;
        let resolved = resolution.path.clone();
        self.resolutions.push((path.clone(), resolution));
        Ok(resolved)
    }

    fn all(&mut self, paths: &[AbsolutePathBuf]) -> Result<Vec<AbsolutePathBuf>, SandboxingError> {
        paths.iter().map(|path| self.one(path)).collect()
    }

    fn access(&mut self, access: &ReadOnlyAccess) -> Result<ReadOnlyAccess, SandboxingError> {
        Ok(match access {
            ReadOnlyAccess::FullAccess => ReadOnlyAccess::FullAccess,
            ReadOnlyAccess::Restricted {
                include_platform_defaults,
                readable_roots,
            } => ReadOnlyAccess::Restricted {
                include_platform_defaults: *include_platform_defaults,
                readable_roots: self.all(readable_roots)?,
            },
        })
    }
}

/// The names of the normal components of `path` (`..` kept, `/` and `.` dropped).
fn names(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|component| match component {
        Component::Normal(name) => Some(name.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

fn absolute(path: &Path) -> io::Result<AbsolutePathBuf> {
    AbsolutePathBuf::try_from_absolute(path)
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err.to_string()))
}

/// "Not found", or a component that is not a directory: the rest does not exist.
fn is_missing(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

#[cfg(test)]
#[path = "bind_tests.rs"]
mod tests;
