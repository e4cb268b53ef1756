//! The integration tests of the `codex` command, in one binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
