//! The integration tests of `codex-execpolicy`, in one binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
