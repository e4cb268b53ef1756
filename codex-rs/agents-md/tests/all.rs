//! The integration tests of `codex-agents-md`, in one binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
