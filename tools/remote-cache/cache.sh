#!/usr/bin/env bash
# Starts, stops and reports a local BuildGrid REAPI cache for Bazel.
#
#   tools/remote-cache/cache.sh up       start it (or reuse the one already running)
#   tools/remote-cache/cache.sh down     stop the one this script started
#   tools/remote-cache/cache.sh status   say whether it runs and answers
#
# State lives outside the clone so the cache survives between runs:
#   CODEX_REMOTE_CACHE_DIR   (default ~/.cache/codex-remote-cache): cas/, pid, log
#   CODEX_REMOTE_CACHE_ADDR  (default 127.0.0.1:50051)
# Bazel uses it with --config=local-cache (see .bazelrc); a different address is
# passed as --remote_cache=grpc://ADDR.
set -euo pipefail

state=${CODEX_REMOTE_CACHE_DIR:-$HOME/.cache/codex-remote-cache}
addr=${CODEX_REMOTE_CACHE_ADDR:-127.0.0.1:50051}
host=${addr%:*}
port=${addr##*:}
pid_file=$state/bgd.pid
log_file=$state/bgd.log
config=$state/buildgrid.yml
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

say() { printf 'remote-cache: %s\n' "$*" >&2; }

answers() {
  # A TCP connect is enough to know the gRPC server is listening.
  timeout 2 bash -c ": </dev/tcp/$host/$port" 2>/dev/null
}

is_our_bgd() {
  local pid=$1
  [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "bgd.*server start.*$config"
}

running_pid() {
  [[ -f $pid_file ]] || return 1
  local pid
  pid=$(cat "$pid_file")
  if [[ -n $pid ]] && is_our_bgd "$pid"; then
    echo "$pid"
    return 0
  fi
  return 1
}

listener_pid() {
  # Who holds the port (needs ss from iproute2; empty if unknown).
  command -v ss >/dev/null 2>&1 || return 0
  ss -Htlnp "sport = :$port" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1
}

up() {
  mkdir -p "$state/cas"
  if pid=$(running_pid) && answers; then
    say "reusing BuildGrid pid $pid on $addr (storage $state/cas)"
    return 0
  fi
  if pid=$(running_pid); then
    say "BuildGrid pid $pid does not answer on $addr; replacing it"
    kill "$pid" 2>/dev/null || true
    sleep 1
  fi
  if answers; then
    other=$(listener_pid)
    if [[ -n $other ]] && tr '\0' ' ' <"/proc/$other/cmdline" 2>/dev/null | grep -q "bgd.*server start"; then
      say "a stale BuildGrid (pid $other) holds $addr; stopping it so only one serves the port"
      kill "$other"
      for _ in $(seq 50); do answers || break; sleep 0.1; done
    else
      say "error: $addr is already in use by another program (pid ${other:-unknown});"
      say "set CODEX_REMOTE_CACHE_ADDR to a free host:port"
      return 1
    fi
  fi
  command -v bgd >/dev/null 2>&1 || { say "error: bgd (BuildGrid) is not installed; run tools/ci/setup.sh"; return 1; }
  sed -e "s|@ADDRESS@|$addr|" -e "s|@STORAGE@|$state/cas|" "$here/buildgrid.yml.in" >"$config"
  bgd server lint "$config" >/dev/null
  say "starting BuildGrid on $addr (storage $state/cas, log $log_file)"
  setsid nohup bgd server start "$config" >"$log_file" 2>&1 </dev/null &
  echo $! >"$pid_file"
  for _ in $(seq 300); do
    if answers; then
      say "BuildGrid answers on $addr (pid $(cat "$pid_file"))"
      return 0
    fi
    if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
      say "error: BuildGrid exited during start-up; last lines of $log_file:"
      tail -n 20 "$log_file" >&2
      return 1
    fi
    sleep 0.1
  done
  say "error: BuildGrid did not answer on $addr within 30 s; see $log_file"
  return 1
}

down() {
  if pid=$(running_pid); then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$pid_file"
    say "stopped BuildGrid pid $pid"
  else
    say "no BuildGrid started by this script is running"
  fi
}

status() {
  if pid=$(running_pid) && answers; then
    say "BuildGrid pid $pid answers on $addr"
  else
    say "not running (or not answering) on $addr"
    return 1
  fi
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
