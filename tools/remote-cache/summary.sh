# Sourced by prove.sh and relocate.sh: reads Bazel's process summary out of a log.
# shellcheck shell=bash

# Sets `summary`, `hits`, `executed` and `percent` from the last `INFO: N processes: ...`
# line of the log $1 (remote cache hits as a percentage of the actions Bazel executed,
# internal ones left out). Returns 1 when the log has no such line.
# shellcheck disable=SC2034 # summary, hits, executed and percent are its results.
read_process_summary() {
  summary=$(grep -E '^INFO: [0-9]+ processes?' "$1" | tail -n 1 || true)
  [[ -n $summary ]] || return 1
  local total internal
  total=$(sed -E 's/^INFO: ([0-9]+) process.*/\1/' <<<"$summary")
  hits=$(grep -oE '[0-9]+ remote cache hit' <<<"$summary" | grep -oE '^[0-9]+' || echo 0)
  internal=$(grep -oE '[0-9]+ internal' <<<"$summary" | grep -oE '^[0-9]+' || echo 0)
  executed=$((total - internal))
  percent=$((executed > 0 ? hits * 100 / executed : 0))
}
