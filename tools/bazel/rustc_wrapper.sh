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
    --out-dir) export OUT_DIR="$exec_root/$2"; shift 2 ;;
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

for var in CARGO_MANIFEST_DIR CARGO_MANIFEST_PATH; do
  if [[ -n ${!var:-} ]]; then
    export "$var=${!var//\$\{pwd\}/$exec_root}"
  fi
done

rustc=$1
shift
exec "$rustc" "$@" ${extra[@]+"${extra[@]}"}
