//! One integration-test binary for the crate; areas live in `suite/`.
#![allow(
    clippy::expect_used,
    reason = "test helpers outside #[test] fns are test code too; a failed expect is a failed test"
)]
mod suite;
