#!/usr/bin/env bash
# Runs rustc inside a Bazel action.
#
# Bazel actions run in a per-action sandbox directory, so absolute paths are only
# known at run time. The rules write such paths as `${pwd}/...`; this wrapper makes
# them absolute, exports the build script's OUT_DIR and rustc-env values, and appends
# the flags the build script printed (filtered for the kind of crate being built).
#
# usage: rustc_wrapper.sh [--kind lib|bin|test|proc-macro] [--out-dir DIR]
#                         [--env-file F]... [--arg-file F]... -- RUSTC ARGS...
set -euo pipefail

exec_root=$PWD
kind=lib
extra=()

add_arg_line() {
  local line=$1 tag
  [[ -n $line ]] || return 0
  if [[ $line == \[*\]* ]]; then
    # Tagged link args: [bins], [tests] apply to those crates only.
    tag=${line%%]*}
    tag=${tag#[}
    line=${line#*]}
    case "$tag:$kind" in
      bins:bin | tests:test) ;;
      *) return 0 ;;
    esac
  fi
  extra+=("${line//\$\{pwd\}/$exec_root}")
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --kind) kind=$2; shift 2 ;;
    # Under /proc/self/cwd (the action's directory, wherever it is): a crate that embeds
    # env!("OUT_DIR") gets the same bytes in every output base and clone.
    --out-dir) export OUT_DIR="/proc/self/cwd/$2"; shift 2 ;;
    --env-file)
      while IFS= read -r line || [[ -n $line ]]; do
        [[ -n $line ]] && export "${line//\$\{pwd\}/$exec_root}"
      done <"$2"
      shift 2
      ;;
    --arg-file)
      while IFS= read -r line || [[ -n $line ]]; do
        add_arg_line "$line"
      done <"$2"
      shift 2
      ;;
    --) shift; break ;;
    *) echo "rustc_wrapper.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done

rustc=$1
shift
# The action's directory (a sandbox path that changes from run to run and machine to
# machine) is written into debug info as the compilation directory; map it to `.` so
# the outputs are the same bytes in every output base and clone.
exec "$rustc" "$@" ${extra[@]+"${extra[@]}"} "--remap-path-prefix=$exec_root=."
