//! `codex-apply-patch`: the apply-patch format a coding agent edits files with.
#![deny(missing_docs)]
