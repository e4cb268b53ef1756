#!/usr/bin/env bash
# Runs every test, on a fresh Debian machine with Rust or on a developer's box.
#
# 1. installs what is missing (tools/ci/setup.sh: Bazel 4.2.3, just, BuildGrid,
#    bubblewrap, shellcheck, DotSlash, cargo-nextest), idempotently;
# 2. checks: Bazel lock in sync with Cargo, rustfmt, clippy -D warnings, rustdoc
#    -D warnings, the argument-comment lint, shellcheck, actionlint, and tests of the Bazel rules;
# 3. seeds the pinned bash/zsh test shells into DotSlash's cache (building the
#    EXEC_WRAPPER shells from source when they are not cached yet) and tests the
#    EXEC_WRAPPER shells (tools/shells/test-exec-wrapper.sh);
# 4. cargo nextest over the workspace, then the exec-server examples (just examples);
# 5. bazel test //... twice through a local BuildGrid REAPI cache (cold, then warm
#    after bazel clean) and checks the warm run was served from the cache; then a copy
#    of the tree at another path: its run must hit the cache (>= 95 %), and its own
#    local build must produce byte-identical outputs;
# 6. checks that Cargo and Bazel ran the same number of tests.
#
# Caches live outside the clone (CARGO_TARGET_DIR, ~/.cache/codex-remote-cache),
# so a second run, or CI in a fresh clone, reuses them.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/codex-cargo-target}
export CARGO_TERM_COLOR=never
# The pinned test shells live in DotSlash's cache; Bazel passes this to tests.
export DOTSLASH_CACHE=${DOTSLASH_CACHE:-$HOME/.cache/dotslash}
logs=$(mktemp -d "${TMPDIR:-/tmp}/codex-test-all.XXXXXX")
started=$(date +%s)

step() { printf '\n=== %s (%ds)\n' "$*" "$(($(date +%s) - started))" >&2; }

step "set-up"
tools/ci/setup.sh

step "Bazel view of Cargo.lock in sync (just bazel-lock-check)"
python3 tools/bazel/cargo_bazel_lock.py --check

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "rustdoc -D warnings (broken links, missing docs of public items)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "architecture: forbidden dependency arrows"
python3 tools/lints/check_deps.py

step "argument comments (tools/argument-comment-lint)"
# Its own fixtures hold findings on purpose; its sources and tests do not.
cargo run --quiet --locked -p codex-argument-comment-lint -- codex-rs \
  tools/argument-comment-lint/src tools/argument-comment-lint/tests/suite

step "shellcheck + actionlint + buildifier"
mapfile -t scripts < <(git ls-files '*.sh' .ci/run)
shellcheck "${scripts[@]}"
node tools/ci/actionlint.mjs
# Generated files (tools/bazel/crates/) are left as the generator writes them.
mapfile -t starlark < <(git ls-files '*.bzl' '*.bazel' WORKSPACE 'tools/bazel/stubs/*/BUILD' | grep -v '^tools/bazel/crates/')
buildifier -mode=check -lint=warn "${starlark[@]}"

step "Bazel rule tests (build scripts, bad input)"
tools/bazel/tests/rules_test.sh

step "pinned test shells (DotSlash; builds the EXEC_WRAPPER shells if not cached)"
tools/dotslash/seed-test-shells.sh

step "EXEC_WRAPPER shells (tools/shells/test-exec-wrapper.sh)"
tools/shells/test-exec-wrapper.sh

step "cargo nextest run --workspace"
cargo nextest run --workspace --locked --no-fail-fast 2>&1 | tee "$logs/nextest.log"

step "exec-server examples (just examples)"
just examples

step "remote-cache script and cache-down behaviour"
tools/remote-cache/cache_test.sh

step "bazel test //... through the local remote cache (cold, clean, warm)"
tools/remote-cache/prove.sh

step "relocated: a copy at another path hits the cache and rebuilds the same bytes"
tools/remote-cache/relocate.sh

step "same tests under Cargo and Bazel"
tools/ci/count-tests.sh "$logs/nextest.log" | tee "$logs/count-tests.log"

step "done"
# count-tests.sh is the one reader of nextest's summary; this is its last line.
passed=$(sed -nE 's/^count-tests: both builds ran the same ([0-9]+) tests$/\1/p' "$logs/count-tests.log")
echo "all checks passed in $(($(date +%s) - started)) s; logs in $logs"
echo "$passed passed, 0 failed"
