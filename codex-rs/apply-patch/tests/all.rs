//! The integration tests of `codex-apply-patch`, in one binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
