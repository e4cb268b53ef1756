//! Integration tests for `codex-config`, in one binary (see `suite/`).
// Helpers shared by tests are not `#[test]` functions, so clippy's
// allow-unwrap-in-tests does not reach them; this whole binary is test code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
