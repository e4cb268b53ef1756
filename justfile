# Common tasks. `just --list` shows them all.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Bazel tests find the pinned test shells through DotSlash's cache.
export DOTSLASH_CACHE := env_var_or_default("DOTSLASH_CACHE", env_var("HOME") + "/.cache/dotslash")

# List the recipes.
default:
    @just --list

# Run the exec-server on loopback (prints its URL first).
exec-server *args="--listen ws://127.0.0.1:0":
    cargo build --release -p codex-exec-server
    cargo run --release -p codex-exec-server -- {{args}}

# Every test and check, with set-up (what CI runs).
ci:
    tools/ci/test-all.sh

# Cargo tests over the workspace (cargo-nextest).
test *args:
    cargo nextest run --workspace {{args}}

# Run every exec-server example (codex-rs/exec-server/examples/); each must exit 0.
examples:
    cargo build --quiet --locked -p codex-exec-server --examples
    for example in codex-rs/exec-server/examples/*.rs; do \
        name=$(basename "$example" .rs); \
        echo "--- example $name"; \
        cargo run --quiet --locked -p codex-exec-server --example "$name" </dev/null; \
    done

# Bazel tests, local.
bazel-test *args:
    bazel test //... --keep_going {{args}}

# Bazel tests with BuildBuddy cache + remote execution (needs an API key in user.bazelrc).
bazel-remote-test *args:
    bazel test //... --keep_going --config=remote {{args}}

# Bazel tests through the local BuildGrid cache (starts it if needed).
bazel-cache-test *args: remote-cache-up
    bazel test //... --keep_going --config=local-cache {{args}}

# Prove the remote-cache path: cold run, bazel clean, warm run served from the cache.
bazel-cache-proof:
    tools/remote-cache/prove.sh

# Start the local BuildGrid REAPI cache (reuses a running one).
remote-cache-up:
    tools/remote-cache/cache.sh up

# Stop the local BuildGrid cache started by remote-cache-up.
remote-cache-down:
    tools/remote-cache/cache.sh down

# Format Rust (and BUILD files when buildifier is installed).
fmt:
    cargo fmt --all
    git ls-files '*.bzl' '*.bazel' WORKSPACE | grep -v '^tools/bazel/crates/' | xargs buildifier -lint=fix

# Bare true/false/None/number arguments need a /*param*/ comment (tools/argument-comment-lint).
lint *args="codex-rs tools/argument-comment-lint/src tools/argument-comment-lint/tests/suite":
    cargo run --quiet -p codex-argument-comment-lint -- {{args}}

# Apply clippy's suggestions.
fix *args:
    cargo clippy --fix --workspace --all-targets --allow-dirty --allow-staged {{args}}

# Clippy with warnings as errors.
clippy:
    cargo clippy --workspace --all-targets -- -D warnings

# Regenerate the Bazel view of Cargo.toml/Cargo.lock (tools/bazel/crates/).
bazel-lock-update:
    python3 tools/bazel/cargo_bazel_lock.py

# Fail if tools/bazel/crates/ is stale.
bazel-lock-check:
    python3 tools/bazel/cargo_bazel_lock.py --check

# How many tests Cargo and Bazel each ran (they must match).
test-counts:
    cargo nextest run --workspace 2>&1 | tee /tmp/codex-nextest.log
    bazel test //... --keep_going
    tools/ci/count-tests.sh /tmp/codex-nextest.log

# Build cold with Cargo and with Bazel, same machine, and print the ratio.
bench-build:
    tools/ci/bench-build.sh

# All benchmarks.
bench: bench-exec-server bench-apply-patch bench-shell-escalation bench-build

# exec-server latency, throughput and memory against a local baseline.
bench-exec-server:
    cargo bench -p codex-exec-server --bench exec_server

# What codex-execve-wrapper adds per exec: alone, and in a loop of the patched bash.
bench-shell-escalation:
    cargo bench -p codex-shell-escalation --bench wrapper_overhead

# apply_patch of a 2,000-hunk patch, local and through exec-server, against `git apply`.
bench-apply-patch:
    cargo bench -p codex-apply-patch --bench apply_patch

# Seed DotSlash's cache with the pinned test shells (offline).
seed-test-shells:
    tools/dotslash/seed-test-shells.sh
