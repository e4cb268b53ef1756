//! The integration tests of `codex-shell-escalation`, in one binary: the real
//! `codex-execve-wrapper` against an in-process server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
