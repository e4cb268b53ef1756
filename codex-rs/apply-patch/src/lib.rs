//! `codex-apply-patch`: the apply-patch format a coding agent edits files with.
//!
//! A patch is plain text framed by `*** Begin Patch` and `*** End Patch`,
//! holding one or more file operations:
//!
//! ```text
//! *** Begin Patch
//! *** Add File: notes/todo.txt
//! +first line
//! *** Delete File: old.txt
//! *** Update File: src/app.py
//! *** Move to: src/main.py
//! @@ def greet():
//! -    print("hi")
//! +    print("hello")
//! *** End Patch
//! ```
//!
//! An added file lists its lines with a `+` prefix. An update consists of
//! chunks: each opens with `@@`, optionally followed by a line that precedes
//! the chunk in the file, and lists context (` `), removed (`-`) and added
//! (`+`) lines; `*** End of File` pins a chunk to the end of the file.
//!
//! - [`parser`] turns patch text into a [`parser::Patch`];
//! - [`seek_sequence`] finds a block of lines in a file, tolerantly;
//! - [`update`] computes a file's new text from an update's chunks;
//! - [`apply_patch`] verifies a whole patch against an executor's filesystem
//!   (`codex_file_system::ExecutorFileSystem`, local or remote) and only then writes it;
//! - [`run_main`] / [`arg0_dispatch`] are the `apply_patch` command.
#![deny(missing_docs)]

mod apply;
mod cli;
mod error;
pub mod parser;
pub mod seek_sequence;
pub mod update;

pub use apply::AppliedPatch;
pub use apply::ChangeKind;
pub use apply::FileChange;
pub use apply::PatchTarget;
pub use apply::VerifiedPatch;
pub use apply::apply_patch;
pub use apply::verify_patch;
pub use cli::APPLY_PATCH_ARG0;
pub use cli::APPLY_PATCH_ARG0_ALIAS;
pub use cli::arg0_dispatch;
pub use cli::run_main;
pub use cli::run_patch;
pub use error::ApplyPatchError;

#[cfg(test)]
#[path = "proptest_tests.rs"]
mod proptest_tests;
#[cfg(test)]
mod test_support;
