mod access;
mod bad_input;
mod constructors;
mod policy_json;
mod writable_roots;

use codex_utils_absolute_path::AbsolutePathBuf;

/// An [`AbsolutePathBuf`] from a literal the test knows is absolute.
fn abs(path: &str) -> AbsolutePathBuf {
    AbsolutePathBuf::try_from_absolute(path).expect("absolute test path")
}
