#!/usr/bin/env bash
# Proves that `bazel test //...` is served from a remote (REAPI) cache.
#
# 1. cold:  bazel clean, then bazel test //... uploading every result to the cache, but not reading
#           from it (--noremote_accept_cached), so this is a real local build;
# 2. bazel clean (drops every local output; fetched repositories stay);
# 3. warm:  bazel test //... again, now reading from the cache.
# Then it reads Bazel's own process summary of the warm run and fails unless at
# least 90 % of the executed actions were remote cache hits and every test passed.
# It prints the hit ratio and warm ÷ cold time.
#
# usage: tools/remote-cache/prove.sh [extra bazel args...]
# env:   CODEX_REMOTE_CACHE_ADDR (default 127.0.0.1:50051)
#        BAZEL_TARGETS (default //...)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
addr=${CODEX_REMOTE_CACHE_ADDR:-127.0.0.1:50051}
min_hit_percent=90
logs=$(mktemp -d "${TMPDIR:-/tmp}/remote-cache-proof.XXXXXX")

say() { printf 'remote-cache proof: %s\n' "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'; }

run_bazel() {
  local log=$1
  shift
  local status=0
  # shellcheck disable=SC2086 # BAZEL_TARGETS is a list of patterns.
  bazel test ${BAZEL_TARGETS:-//...} --config=ci --config=local-cache --remote_cache="grpc://$addr" "$@" 2>&1 | tee "$log" || status=${PIPESTATUS[0]}
  return "$status"
}

tools/remote-cache/cache.sh up

say "cold run (from bazel clean; results uploaded, cache not read)"
bazel clean
start=$(now)
run_bazel "$logs/cold.log" --noremote_accept_cached "$@" || { say "error: the cold run failed (log: $logs/cold.log)"; exit 1; }
cold=$(elapsed "$start")

bazel clean

say "warm run (after bazel clean, served from the cache)"
start=$(now)
warm_status=0
# --nofetch: the warm run must not need the network for repositories either (actions
# never get it: .bazelrc sets --sandbox_default_allow_network=false).
run_bazel "$logs/warm.log" --nofetch "$@" || warm_status=$?
warm=$(elapsed "$start")

# shellcheck source=tools/remote-cache/summary.sh
source "$root/tools/remote-cache/summary.sh"
if ! read_process_summary "$logs/warm.log"; then
  say "error: no process summary in the warm run's output (log: $logs/warm.log)"
  exit 1
fi
ratio=$(awk -v w="$warm" -v c="$cold" 'BEGIN { printf "%.3f", w / c }')

say "warm run: $summary"
say "remote cache hits: $hits of $executed executed actions ($percent %; goal >= $min_hit_percent %)"
say "time: cold $cold s, warm $warm s, warm / cold = $ratio (goal <= 0.25)"

problems=()
if grep -qiE 'WARNING: .*(remote cache|Remote Cache|UNAVAILABLE|DEADLINE_EXCEEDED|connection refused)' "$logs/warm.log" "$logs/cold.log"; then
  problems+=("Bazel warned about the remote cache (it fell back to local work):")
  while IFS= read -r line; do problems+=("    $line"); done < <(grep -hiE 'WARNING: .*(remote cache|Remote Cache|UNAVAILABLE|DEADLINE_EXCEEDED|connection refused)' "$logs/cold.log" "$logs/warm.log" | sort -u | head -n 5)
fi
if [[ $percent -lt $min_hit_percent ]]; then
  problems+=("only $percent % of actions were cache hits. Is BuildGrid up ($addr, tools/remote-cache/cache.sh status)? Did the cold run upload (--remote_upload_local_results)? Are actions non-deterministic (a timestamp or sandbox path in an output)?")
fi
if [[ $warm_status -ne 0 ]]; then
  problems+=("the warm run failed with exit status $warm_status")
fi
if ! grep -qE 'Executed [0-9]+ out of [0-9]+ tests?: [0-9]+ tests? pass\.' "$logs/warm.log"; then
  problems+=("not every test passed in the warm run")
fi
if [[ ${#problems[@]} -gt 0 ]]; then
  say "FAILED (logs: $logs):"
  for p in "${problems[@]}"; do say "  $p"; done
  exit 1
fi
say "OK: the warm run was served from the remote cache (logs: $logs)"
