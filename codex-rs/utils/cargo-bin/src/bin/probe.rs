//! A trivial binary target so that the crate's integration tests can resolve a real
//! `CARGO_BIN_EXE_<name>` under Cargo and under Bazel. It prints its own name.

fn main() {
    println!("cargo-bin-probe");
}
