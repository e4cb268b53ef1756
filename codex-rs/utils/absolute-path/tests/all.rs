//! One integration-test binary for the crate; areas live in `suite/`.
mod suite;
