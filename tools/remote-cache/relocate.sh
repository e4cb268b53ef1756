#!/usr/bin/env bash
# Proves that Bazel's cache keys and outputs do not depend on where the repository is
# (run it after prove.sh, which leaves this tree's outputs in bazel-bin and its results in
# the cache):
#
# 1. copies the working tree to another path (with its own output base there);
# 2. relocated run: bazel test //... in the copy through the same remote cache, reading
#    only; at least 95 % of the executed actions must be cache hits (keys that contain a
#    path, a user name or a cache directory would miss);
# 3. reproducible build: bazel clean in the copy, then bazel build //... there with no
#    cache at all, a real local build; every rlib, proc-macro, binary and build-script
#    output must be byte-identical to this tree's bazel-bin.
#
# usage: tools/remote-cache/relocate.sh
# env:   CODEX_REMOTE_CACHE_ADDR (default 127.0.0.1:50051)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
addr=${CODEX_REMOTE_CACHE_ADDR:-127.0.0.1:50051}
min_hit_percent=95
scratch=$(mktemp -d "${TMPDIR:-/tmp}/codex-relocated.XXXXXX")
copy=$scratch/elsewhere/codex
logs=$scratch/logs
mkdir -p "$copy" "$logs"
cleanup() {
  # The copy's output base (about 3 GB) goes with it: a path used once is never reused.
  (cd "$copy" && bazel clean --expunge >/dev/null 2>&1) || true
  rm -rf "$copy"
}
trap cleanup EXIT

say() { printf 'relocation proof: %s\n' "$*" >&2; }
# shellcheck source=tools/remote-cache/summary.sh
source "$root/tools/remote-cache/summary.sh"

if [[ ! -d bazel-bin/codex-rs ]]; then
  say "error: no outputs in $root/bazel-bin; run tools/remote-cache/prove.sh first"
  exit 1
fi

say "copying the working tree to $copy"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' file; do
  [[ -e $file ]] && printf '%s\0' "$file"
done | xargs -0 cp --parents -t "$copy"

say "relocated run: bazel test //... in the copy, reading the remote cache"
status=0
(cd "$copy" && bazel test //... --config=ci --config=local-cache --remote_cache="grpc://$addr" \
  --noremote_upload_local_results) >"$logs/relocated.log" 2>&1 || status=$?
if [[ $status -ne 0 ]]; then
  tail -n 30 "$logs/relocated.log" >&2
  say "FAILED: the relocated run failed (log: $logs/relocated.log)"
  exit 1
fi
if ! read_process_summary "$logs/relocated.log"; then
  say "error: no process summary in the relocated run's output (log: $logs/relocated.log)"
  exit 1
fi
say "relocated run: $summary"
say "remote cache hits: $hits of $executed executed actions ($percent %; goal >= $min_hit_percent %)"
if [[ $percent -lt $min_hit_percent ]]; then
  say "FAILED: an action key depends on where the tree is (diff the execution logs of two runs with --execution_log_json_file to find it)"
  exit 1
fi

say "reproducible build: bazel clean, then bazel build //... in the copy with no cache"
status=0
(cd "$copy" && bazel clean && bazel build //... --config=ci) >"$logs/local.log" 2>&1 || status=$?
if [[ $status -ne 0 ]]; then
  tail -n 30 "$logs/local.log" >&2
  say "FAILED: the local build in the copy failed (log: $logs/local.log)"
  exit 1
fi
python3 "$root/tools/remote-cache/compare_outputs.py" "$root/bazel-bin" "$copy/bazel-bin"
