"""Our own Rust rules: rustc called directly, one Bazel action per crate.

Bazel 4.2.3 (the Bazel we can run) has no rules_rust, so these rules call the
system rustc found by `rust_host_repository` (see repositories.bzl). Every rustc
invocation, third-party crates and build scripts included, is a plain action with
declared inputs and outputs, so a remote cache can serve all of it.

Rules:
  rust_library        an rlib (`--crate-type lib`)
  rust_proc_macro     a proc-macro `.so`, always used from the exec configuration
  rust_binary         an executable
  rust_test           a libtest executable (`--test`), run by `bazel test`
  cargo_build_script  compiles a crate's build.rs for the exec platform and runs it
                      with the environment Cargo gives build scripts; its `cargo:`
                      output becomes flags and env for the crate's own rustc.

Paths that must be absolute at run time (OUT_DIR, CARGO_MANIFEST_DIR) are written
as `${pwd}/...` and made absolute by rustc_wrapper.sh inside the action, so the
command lines, and therefore the cache keys, never contain a machine's paths.
"""

load("@rust_host//:defs.bzl", "RUST_HOST")

RustCrateInfo = provider(
    doc = "A compiled crate and what its dependents need to use it.",
    fields = {
        "crate_name": "The name dependents write in `extern crate` / paths.",
        "output": "The .rlib (libraries) or .so (proc-macros).",
        "transitive_rlibs": "depset of the rlibs (and proc-macro .so files) of this crate and below.",
        "transitive_link_search": "depset of the link_search files of every build script below and including this crate.",
        "transitive_build_outputs": "depset of those link_search files and the OUT_DIR trees they may point into.",
    },
)

BuildScriptInfo = provider(
    doc = "What running a build script produced.",
    fields = {
        "out_dir": "Tree artifact: the script's OUT_DIR.",
        "flags": "File: rustc flags for the crate itself (--cfg, -l, -C link-arg).",
        "env": "File: K=V lines the crate's rustc gets (cargo:rustc-env).",
        "link_search": "File: -L flags every dependent gets too.",
        "dep_env": "File: DEP_<LINKS>_<KEY>=V lines for dependents' build scripts.",
    },
)

# rustc and its libraries, for every rule that runs rustc (directly or as a build
# script's RUSTC).
_TOOLCHAIN_ATTRS = {
    "_rustc": attr.label(default = "@rust_host//:rustc", allow_single_file = True, cfg = "exec"),
    "_rustc_lib": attr.label(default = "@rust_host//:rustc_lib", cfg = "exec"),
}

# The PATH of every action: rustc runs `cc` to link, build scripts run tools; a fixed
# value keeps the cache keys independent of the caller's PATH.
_ACTION_PATH = "/usr/bin:/bin"

_COMMON_ATTRS = dict(_TOOLCHAIN_ATTRS, **{
    "crate_name": attr.string(doc = "Crate name as rustc sees it (dashes become underscores)."),
    "srcs": attr.label_list(allow_files = True, doc = "All files of the crate rustc may read."),
    "crate_root": attr.label(allow_single_file = True, mandatory = True),
    "manifest_dir": attr.string(doc = "Package-relative directory holding the crate's Cargo.toml."),
    "edition": attr.string(default = "2021"),
    "crate_features": attr.string_list(),
    "deps": attr.label_list(providers = [RustCrateInfo]),
    "proc_macro_deps": attr.label_list(cfg = "exec", providers = [RustCrateInfo]),
    "aliases": attr.label_keyed_string_dict(doc = "Dependency label -> extern name, for renamed deps."),
    "build_script": attr.label(providers = [BuildScriptInfo]),
    "rustc_env": attr.string_dict(doc = "Extra compile-time env (`env!`). `$(rootpath)` is expanded."),
    "rustc_flags": attr.string_list(),
    "data": attr.label_list(allow_files = True),
    "third_party": attr.bool(default = False, doc = "Caps lints, as Cargo does for dependencies."),
    "pkg_env": attr.string_dict(doc = "CARGO_PKG_* values from Cargo.toml."),
    "_wrapper": attr.label(default = "//tools/bazel:rustc_wrapper.sh", allow_single_file = True, cfg = "exec"),
})

def _dir_of(f):
    return "-Ldependency=" + f.dirname

def _short_hash(ctx):
    # Distinct -C metadata per target keeps crates with the same name (syn 1 and 2,
    # host and target copies) from colliding in one link.
    return str(hash(str(ctx.label) + ctx.attr.pkg_env.get("CARGO_PKG_VERSION", "")) & 0x7fffffff)

def _is_opt(ctx):
    """Whether this is an optimized build (`-c opt`, Cargo's release profile)."""
    return ctx.var["COMPILATION_MODE"] == "opt"

def _mode_flags(ctx):
    if _is_opt(ctx):
        return ["-Copt-level=3", "-Cdebuginfo=0", "-Cdebug-assertions=off", "-Coverflow-checks=off"]
    debuginfo = "2" if ctx.var["COMPILATION_MODE"] == "dbg" else "line-tables-only"
    return ["-Copt-level=0", "-Cdebuginfo=" + debuginfo, "-Cdebug-assertions=on", "-Coverflow-checks=on"]

def _manifest_env(ctx, prefix):
    """CARGO_MANIFEST_DIR and CARGO_MANIFEST_PATH below `prefix`.

    No machine path reaches a command line or cache key. For rustc the prefix is
    `/proc/self/cwd`: an absolute path that names the action's directory wherever it is,
    so a crate that embeds `env!("CARGO_MANIFEST_DIR")` gets the same bytes in every
    output base and clone. A build script runs from its crate's directory, where that
    would point elsewhere, so it gets `${pwd}`, which build_script_runner.sh expands.
    """
    manifest_dir = prefix + "/" + _manifest_dir(ctx)
    return {
        "CARGO_MANIFEST_DIR": manifest_dir,
        "CARGO_MANIFEST_PATH": manifest_dir + "/Cargo.toml",
    }

def _extern_name(dep, aliases):
    alias = aliases.get(dep.label)
    return alias if alias else dep[RustCrateInfo].crate_name

def _action_env(ctx, crate_name, extra = {}):
    env = dict(_manifest_env(ctx, "/proc/self/cwd"), CARGO_CRATE_NAME = crate_name, PATH = _ACTION_PATH)
    env.update(ctx.attr.pkg_env)
    env.update(extra)
    return env

def _manifest_dir(ctx):
    base = ctx.label.workspace_root
    if ctx.label.package:
        base = (base + "/" + ctx.label.package) if base else ctx.label.package
    if ctx.attr.manifest_dir:
        base = (base + "/" + ctx.attr.manifest_dir) if base else ctx.attr.manifest_dir
    return base

def _compile_rust(ctx, crate_name, crate_type, output, extra_deps = [], extra_env = {}, is_test = False):
    """Declares the rustc action for one crate; returns the RustCrateInfo pieces."""
    dep_infos = [d[RustCrateInfo] for d in ctx.attr.deps] + extra_deps
    pm_infos = [d[RustCrateInfo] for d in ctx.attr.proc_macro_deps]
    aliases = {}
    for dep, name in ctx.attr.aliases.items():
        aliases[dep.label] = name

    args = ctx.actions.args()

    wrapper_args = ctx.actions.args()
    wrapper_args.add("--kind", "test" if is_test else crate_type)
    build_info = ctx.attr.build_script[BuildScriptInfo] if ctx.attr.build_script else None

    # Depsets all the way down: nothing here is flattened at analysis time, so the cost
    # stays linear in the size of the graph.
    transitive_link_search = depset(
        [build_info.link_search] if build_info else [],
        transitive = [i.transitive_link_search for i in dep_infos],
    )
    transitive_build_outputs = depset(
        [build_info.link_search, build_info.out_dir] if build_info else [],
        transitive = [i.transitive_build_outputs for i in dep_infos],
    )

    inputs = list(ctx.files.srcs)
    if ctx.file.crate_root not in inputs:
        inputs.append(ctx.file.crate_root)

    # rustc loads the metadata of every crate below a direct dependency, proc-macro
    # .so files included, so all of them are inputs and on -Ldependency.
    transitive_inputs = [i.transitive_rlibs for i in dep_infos + pm_infos]
    build_outputs = [transitive_build_outputs]

    if build_info:
        wrapper_args.add("--out-dir", build_info.out_dir.path)
        wrapper_args.add("--env-file", build_info.env)
        wrapper_args.add("--arg-file", build_info.flags)
        inputs.extend([build_info.out_dir, build_info.env, build_info.flags])
    wrapper_args.add_all(transitive_link_search, before_each = "--arg-file")
    wrapper_args.add("--")
    wrapper_args.add(ctx.file._rustc)

    args.add(ctx.file.crate_root)
    args.add("--crate-name", crate_name)
    if is_test:
        args.add("--test")
    else:
        args.add("--crate-type", crate_type)
    args.add("--edition=" + ctx.attr.edition)
    args.add("--emit=link=" + output.path)
    args.add("-Cmetadata=" + _short_hash(ctx) + ("t" if is_test else ""))
    args.add("-Cembed-bitcode=no")
    args.add_all(_mode_flags(ctx))
    args.add("-Clinker=" + RUST_HOST.linker)
    if crate_type == "proc-macro":
        args.add("-Cprefer-dynamic")
        args.add("--extern", "proc_macro")
    args.add_all(ctx.attr.crate_features, format_each = "--cfg=feature=\"%s\"")
    if ctx.attr.third_party:
        args.add("--cap-lints=allow")
    for dep in ctx.attr.deps:
        args.add("--extern", "%s=%s" % (_extern_name(dep, aliases), dep[RustCrateInfo].output.path))
    for info in extra_deps:
        args.add("--extern", "%s=%s" % (info.crate_name, info.output.path))
    for dep in ctx.attr.proc_macro_deps:
        args.add("--extern", "%s=%s" % (_extern_name(dep, aliases), dep[RustCrateInfo].output.path))
    args.add_all(depset(transitive = transitive_inputs), map_each = _dir_of, uniquify = True)
    args.add_all(ctx.attr.rustc_flags)

    env = _action_env(ctx, crate_name, extra_env)
    for key, value in ctx.attr.rustc_env.items():
        env[key] = ctx.expand_location(value, ctx.attr.data)

    ctx.actions.run(
        executable = ctx.file._wrapper,
        arguments = [wrapper_args, args],
        inputs = depset(inputs, transitive = transitive_inputs + build_outputs + [depset(ctx.files._rustc_lib)]),
        tools = [ctx.file._rustc],
        outputs = [output],
        env = env,
        mnemonic = "Rustc",
        progress_message = "Compiling Rust %s %s (%s)" % (crate_type if not is_test else "test", ctx.label, crate_name),
    )
    return struct(
        transitive_rlibs = depset([output], transitive = transitive_inputs),
        transitive_link_search = transitive_link_search,
        transitive_build_outputs = transitive_build_outputs,
    )

def _crate_name(ctx):
    return ctx.attr.crate_name or ctx.label.name.replace("-", "_")

def _data_runfiles(ctx):
    runfiles = ctx.runfiles(files = ctx.files.data)
    for dep in ctx.attr.deps + ctx.attr.data:
        runfiles = runfiles.merge(dep[DefaultInfo].default_runfiles)
    return runfiles

def _rust_library_impl(ctx):
    crate_name = _crate_name(ctx)
    output = ctx.actions.declare_file("%s/lib%s-%s.rlib" % (ctx.label.name, crate_name, _short_hash(ctx)))
    result = _compile_rust(ctx, crate_name, "lib", output)
    return [
        DefaultInfo(files = depset([output]), runfiles = _data_runfiles(ctx)),
        RustCrateInfo(
            crate_name = crate_name,
            output = output,
            transitive_rlibs = result.transitive_rlibs,
            transitive_link_search = result.transitive_link_search,
            transitive_build_outputs = result.transitive_build_outputs,
        ),
    ]

rust_library = rule(
    implementation = _rust_library_impl,
    attrs = _COMMON_ATTRS,
    doc = "Compiles a Rust library crate to an rlib.",
)

def _rust_proc_macro_impl(ctx):
    crate_name = _crate_name(ctx)
    output = ctx.actions.declare_file("%s/lib%s-%s.so" % (ctx.label.name, crate_name, _short_hash(ctx)))
    _compile_rust(ctx, crate_name, "proc-macro", output)
    return [
        DefaultInfo(files = depset([output])),
        RustCrateInfo(
            crate_name = crate_name,
            output = output,
            # Consumers load the .so; they need none of its dependencies.
            transitive_rlibs = depset([output]),
            transitive_link_search = depset(),
            transitive_build_outputs = depset(),
        ),
    ]

rust_proc_macro = rule(
    implementation = _rust_proc_macro_impl,
    attrs = _COMMON_ATTRS,
    doc = "Compiles a proc-macro crate to a .so (depend on it through proc_macro_deps).",
)

def _executable_impl(ctx, is_test):
    crate_name = _crate_name(ctx)
    output = ctx.actions.declare_file(ctx.label.name)
    extra_deps = [d[RustCrateInfo] for d in ctx.attr.crate_deps]
    extra_env = {}
    if not is_test:
        extra_env["CARGO_BIN_NAME"] = ctx.attr.bin_name or ctx.label.name
    bin_env = {}
    for target, name in ctx.attr.bins.items():
        exe = target[DefaultInfo].files_to_run.executable
        bin_env["CARGO_BIN_EXE_" + name] = ctx.workspace_name + "/" + exe.short_path
    extra_env.update(bin_env)
    _compile_rust(ctx, crate_name, "bin", output, extra_deps = extra_deps, extra_env = extra_env, is_test = is_test)

    runfiles = _data_runfiles(ctx)
    for target in ctx.attr.bins:
        runfiles = runfiles.merge(target[DefaultInfo].default_runfiles)
        runfiles = runfiles.merge(ctx.runfiles(files = [target[DefaultInfo].files_to_run.executable]))
    for target in ctx.attr.crate_deps:
        runfiles = runfiles.merge(target[DefaultInfo].default_runfiles)
    providers = [DefaultInfo(executable = output, files = depset([output]), runfiles = runfiles)]
    if is_test:
        test_env = dict(bin_env)
        for key, value in ctx.attr.env.items():
            test_env[key] = ctx.expand_location(value, ctx.attr.data)
        providers.append(testing.TestEnvironment(test_env))
    return providers

_EXECUTABLE_ATTRS = dict(_COMMON_ATTRS)
_EXECUTABLE_ATTRS.update({
    "crate_deps": attr.label_list(
        providers = [RustCrateInfo],
        doc = "Libraries passed with their own crate name (the crate under test for integration tests).",
    ),
    "bins": attr.label_keyed_string_dict(
        cfg = "target",
        doc = "Binary target -> name: sets CARGO_BIN_EXE_<name> (runfiles-relative) at compile and run time.",
    ),
    "bin_name": attr.string(),
    "env": attr.string_dict(doc = "Run-time env for tests. `$(rootpath)` is expanded."),
})

def _rust_binary_impl(ctx):
    return _executable_impl(ctx, is_test = False)

def _rust_test_impl(ctx):
    return _executable_impl(ctx, is_test = True)

rust_binary = rule(
    implementation = _rust_binary_impl,
    attrs = _EXECUTABLE_ATTRS,
    executable = True,
    doc = "Compiles and links a Rust binary.",
)

rust_test = rule(
    implementation = _rust_test_impl,
    attrs = _EXECUTABLE_ATTRS,
    test = True,
    doc = "Compiles a libtest binary (`rustc --test`) that `bazel test` runs.",
)

# --- build scripts -----------------------------------------------------------

def _cargo_build_script_run_impl(ctx):
    script = ctx.executable.script
    out_dir = ctx.actions.declare_directory(ctx.label.name + ".out_dir")
    flags = ctx.actions.declare_file(ctx.label.name + ".flags")
    env_out = ctx.actions.declare_file(ctx.label.name + ".env")
    link_search = ctx.actions.declare_file(ctx.label.name + ".link_search")
    dep_env = ctx.actions.declare_file(ctx.label.name + ".dep_env")

    opt = _is_opt(ctx)
    env = dict(
        _manifest_env(ctx, "${pwd}"),
        RUSTC = ctx.file._rustc.path,
        TARGET = RUST_HOST.triple,
        HOST = RUST_HOST.triple,
        NUM_JOBS = "1",
        PATH = _ACTION_PATH,
        CARGO_ENCODED_RUSTFLAGS = "",
        RUST_BACKTRACE = "1",
        PROFILE = "release" if opt else "debug",
        OPT_LEVEL = "3" if opt else "0",
        DEBUG = "false" if opt else "true",
    )
    for key, value in RUST_HOST.cfg_env.items():
        if key == "CARGO_CFG_DEBUG_ASSERTIONS" and opt:
            continue
        env[key] = value
    env["CARGO_CFG_FEATURE"] = ",".join(ctx.attr.crate_features)
    for feature in ctx.attr.crate_features:
        env["CARGO_FEATURE_" + feature.upper().replace("-", "_")] = "1"
    if ctx.attr.links:
        env["CARGO_MANIFEST_LINKS"] = ctx.attr.links
    env.update(ctx.attr.pkg_env)

    args = ctx.actions.args()
    args.add("--crate", "%s %s" % (ctx.attr.pkg_env.get("CARGO_PKG_NAME", ctx.label.name), ctx.attr.pkg_env.get("CARGO_PKG_VERSION", "")))
    args.add("--script", script)
    args.add("--script-src", ctx.attr.script_src)
    args.add("--out-dir", out_dir.path)
    args.add("--flags", flags)
    args.add("--env-out", env_out)
    args.add("--link-search", link_search)
    args.add("--dep-env", dep_env)
    args.add("--links", ctx.attr.links)
    dep_env_inputs = []
    for dep in ctx.attr.links_deps:
        args.add("--dep-env-in", dep[BuildScriptInfo].dep_env)
        dep_env_inputs.append(dep[BuildScriptInfo].dep_env)

    ctx.actions.run(
        executable = ctx.file._runner,
        arguments = [args],
        inputs = depset(ctx.files.srcs + dep_env_inputs, transitive = [depset(ctx.files._rustc_lib)]),
        tools = [ctx.file._rustc, script],
        outputs = [out_dir, flags, env_out, link_search, dep_env],
        env = env,
        mnemonic = "CargoBuildScript",
        progress_message = "Running build script of %s" % ctx.label,
    )
    return [
        DefaultInfo(files = depset([out_dir])),
        BuildScriptInfo(out_dir = out_dir, flags = flags, env = env_out, link_search = link_search, dep_env = dep_env),
    ]

_cargo_build_script_run = rule(
    implementation = _cargo_build_script_run_impl,
    attrs = dict(_TOOLCHAIN_ATTRS, **{
        "script": attr.label(executable = True, cfg = "exec", mandatory = True),
        "script_src": attr.string(doc = "The build.rs path, for error messages."),
        "srcs": attr.label_list(allow_files = True, doc = "The package's files (the script's cwd)."),
        "manifest_dir": attr.string(),
        "crate_features": attr.string_list(),
        "pkg_env": attr.string_dict(),
        "links": attr.string(doc = "The package's `links` key, if any."),
        "links_deps": attr.label_list(providers = [BuildScriptInfo], doc = "Build scripts of `links` dependencies (DEP_* env)."),
        "_runner": attr.label(default = "//tools/bazel:build_script_runner.sh", allow_single_file = True, cfg = "exec"),
    }),
    doc = "Runs a compiled build script with the environment Cargo gives build scripts.",
)

def cargo_build_script(
        name,
        script_root,
        srcs,
        manifest_dir = "",
        crate_features = [],
        pkg_env = {},
        links = "",
        links_deps = [],
        visibility = None,
        **kwargs):
    """Compiles `script_root` (a build.rs) for the exec platform and runs it.

    `name` provides BuildScriptInfo for the crate's `build_script` attribute:
    OUT_DIR, plus the flags/env/link-search files its rustc uses. The `cargo:`
    directives honoured are listed in build_script_runner.sh. Remaining kwargs
    (edition, deps, proc_macro_deps, aliases, third_party) compile the script.
    """
    rust_binary(
        name = name + "_script",
        crate_name = "build_script_build",
        crate_root = script_root,
        srcs = srcs,
        manifest_dir = manifest_dir,
        crate_features = crate_features,
        pkg_env = pkg_env,
        tags = ["manual"],
        visibility = ["//visibility:private"],
        **kwargs
    )
    _cargo_build_script_run(
        name = name,
        script = ":" + name + "_script",
        script_src = native.package_name() + "/" + script_root if native.package_name() else script_root,
        srcs = srcs,
        manifest_dir = manifest_dir,
        crate_features = crate_features,
        pkg_env = pkg_env,
        links = links,
        links_deps = links_deps,
        visibility = visibility,
    )
