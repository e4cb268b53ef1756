//! One integration-test binary for the crate; the tests live in `suite/`.
mod suite;
