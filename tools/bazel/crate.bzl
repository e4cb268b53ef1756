"""`codex_rust_crate`: one call per crate's BUILD.bazel, everything else from Cargo.

Cargo.toml is the source of truth. tools/bazel/cargo_bazel_lock.py records what
Cargo resolves for each workspace member in tools/bazel/crates/workspace_crates.bzl;
this macro turns that record into targets, so a crate's BUILD.bazel is just

    load("//tools/bazel:crate.bzl", "codex_rust_crate")

    codex_rust_crate(name = "exec-server")

For the crate in package `P` (name = the last path component of `P`) it defines:

  :<name>-build-script        the build.rs, compiled and run (if the crate has one)
  :<name>                     the library (rust_library or rust_proc_macro), with
                              rustc_env BAZEL_PACKAGE=P for find_resource!
  :<bin>                      one rust_binary per Cargo binary target
  :<name>-unit-tests          the library's #[test]s (rustc --test)
  :<bin>-unit-tests           a binary's #[test]s
  :<name>-<stem>-test         one rust_test per tests/<stem>.rs integration binary,
                              with CARGO_BIN_EXE_<bin> (runfiles-relative, at compile
                              and run time) for each binary and every file under
                              tests/ as runfiles data
  :<name>-<stem>-example      one rust_binary per Cargo example (examples/<stem>.rs or
                              examples/<stem>/main.rs), built with the dev-dependencies
                              as Cargo builds it; `bazel build` compiles it, `bazel run`
                              runs it

Doc tests and benches are left to Cargo.
"""

load("//tools/bazel:rust.bzl", "cargo_build_script", "rust_binary", "rust_library", "rust_proc_macro", "rust_test")
load("//tools/bazel/crates:workspace_crates.bzl", "WORKSPACE_CRATES")

def _from_lock(target):
    """The attributes one compiled target takes from its workspace_crates.bzl entry."""
    return dict(
        crate_root = target["root"],
        edition = target["edition"],
        crate_features = target["features"],
        deps = target["deps"],
        proc_macro_deps = target["proc_macro_deps"],
        aliases = target["aliases"],
    )

def codex_rust_crate(
        name,
        crate_name = None,
        data = [],
        test_data = [],
        test_bins = {},
        test_tags = [],
        test_size = "medium",
        test_env = {},
        unit_test_args = [],
        integration_test_args = [],
        rustc_env = {},
        build_script_data = [],
        visibility = ["//visibility:public"]):
    """Defines the Bazel targets of the workspace crate in this package.

    Args:
      name: the package's last path component (checked).
      crate_name: optional; if given it must match the library name Cargo uses.
      data: runtime files of the library, propagated to everything that uses it.
      test_data: extra files the tests read (everything under tests/ is included).
      test_bins: binaries of other packages the integration tests run, label -> name:
        each sets CARGO_BIN_EXE_<name> as the package's own binaries do.
      test_tags: tags for every test target, e.g. ["no-sandbox"] with a comment why.
      test_size: Bazel test size (timeout class) for every test target.
      test_env: run-time environment for every test target.
      unit_test_args: arguments to the unit-test binaries (libtest flags).
      integration_test_args: arguments to the integration-test binaries.
      rustc_env: extra compile-time environment for every target.
      build_script_data: files outside `src/` the build script reads (besides its own
        `build.rs` and `Cargo.toml`), declared explicitly.
      visibility: of the library and binaries.
    """
    package = native.package_name()
    info = WORKSPACE_CRATES.get(package)
    if info == None:
        fail(("%s/BUILD.bazel: no workspace crate is recorded for this package. Add the crate " +
              "to [workspace] members in the root Cargo.toml, run `just bazel-lock-update`, " +
              "and commit tools/bazel/crates/.") % package)
    expected = package.split("/")[-1]
    if name != expected:
        fail("%s/BUILD.bazel: codex_rust_crate(name = %r) must be named after its directory, %r." % (package, name, expected))
    lib = info["lib"]
    if crate_name and (lib == None or lib["crate_name"] != crate_name):
        fail("%s/BUILD.bazel: crate_name = %r, but %s says the library is %r." % (
            package,
            crate_name,
            info["manifest"],
            lib["crate_name"] if lib else None,
        ))

    # Each target takes only the files it compiles, so editing a README, a test or a
    # fixture never invalidates the library (or its cache entry): the library, its
    # binaries and its unit tests read `src/**` (modules, `include_str!` files); the
    # integration tests read `tests/**/*.rs`, the examples `examples/**/*.rs`; a build
    # script reads its own `build.rs`, `src/**` and what `build_script_data` declares.
    srcs = native.glob(["src/**"])
    test_srcs = native.glob(["tests/**/*.rs"])
    example_srcs = native.glob(["examples/**/*.rs"])
    tests_data = native.glob(["tests/**"], exclude = ["**/*.rs"])

    # Test fixtures may be shared with other crates' tests.
    native.exports_files(tests_data, visibility = ["//visibility:public"])
    bazel_env = dict({"BAZEL_PACKAGE": package}, **rustc_env)
    pkg_env = info["pkg_env"]

    build_script = None
    if lib and lib["build_script"]:
        bs = lib["build_script"]
        build_script = ":%s-build-script" % name
        cargo_build_script(
            name = name + "-build-script",
            script_root = bs["src"],
            srcs = srcs + native.glob([bs["src"], "Cargo.toml"]) + build_script_data,
            edition = bs["edition"],
            crate_features = bs["features"],
            deps = bs["deps"],
            proc_macro_deps = bs["proc_macro_deps"],
            aliases = bs["aliases"],
            links = bs["links"],
            links_deps = bs["links_deps"],
            pkg_env = pkg_env,
        )

    common = dict(srcs = srcs, build_script = build_script, pkg_env = pkg_env, rustc_env = bazel_env)
    tests_common = dict(common, env = test_env, tags = test_tags, size = test_size)

    if lib:
        lib_rule = rust_proc_macro if lib["proc_macro"] else rust_library
        lib_rule(
            name = name,
            crate_name = lib["crate_name"],
            data = data,
            visibility = visibility,
            **dict(common, **_from_lock(lib))
        )

    bin_names = sorted(info["bins"].keys())
    for bin_name in bin_names:
        if bin_name == name:
            fail("%s: binary %r has the same name as the library target; rename the [[bin]]." % (info["manifest"], bin_name))
        b = info["bins"][bin_name]
        rust_binary(
            name = bin_name,
            crate_name = bin_name.replace("-", "_"),
            bin_name = bin_name,
            data = data,
            visibility = visibility,
            **dict(common, **_from_lock(b))
        )
        if "test" in b:
            rust_test(
                name = bin_name + "-unit-tests",
                crate_name = bin_name.replace("-", "_"),
                data = data + test_data,
                args = unit_test_args,
                **dict(tests_common, **_from_lock(b["test"]))
            )

    if info["lib_test"]:
        rust_test(
            name = name + "-unit-tests",
            crate_name = lib["crate_name"],
            data = data + test_data,
            args = unit_test_args,
            **dict(tests_common, **_from_lock(info["lib_test"]))
        )

    bins = {":" + b: b for b in bin_names}
    bins.update(test_bins)
    for stem in sorted(info["tests"].keys()):
        rust_test(
            name = "%s-%s-test" % (name, stem),
            crate_name = stem.replace("-", "_"),
            bins = bins,
            data = data + test_data + tests_data,
            args = integration_test_args,
            **dict(tests_common, srcs = test_srcs, **_from_lock(info["tests"][stem]))
        )

    # Examples are binaries of their own that use the library (and the dev-dependencies);
    # like the integration tests, each reads every file under examples/.
    for stem in sorted(info["examples"].keys()):
        rust_binary(
            name = "%s-%s-example" % (name, stem),
            crate_name = stem.replace("-", "_"),
            bin_name = stem,
            **dict(common, srcs = example_srcs, **_from_lock(info["examples"][stem]))
        )
