#!/usr/bin/env bash
# Times, on this machine in one run:
#   cold `cargo test --workspace --all-targets` (empty target dir; crates already downloaded)
#   cold `bazel test //...` (after bazel clean; no remote cache; repositories fetched)
#   no-op `bazel test //...` (nothing changed since the previous run)
# and prints bazel ÷ cargo (goal <= 1.5) and the no-op time (goal <= 3 s).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
now() { date +%s.%N; }
elapsed() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }

target=$(mktemp -d "${TMPDIR:-/tmp}/bench-build-target.XXXXXX")
trap 'rm -rf "$target"' EXIT
cargo fetch --locked >/dev/null
bazel fetch //... >/dev/null 2>&1

start=$(now)
CARGO_TARGET_DIR=$target cargo test --workspace --all-targets --locked -q >/dev/null 2>&1
cargo_cold=$(elapsed "$start")

bazel clean >/dev/null 2>&1
start=$(now)
bazel test //... --noremote_accept_cached >/dev/null 2>&1
bazel_cold=$(elapsed "$start")

start=$(now)
bazel test //... >/dev/null 2>&1
bazel_noop=$(elapsed "$start")

echo "cold cargo test --workspace: ${cargo_cold} s"
echo "cold bazel test //...:       ${bazel_cold} s"
echo "bazel / cargo (cold):        $(awk -v b="$bazel_cold" -v c="$cargo_cold" 'BEGIN { printf "%.2f", b / c }') (goal <= 1.5)"
echo "no-op bazel test //...:      ${bazel_noop} s (goal <= 3)"
