#!/usr/bin/env bash
# Tests of the Rust rules themselves, each in a throw-away Bazel workspace:
#   1. a build script's environment and `cargo:` directives reach the crate
#      (cfg, env, OUT_DIR, link search, features, CARGO_CFG_*, DEP_* via links);
#   2. a failing build script is reported with the crate, its build.rs and output;
#   3. no rustc: the toolchain rule says what to install;
#   4. a stale Bazel view of Cargo.lock is refused, naming the changed file;
#   5. a BUILD.bazel for a folder that is not a workspace member is refused;
#   6. a crate type the rules do not support is refused by the lock generator;
#   7. editing a crate's README, a test or a fixture runs no action of its library;
#   8. the lock generator names a host and a target copy of a crate apart when they have
#      the same features but different dependencies (no Bazel: a made-up unit graph).
# usage: tools/bazel/tests/rules_test.sh
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/rules-test.XXXXXX")
user_root=$scratch/bazel-root
cleanup() {
  local b
  for b in "$scratch"/ws*/; do
    (cd "$b" && bazel --output_user_root="$user_root" shutdown >/dev/null 2>&1) || true
  done
  rm -rf "$scratch"
}
trap cleanup EXIT
failures=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; failures=$((failures + 1)); }

new_workspace() {
  local ws=$scratch/$1
  mkdir -p "$ws/tools/bazel/stubs"
  cp "$repo"/tools/bazel/{rust.bzl,repositories.bzl,crate.bzl,rustc_wrapper.sh,build_script_runner.sh,BUILD.bazel} "$ws/tools/bazel/"
  cp -r "$repo/tools/bazel/stubs/remote_coverage_tools" "$ws/tools/bazel/stubs/"
  cat >"$ws/WORKSPACE" <<'WS'
workspace(name = "rules_test")

load("//tools/bazel:repositories.bzl", "rust_host_repository")

rust_host_repository(name = "rust_host")

local_repository(
    name = "remote_coverage_tools",
    path = "tools/bazel/stubs/remote_coverage_tools",
)
WS
  printf 'build --nosandbox_debug\n' >"$ws/.bazelrc"
  echo "$ws"
}

bz() { bazel --output_user_root="$user_root" "$@"; }

# --- 1. build script environment and directives ---------------------------------
ws=$(new_workspace ws1)
mkdir -p "$ws/demo/src" "$ws/sys/src"
cat >"$ws/sys/build.rs" <<'RS'
fn main() {
    // A `links` crate publishing metadata for its dependents' build scripts.
    println!("cargo::metadata=include=/opt/sys/include");
    println!("cargo:rustc-link-search=native={}", std::env::var("OUT_DIR").unwrap());
}
RS
echo 'pub fn sys() -> u32 { 7 }' >"$ws/sys/src/lib.rs"
cat >"$ws/demo/build.rs" <<'RS'
use std::path::Path;
fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    assert!(Path::new(&out).is_absolute(), "OUT_DIR must be absolute: {out}");
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    assert_eq!(std::env::current_dir().unwrap(), Path::new(&manifest), "cwd is the manifest dir");
    assert!(Path::new(&manifest).join("build.rs").exists());
    std::fs::write(Path::new(&out).join("gen.rs"), "pub const GENERATED: &str = \"from OUT_DIR\";").unwrap();
    let rustc = std::env::var("RUSTC").unwrap();
    let version = std::process::Command::new(&rustc).arg("--version").output().unwrap();
    assert!(version.status.success(), "RUSTC runs from the script's cwd");
    println!("cargo:rustc-cfg=has_foo");
    println!("cargo::rustc-check-cfg=cfg(has_foo)");
    println!("cargo:rustc-env=GEN_ENV=hello");
    println!("cargo:rustc-env=GEN_TARGET_OS={}", std::env::var("CARGO_CFG_TARGET_OS").unwrap());
    println!("cargo:rustc-env=GEN_FEATURE={}", std::env::var("CARGO_FEATURE_FANCY").unwrap_or_default());
    println!("cargo:rustc-env=GEN_DEP={}", std::env::var("DEP_SYS_INCLUDE").unwrap_or_default());
    println!("cargo:rustc-env=GEN_PATCH={}", std::env::var("CARGO_PKG_VERSION_PATCH").unwrap());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:warning=hello from build.rs");
}
RS
cat >"$ws/demo/src/lib.rs" <<'RS'
include!(concat!(env!("OUT_DIR"), "/gen.rs"));
#[cfg(has_foo)]
pub fn foo() -> &'static str { "has_foo" }
pub fn facts() -> [&'static str; 6] {
    [GENERATED, env!("GEN_ENV"), env!("GEN_TARGET_OS"), env!("GEN_FEATURE"), env!("GEN_DEP"), env!("GEN_PATCH")]
}
#[cfg(test)]
mod tests {
    #[test]
    fn build_script_output_reaches_the_crate() {
        assert_eq!(super::foo(), "has_foo");
        assert_eq!(super::facts(), ["from OUT_DIR", "hello", std::env::consts::OS, "1", "/opt/sys/include", "3"]);
        assert_eq!(sys::sys(), 7);
    }
}
RS
cat >"$ws/demo/BUILD.bazel" <<'BZ'
load("//tools/bazel:rust.bzl", "cargo_build_script", "rust_library", "rust_test")

PKG = {"CARGO_PKG_NAME": "demo", "CARGO_PKG_VERSION": "0.2.3", "CARGO_PKG_VERSION_PATCH": "3"}

cargo_build_script(
    name = "sys-build-script",
    script_root = "sys/build.rs",
    srcs = glob(["sys/**"]),
    manifest_dir = "sys",
    links = "sys",
    pkg_env = {"CARGO_PKG_NAME": "sys", "CARGO_PKG_VERSION": "1.0.0"},
)

rust_library(
    name = "sys",
    srcs = glob(["sys/**"]),
    crate_root = "sys/src/lib.rs",
    build_script = ":sys-build-script",
)

cargo_build_script(
    name = "demo-build-script",
    script_root = "build.rs",
    srcs = glob(["**"]),
    crate_features = ["fancy"],
    links_deps = [":sys-build-script"],
    pkg_env = PKG,
)

rust_test(
    name = "demo-test",
    srcs = glob(["**"]),
    crate_root = "src/lib.rs",
    crate_name = "demo",
    crate_features = ["fancy"],
    deps = [":sys"],
    build_script = ":demo-build-script",
    pkg_env = PKG,
)
BZ
mv "$ws/sys" "$ws/demo/sys"
if out=$(cd "$ws" && bz test //demo:demo-test --test_output=errors 2>&1); then
  if grep -q "warning: demo 0.2.3: hello from build.rs" <<<"$out"; then
    pass "build script env and directives reach the crate"
  else
    fail "build script warning was not shown"; echo "$out" | tail -20
  fi
else
  fail "build script env and directives"; echo "$out" | tail -40
fi

# --- 2. a failing build script -----------------------------------------------------
cat >"$ws/demo/build.rs" <<'RS'
fn main() {
    println!("probing for libfoo");
    eprintln!("libfoo.so not found; install libfoo-dev");
    std::process::exit(3);
}
RS
out=$(cd "$ws" && bz build //demo:demo-test 2>&1) && status=0 || status=$?
if [[ $status -ne 0 ]] &&
  grep -qF "the build script of crate \`demo 0.2.3\` (demo/build.rs) failed with exit status 3" <<<"$out" &&
  grep -q 'libfoo.so not found; install libfoo-dev' <<<"$out"; then
  pass "a failing build script names the crate, its build.rs and its output"
else
  fail "failing build script message"; echo "$out" | tail -30
fi

# --- 3. no rustc ---------------------------------------------------------------------
ws=$(new_workspace ws3)
echo 'filegroup(name = "x", srcs = ["@rust_host//:rustc"])' >"$ws/BUILD.bazel"
out=$(cd "$ws" && env -i HOME="$scratch/nohome" PATH=/usr/bin:/bin RUSTC= \
  bazel --output_user_root="$user_root" build //:x 2>&1) && status=0 || status=$?
if [[ $status -ne 0 ]] && grep -q "error: no rustc found for the Bazel Rust rules" <<<"$out" &&
  grep -q "RUSTC=/absolute/path/to/rustc" <<<"$out"; then
  pass "no rustc: a clear message says what to install"
else
  fail "missing rustc message"; echo "$out" | tail -20
fi

# --- 4 and 5. the real workspace: stale lock, crate without a workspace entry ----------
ws=$scratch/ws4
mkdir -p "$ws"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$ws")
printf '\n# a change the Bazel view does not know about\n' >>"$ws/codex-rs/utils/absolute-path/Cargo.toml"
out=$(cd "$ws" && bz build //codex-rs/utils/absolute-path 2>&1) && status=0 || status=$?
if [[ $status -ne 0 ]] && grep -q "codex-rs/utils/absolute-path/Cargo.toml changed" <<<"$out" &&
  grep -q "Run \`just bazel-lock-update\`" <<<"$out"; then
  pass "a stale lock names the changed Cargo.toml and the command to run"
else
  fail "stale lock message"; echo "$out" | tail -20
fi
mkdir -p "$ws/codex-rs/stray"
printf 'load("//tools/bazel:crate.bzl", "codex_rust_crate")\n\ncodex_rust_crate(name = "stray")\n' >"$ws/codex-rs/stray/BUILD.bazel"
out=$(cd "$ws" && bz build //codex-rs/stray/... 2>&1) && status=0 || status=$?
if [[ $status -ne 0 ]] && grep -q "codex-rs/stray/BUILD.bazel: no workspace crate is recorded for this package" <<<"$out"; then
  pass "a BUILD.bazel outside the Cargo workspace is refused with what to do"
else
  fail "stray crate message"; echo "$out" | tail -20
fi

# --- 7. a README, a test or a fixture is not an input of the library -------------------
cp "$repo/codex-rs/utils/absolute-path/Cargo.toml" "$ws/codex-rs/utils/absolute-path/"
lib=//codex-rs/utils/absolute-path:absolute-path
# How many actions (spawns) `bazel build "$@"` executed.
actions() {
  local log=$scratch/exec.json
  rm -f "$log"
  (cd "$ws" && bz build "$@" --execution_log_json_file="$log" >"$scratch/build.out" 2>&1) || {
    tail -20 "$scratch/build.out"
    return 1
  }
  grep -c '"commandArgs"' "$log" || true
}
crate=$ws/codex-rs/utils/absolute-path
if actions "$lib" >/dev/null; then
  printf '# absolute-path\n' >"$crate/README.md"
  printf '\n// a change to a test\n' >>"$crate/tests/suite/mod.rs"
  mkdir -p "$crate/tests/fixtures" && echo data >"$crate/tests/fixtures/new.txt"
  unrelated=$(actions "$lib")
  printf '\n// a change to the library\n' >>"$crate/src/lib.rs"
  related=$(actions "$lib")
  if [[ $unrelated == 0 && $related -ge 1 ]]; then
    pass "editing a README, a test or a fixture runs no library action ($unrelated; a source edit: $related)"
  else
    fail "library actions after a README/test edit: $unrelated (after a source edit: $related)"
  fi
else
  fail "building $lib in the copy"
fi

# --- 6. a crate type the rules do not support ------------------------------------------
git -C "$repo" show HEAD:codex-rs/utils/absolute-path/Cargo.toml >"$ws/codex-rs/utils/absolute-path/Cargo.toml"
printf '\n[lib]\ncrate-type = ["cdylib"]\n' >>"$ws/codex-rs/utils/absolute-path/Cargo.toml"
out=$(cd "$ws" && python3 tools/bazel/cargo_bazel_lock.py --root "$ws" 2>&1) && status=0 || status=$?
if [[ $status -ne 0 ]] && grep -q "codex-rs/utils/absolute-path/Cargo.toml: crate-type \['cdylib'\] is not supported" <<<"$out"; then
  pass "an unsupported crate type names the Cargo.toml and what to do"
else
  fail "unsupported crate type message"; echo "$out" | tail -10
fi

# --- 8. host and target copies with the same features, different dependencies --------
out=$(python3 - "$repo/tools/bazel" <<'PY' 2>&1
import sys
from pathlib import Path

sys.path.insert(0, sys.argv[1])
import cargo_bazel_lock as lock

packages = [
    {"id": f"{name}#1.0.0", "name": name, "version": "1.0.0", "manifest_path": f"/v/{name}/Cargo.toml"}
    for name in ["memchr", "aho-corasick", "cfg-if"]
]


def unit(name, features, on_target, deps=()):
    return {
        "pkg_id": f"{name}#1.0.0",
        "mode": "build",
        "target": {"kind": ["lib"], "name": name, "src_path": f"/v/{name}/src/lib.rs", "edition": "2021"},
        "features": features,
        "platform": "x86_64-unknown-linux-gnu" if on_target else None,
        "dependencies": [{"index": i, "extern_crate_name": "dep"} for i in deps],
    }


units = [
    unit("memchr", ["alloc", "default", "std"], True),
    unit("memchr", ["alloc", "std"], False),
    unit("aho-corasick", ["std"], True, [0, 4]),
    unit("aho-corasick", ["std"], False, [1, 5]),
    unit("cfg-if", [], True),
    unit("cfg-if", [], False),
]
graph = lock.Graph(Path("/"), {"packages": packages, "workspace_members": []}, {"units": units})
print(" ".join(graph.labels[i].split(":")[1] for i in range(len(units))))
PY
)
expected="memchr-1.0.0 memchr-1.0.0-host aho-corasick-1.0.0 aho-corasick-1.0.0-host cfg-if-1.0.0 cfg-if-1.0.0"
if [[ $out == "$expected" ]]; then
  pass "host and target copies that differ only in their dependencies get two names; equal ones share one"
else
  fail "host/target copy names: got '$out', want '$expected'"
fi

echo "$((8 - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]
