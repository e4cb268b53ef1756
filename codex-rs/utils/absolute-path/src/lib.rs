//! `AbsolutePathBuf`: a path that is absolute by type.
//!
//! Every boundary that takes a path from outside (a JSON-RPC request, a CLI flag, a
//! policy file) converts it into an [`AbsolutePathBuf`] once, so the code behind the
//! boundary never has to ask "relative to what?". Construction normalises `.` and `..`
//! lexically (it does not touch the filesystem, so it works for paths that do not exist
//! yet and for paths on a remote machine) and refuses relative input.
#![deny(missing_docs)]

use std::ffi::OsStr;
use std::fmt;
use std::path::Component;
use std::path::Path;
use std::path::PathBuf;

use serde::Deserialize;
use serde::Deserializer;
use serde::Serialize;
use serde::Serializer;

/// Why a path could not become an [`AbsolutePathBuf`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbsolutePathError {
    /// The path was relative; the caller must say what it is relative to.
    #[error("path `{path}` is not absolute; give a full path starting at the root")]
    Relative {
        /// The offending path, lossily converted for display.
        path: String,
    },
    /// The path was empty.
    #[error("path is empty; give a full path starting at the root")]
    Empty,
}

/// An absolute, lexically normalised path: no `.` components, and `..` resolved
/// against the preceding component (never above the root).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AbsolutePathBuf(PathBuf);

impl AbsolutePathBuf {
    /// Accepts `path` only if it is absolute, normalising it lexically.
    pub fn try_from_absolute(path: impl AsRef<Path>) -> Result<Self, AbsolutePathError> {
        let path = path.as_ref();
        if path.as_os_str().is_empty() {
            return Err(AbsolutePathError::Empty);
        }
        if !path.is_absolute() {
            return Err(AbsolutePathError::Relative {
                path: path.display().to_string(),
            });
        }
        Ok(Self(normalize(path)))
    }

    /// Resolves `path` against `base` when it is relative; absolute input is only
    /// normalised.
    pub fn resolve(base: &AbsolutePathBuf, path: impl AsRef<Path>) -> Self {
        Self(normalize(&base.0.join(path)))
    }

    /// `self/child`, normalised. A `child` that climbs with `..` can leave `self`;
    /// use [`AbsolutePathBuf::starts_with`] when containment matters.
    pub fn join(&self, child: impl AsRef<Path>) -> Self {
        Self::resolve(self, child)
    }

    /// The parent directory, or `None` at the root.
    pub fn parent(&self) -> Option<Self> {
        self.0.parent().map(|p| Self(p.to_path_buf()))
    }

    /// The final component, if any.
    pub fn file_name(&self) -> Option<&OsStr> {
        self.0.file_name()
    }

    /// Whether `self` is `base` or lies below it, compared component by component.
    pub fn starts_with(&self, base: &AbsolutePathBuf) -> bool {
        self.0.starts_with(&base.0)
    }

    /// Borrows the inner path.
    pub fn as_path(&self) -> &Path {
        &self.0
    }

    /// Gives up the inner path.
    pub fn into_path_buf(self) -> PathBuf {
        self.0
    }
}

fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Prefix(prefix) => out.push(prefix.as_os_str()),
            Component::RootDir => out.push(component.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                // `pop` refuses to remove the root, so `/..` stays `/`.
                out.pop();
            }
            Component::Normal(name) => out.push(name),
        }
    }
    out
}

impl AsRef<Path> for AbsolutePathBuf {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl fmt::Display for AbsolutePathBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.display().fmt(f)
    }
}

impl TryFrom<PathBuf> for AbsolutePathBuf {
    type Error = AbsolutePathError;

    fn try_from(value: PathBuf) -> Result<Self, Self::Error> {
        Self::try_from_absolute(value)
    }
}

impl TryFrom<&str> for AbsolutePathBuf {
    type Error = AbsolutePathError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::try_from_absolute(value)
    }
}

impl TryFrom<&Path> for AbsolutePathBuf {
    type Error = AbsolutePathError;

    fn try_from(value: &Path) -> Result<Self, Self::Error> {
        Self::try_from_absolute(value)
    }
}

impl TryFrom<&PathBuf> for AbsolutePathBuf {
    type Error = AbsolutePathError;

    fn try_from(value: &PathBuf) -> Result<Self, Self::Error> {
        Self::try_from_absolute(value)
    }
}

impl From<AbsolutePathBuf> for PathBuf {
    fn from(value: AbsolutePathBuf) -> Self {
        value.0
    }
}

impl Serialize for AbsolutePathBuf {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AbsolutePathBuf {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let path = PathBuf::deserialize(deserializer)?;
        Self::try_from_absolute(path).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn normalizes_dot_and_dotdot() {
        let path = AbsolutePathBuf::try_from_absolute("/a/./b/../c/").expect("absolute");
        assert_eq!(path.as_path(), Path::new("/a/c"));
    }

    #[test]
    fn dotdot_never_climbs_above_root() {
        let path = AbsolutePathBuf::try_from_absolute("/../../etc").expect("absolute");
        assert_eq!(path.as_path(), Path::new("/etc"));
    }

    #[test]
    fn refuses_relative_and_empty() {
        assert_eq!(
            AbsolutePathBuf::try_from_absolute("a/b"),
            Err(AbsolutePathError::Relative {
                path: "a/b".to_string()
            })
        );
        assert_eq!(
            AbsolutePathBuf::try_from_absolute(""),
            Err(AbsolutePathError::Empty)
        );
    }

    #[test]
    fn try_from_borrowed_paths_matches_try_from_absolute() {
        let expected = AbsolutePathBuf::try_from_absolute("/a/c").expect("absolute");
        let owned = PathBuf::from("/a/./b/../c/");
        assert_eq!(
            (
                AbsolutePathBuf::try_from(owned.as_path()),
                AbsolutePathBuf::try_from(&owned),
                AbsolutePathBuf::try_from("/a/./b/../c/"),
                AbsolutePathBuf::try_from(owned),
            ),
            (
                Ok(expected.clone()),
                Ok(expected.clone()),
                Ok(expected.clone()),
                Ok(expected),
            )
        );
    }

    #[test]
    fn try_from_borrowed_paths_refuses_relative_and_empty() {
        let relative = PathBuf::from("a/b");
        let relative_error = Err(AbsolutePathError::Relative {
            path: "a/b".to_string(),
        });
        assert_eq!(
            (
                AbsolutePathBuf::try_from(relative.as_path()),
                AbsolutePathBuf::try_from(&relative),
            ),
            (relative_error.clone(), relative_error)
        );
        let empty = PathBuf::new();
        assert_eq!(
            (
                AbsolutePathBuf::try_from(empty.as_path()),
                AbsolutePathBuf::try_from(&empty),
            ),
            (Err(AbsolutePathError::Empty), Err(AbsolutePathError::Empty))
        );
    }

    #[test]
    fn join_can_leave_base_and_starts_with_notices() {
        let base = AbsolutePathBuf::try_from_absolute("/work/root").expect("absolute");
        let inside = base.join("src/../lib.rs");
        let outside = base.join("../other");
        assert_eq!(
            (inside.starts_with(&base), outside.starts_with(&base)),
            (true, false)
        );
    }

    #[test]
    fn starts_with_compares_components_not_strings() {
        let base = AbsolutePathBuf::try_from_absolute("/work/root").expect("absolute");
        let sibling = AbsolutePathBuf::try_from_absolute("/work/rootkit").expect("absolute");
        assert!(!sibling.starts_with(&base));
    }
}
