#!/usr/bin/env bash
# Tests of tools/remote-cache/cache.sh and of Bazel's behaviour without a cache,
# on a private address and state directory (the shared cache is not touched):
#   1. `up` starts BuildGrid and waits until it answers; `up` again reuses it;
#   2. a stale pid file (a process that is gone) is replaced, not trusted;
#   3. with the cache unreachable, a --config=local-cache build still succeeds
#      locally and Bazel prints a warning that names the remote cache;
#   4. `down` stops only the BuildGrid it started.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
state=$(mktemp -d "${TMPDIR:-/tmp}/cache-test.XXXXXX")
export CODEX_REMOTE_CACHE_DIR=$state
export CODEX_REMOTE_CACHE_ADDR=127.0.0.1:50071
cache=tools/remote-cache/cache.sh
trap '$cache down >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
failures=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; failures=$((failures + 1)); }

$cache up 2>/dev/null
first=$(cat "$state/bgd.pid")
$cache up 2>/dev/null
if [[ $(cat "$state/bgd.pid") == "$first" ]] && $cache status 2>/dev/null; then
  pass "up starts BuildGrid, up again reuses the same process ($first)"
else
  fail "reuse of a running BuildGrid"
fi

$cache down 2>/dev/null
echo 999999 >"$state/bgd.pid"
if $cache up 2>/dev/null && [[ $(cat "$state/bgd.pid") != 999999 ]] && $cache status 2>/dev/null; then
  pass "a stale pid file is replaced by a fresh BuildGrid"
else
  fail "stale pid file"
fi

$cache down 2>/dev/null
out=$(bazel build //codex-rs/utils/absolute-path --config=local-cache \
  --remote_cache="grpc://$CODEX_REMOTE_CACHE_ADDR" --noremote_accept_cached 2>&1) && status=0 || status=$?
if [[ $status -eq 0 ]] && grep -qiE 'WARNING: .*remote' <<<"$out"; then
  pass "cache unreachable: the build succeeds locally and Bazel warns: $(grep -iE 'WARNING: .*remote' <<<"$out" | head -n 1 | cut -c1-120)"
else
  fail "build without a reachable cache (status $status)"
  echo "$out" | tail -n 15
fi

$cache up 2>/dev/null
pid=$(cat "$state/bgd.pid")
$cache down 2>/dev/null
if ! kill -0 "$pid" 2>/dev/null && [[ ! -f $state/bgd.pid ]]; then
  pass "down stops the BuildGrid it started"
else
  fail "down"
fi

echo "$((4 - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]
