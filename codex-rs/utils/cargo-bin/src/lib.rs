//! Find test binaries and test resources the same way under Cargo and Bazel.
//!
//! Why this crate exists: Cargo hands integration tests absolute paths
//! (`CARGO_BIN_EXE_<bin>`, `CARGO_MANIFEST_DIR`) that point into the source tree and
//! `target/`. Bazel (and Buck2) run tests in a sandbox where only the declared inputs
//! exist, under a *runfiles* tree, and they pass relative, runfiles-style paths such as
//! `codex/codex-rs/exec-server/codex-exec-server`. A test that reads `CARGO_BIN_EXE_*`
//! or joins `CARGO_MANIFEST_DIR` by hand works under one build system only. The entry
//! points here accept both:
//!
//! - [`cargo_bin()`] / [`cargo_bin!`] / [`cargo_bin_cmd`]: the path of a binary target of
//!   the package under test;
//! - [`find_resource!`]: the path of a data file of the *calling* package;
//! - [`repo_root`]: the root of the repository (or of the runfiles tree that mirrors it).
//!
//! All the logic lives in functions that take the environment and the current directory
//! as arguments, so it is unit-tested without touching the process environment; the
//! public entry points pass the real ones.
#![deny(missing_docs)]

mod cargo_bin;
mod resource;
mod runfiles_lookup;

pub use cargo_bin::CargoBinError;
pub use cargo_bin::Tried;
pub use cargo_bin::cargo_bin;
pub use cargo_bin::cargo_bin_cmd;
pub use cargo_bin::cargo_bin_of_package;
pub use resource::ResourceError;
pub use resource::repo_root;

/// Implementation details of the exported macros. Not part of the public API: the
/// macros must name these items through `$crate`, so they have to be public, but they
/// may change at any time.
#[doc(hidden)]
pub mod __private {
    pub use crate::cargo_bin::cargo_bin_for_package;
    pub use crate::resource::find_resource_for_package;
}

/// The path of the binary target `name` of the package under test, like [`cargo_bin()`],
/// but also accepts the value of `CARGO_BIN_EXE_<name>` that the compiler saw.
///
/// Cargo and cargo-nextest set `CARGO_BIN_EXE_<name>` both when compiling and when
/// running an integration test; running the test executable directly (a debugger, a
/// wrapper script) leaves only the compile-time value, which this macro captures with
/// `option_env!` in the caller's crate. If it has to build the binary, it builds the
/// caller's package (its `CARGO_MANIFEST_DIR`) rather than the current directory's.
/// `name` must be a string literal.
///
/// ```no_run
/// let server = codex_utils_cargo_bin::cargo_bin!("codex-exec-server")?;
/// # Ok::<(), codex_utils_cargo_bin::CargoBinError>(())
/// ```
#[macro_export]
macro_rules! cargo_bin {
    ($name:literal) => {
        $crate::__private::cargo_bin_for_package(
            $name,
            ::core::option_env!(::core::concat!("CARGO_BIN_EXE_", $name)),
            ::core::option_env!("CARGO_MANIFEST_DIR"),
        )
    };
}

/// The path of a resource (data file or directory) of the package that calls the macro,
/// given relative to that package's directory: `Result<PathBuf, ResourceError>`.
///
/// - Under Bazel (a runfiles tree or manifest is present at run time, and the crate was
///   compiled with `BAZEL_PACKAGE`), the result is
///   `<runfiles>/<workspace>/<BAZEL_PACKAGE>/<path>`, where `<workspace>` is the run-time
///   `TEST_WORKSPACE` (default `codex`). The file must be in the test's `data`.
/// - Otherwise (Cargo), the result is `<CARGO_MANIFEST_DIR>/<path>`.
///
/// It is a macro, not a function, so that `BAZEL_PACKAGE` and `CARGO_MANIFEST_DIR` are
/// read in the caller's crate rather than in this one. The result is absolute and
/// normalised lexically (`a/../b` becomes `b`) but not canonicalised: under Bazel a path
/// such as `tests/common/../suite/bash` names a file whose `tests/common` directory may
/// not exist in runfiles, so asking the filesystem would fail. The macro does not check
/// that the resource exists.
///
/// ```no_run
/// let bash = codex_utils_cargo_bin::find_resource!("tests/suite/bash")?;
/// # Ok::<(), codex_utils_cargo_bin::ResourceError>(())
/// ```
#[macro_export]
macro_rules! find_resource {
    ($path:expr) => {
        $crate::__private::find_resource_for_package(
            $path,
            ::core::option_env!("BAZEL_PACKAGE"),
            ::core::option_env!("CARGO_MANIFEST_DIR"),
        )
    };
}
