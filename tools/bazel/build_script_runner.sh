#!/usr/bin/env bash
# Runs a compiled Cargo build script (build.rs) as a Bazel action.
#
# The action env already holds what does not depend on the sandbox path
# (CARGO_PKG_*, CARGO_FEATURE_*, CARGO_CFG_*, TARGET, HOST, PROFILE, ...); this
# script adds the absolute paths (OUT_DIR, CARGO_MANIFEST_DIR, RUSTC), runs the
# script from the manifest directory like Cargo does, and turns its `cargo:` /
# `cargo::` lines into files the crate's rustc action reads:
#   rustc-cfg, rustc-link-lib, rustc-flags       -> --flags (this crate only)
#   rustc-link-arg[-bins|-tests|...], rustc-cdylib-link-arg
#                                                -> --flags, tagged by target kind
#   rustc-link-search                            -> --link-search (dependents too)
#   rustc-env                                    -> --env-out
#   metadata=K=V (and legacy unknown keys)       -> --dep-env as DEP_<LINKS>_<K>=V
#   warning                                      -> printed; error -> fails
#   rerun-if-*, rustc-check-cfg                  -> ignored (Bazel tracks inputs)
# Absolute sandbox paths in values are stored as ${pwd} so outputs are relocatable.
set -euo pipefail

exec_root=$PWD
crate="" script="" script_src="" out_dir="" flags="" env_out="" link_search="" dep_env="" links=""
dep_env_in=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --crate) crate=$2 ;;
    --script) script=$2 ;;
    --script-src) script_src=$2 ;;
    --out-dir) out_dir=$2 ;;
    --flags) flags=$2 ;;
    --env-out) env_out=$2 ;;
    --link-search) link_search=$2 ;;
    --dep-env) dep_env=$2 ;;
    --links) links=$2 ;;
    --dep-env-in) dep_env_in+=("$2") ;;
    *) echo "build_script_runner.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift 2
done

upper() { printf '%s' "$1" | tr '[:lower:]-' '[:upper:]_'; }

export OUT_DIR="$exec_root/$out_dir"
mkdir -p "$OUT_DIR"
# Written `${pwd}/...` by the rules (as for rustc_wrapper.sh): made absolute here.
export CARGO_MANIFEST_DIR="${CARGO_MANIFEST_DIR//\$\{pwd\}/$exec_root}"
export CARGO_MANIFEST_PATH="${CARGO_MANIFEST_PATH//\$\{pwd\}/$exec_root}"
export RUSTC="$exec_root/$RUSTC"
# C and C++ a build script compiles (cc-rs honours these): the action's directory, a
# sandbox path that changes from run to run, becomes `.` in debug info and `__FILE__`,
# so the objects are the same bytes in every output base and clone.
export CFLAGS="-ffile-prefix-map=$exec_root=."
export CXXFLAGS="-ffile-prefix-map=$exec_root=."
for file in ${dep_env_in[@]+"${dep_env_in[@]}"}; do
  while IFS= read -r line || [[ -n $line ]]; do
    [[ -n $line ]] && export "${line//\$\{pwd\}/$exec_root}"
  done <"$file"
done

stdout_file="$exec_root/$flags.stdout"
stderr_file="$exec_root/$flags.stderr"
status=0
(cd "$CARGO_MANIFEST_DIR" && "$exec_root/$script") >"$stdout_file" 2>"$stderr_file" || status=$?
if [[ $status -ne 0 ]]; then
  {
    echo "error: the build script of crate \`$crate\` ($script_src) failed with exit status $status."
    echo "--- its stdout ---"
    tail -n 50 "$stdout_file"
    echo "--- its stderr ---"
    tail -n 50 "$stderr_file"
    echo "---"
    echo "It ran as a Bazel action: only the crate's own files are visible, the network is"
    echo "off, and it may write only to OUT_DIR. If it needs a tool or library, install it"
    echo "(apt-get) or patch the crate; see tools/bazel/README.md."
  } >&2
  exit 1
fi

: >"$exec_root/$flags"
: >"$exec_root/$env_out"
: >"$exec_root/$link_search"
: >"$exec_root/$dep_env"
errors=0
while IFS= read -r line || [[ -n $line ]]; do
  case $line in
    cargo::*) body=${line#cargo::} ;;
    cargo:*) body=${line#cargo:} ;;
    *) continue ;;
  esac
  key=${body%%=*}
  value=""
  [[ $body == *=* ]] && value=${body#*=}
  value=${value//$exec_root/\$\{pwd\}}
  case $key in
    rustc-cfg) echo "--cfg=$value" >>"$exec_root/$flags" ;;
    rustc-link-lib) echo "-l$value" >>"$exec_root/$flags" ;;
    rustc-link-search) echo "-L$value" >>"$exec_root/$link_search" ;;
    rustc-flags)
      read -r -a words <<<"$value"
      i=0
      while [[ $i -lt ${#words[@]} ]]; do
        word=${words[$i]}
        case $word in
          -l | -L) i=$((i + 1)); word="$word${words[$i]:-}" ;;
        esac
        case $word in
          -l*) echo "$word" >>"$exec_root/$flags" ;;
          -L*) echo "$word" >>"$exec_root/$link_search" ;;
          *) echo "error: $crate: cargo:rustc-flags only allows -l and -L, got '$word'" >&2; errors=1 ;;
        esac
        i=$((i + 1))
      done
      ;;
    rustc-link-arg) echo "-Clink-arg=$value" >>"$exec_root/$flags" ;;
    rustc-link-arg-bins) echo "[bins]-Clink-arg=$value" >>"$exec_root/$flags" ;;
    rustc-link-arg-bin) echo "[bins]-Clink-arg=${value#*=}" >>"$exec_root/$flags" ;;
    rustc-link-arg-tests) echo "[tests]-Clink-arg=$value" >>"$exec_root/$flags" ;;
    rustc-link-arg-examples | rustc-link-arg-benches) ;;
    # The rules build no cdylib (the lock generator refuses that crate type).
    rustc-cdylib-link-arg) ;;
    rustc-env) echo "$value" >>"$exec_root/$env_out" ;;
    warning) echo "warning: $crate: $value" >&2 ;;
    error) echo "error: $crate: $value" >&2; errors=1 ;;
    rerun-if-changed | rerun-if-env-changed | rustc-check-cfg) ;;
    metadata)
      if [[ -n $links ]]; then
        echo "DEP_$(upper "$links")_$(upper "${value%%=*}")=${value#*=}" >>"$exec_root/$dep_env"
      fi
      ;;
    *)
      # Legacy `cargo:KEY=VALUE` metadata, only meaningful with `links`.
      if [[ -n $links && $line != cargo::* ]]; then
        echo "DEP_$(upper "$links")_$(upper "$key")=$value" >>"$exec_root/$dep_env"
      fi
      ;;
  esac
done <"$stdout_file"

if [[ $errors -ne 0 ]]; then
  echo "error: the build script of crate \`$crate\` ($script_src) reported errors (above)." >&2
  exit 1
fi

# Files that embed the sandbox path would make the output differ per run.
find "$OUT_DIR" \( -name '*.d' -o -name '*.pc' \) -type f -delete
