#!/usr/bin/env bash
# Tests the EXEC_WRAPPER patch (tools/shells/README.md) in both patched shells.
#
# A tiny logging wrapper writes its whole argv to a log file and then runs the command
# (argv[1] as the program, argv[2:] as its argv). Each case runs a `-c` script in each
# patched shell and checks its stdout, exit status and the sorted log lines: external
# commands (simple, in a pipeline, in a subshell, in $(...), in a sourced file, exec,
# nested shells) go through the wrapper as "WRAPPER PATH ARGV0 ARGS..."; builtins and
# functions do not; a missing or non-executable file never reaches it. Every case is
# also run with EXEC_WRAPPER unset (same output, no log), and, when given, in Debian's
# unpatched shells (same output).
#
# Usage:
#   tools/shells/test-exec-wrapper.sh [--bash PATH] [--zsh PATH]
#                                     [--plain-bash PATH] [--plain-zsh PATH]
# Without paths, the shells come from the DotSlash files in codex-rs/exec-server/tests/suite
# (bash-wrapped, zsh-wrapped; bash, zsh for the unpatched ones) through `dotslash -- fetch`.
# The scripts under test are single-quoted on purpose: the shells under test expand them.
# shellcheck disable=SC2016
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly repo_root
readonly suite="$repo_root/codex-rs/exec-server/tests/suite"

die() {
  printf 'test-exec-wrapper: error: %s\n' "$*" >&2
  exit 1
}

declare -A shell_path=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bash | --zsh | --plain-bash | --plain-zsh)
      shell_path[${1#--}]="${2:?$1 needs a path}"
      shift 2
      ;;
    -h | --help)
      sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument '$1'" ;;
  esac
done
[[ -n "${shell_path[bash]:-}" ]] || shell_path[bash]="$(dotslash -- fetch "$suite/bash-wrapped")"
[[ -n "${shell_path[zsh]:-}" ]] || shell_path[zsh]="$(dotslash -- fetch "$suite/zsh-wrapped")"
[[ -n "${shell_path[plain-bash]:-}" ]] || shell_path[plain-bash]="$(dotslash -- fetch "$suite/bash")"
[[ -n "${shell_path[plain-zsh]:-}" ]] || shell_path[plain-zsh]="$(dotslash -- fetch "$suite/zsh")"

T="$(mktemp -d "${TMPDIR:-/tmp}/test-exec-wrapper.XXXXXX")"
# shellcheck disable=SC2064 # expand now
trap "rm -rf '$T'" EXIT
mkdir -p "$T/bin" "$T/bin2"

# The wrapper: logs "argv[0] argv[1] ..." (tab-separated) and runs argv[1] with argv
# argv[2:]. Like execvp(3), it runs a file the kernel refuses with ENOEXEC (a script
# without #!) with /bin/sh.
W="$T/wrapper"
cat >"$W" <<'PY'
#!/usr/bin/env python3
import errno
import os
import sys

with open(os.environ["EXEC_WRAPPER_LOG"], "a", encoding="utf-8") as log:
    log.write("\t".join(sys.argv) + "\n")
path, argv = sys.argv[1], sys.argv[2:]
try:
    os.execv(path, argv)
except OSError as err:
    if err.errno != errno.ENOEXEC:
        sys.exit(f"wrapper: {path}: {err.strerror}")
    os.execv("/bin/sh", ["sh", path] + argv[1:])
PY
chmod 0755 "$W"

printf '#!/bin/sh\necho hello "$@"\n' >"$T/bin/hello"
printf '#!/bin/sh\nexec tr a-z A-Z\n' >"$T/bin/upper"
printf 'echo no shebang\n' >"$T/bin/noshebang"
printf '#!/bin/sh\necho must not run\n' >"$T/bin/noexec"
printf '#!/bin/sh\necho must not run\n' >"$T/bin/dup"
printf '#!/bin/sh\necho dup from bin2\n' >"$T/bin2/dup"
chmod 0755 "$T/bin/hello" "$T/bin/upper" "$T/bin/noshebang" "$T/bin2/dup"
chmod 0644 "$T/bin/noexec" "$T/bin/dup"
printf 'hello sourced\n' >"$T/sourced.sh"

# Joins its arguments with tabs: one expected log line.
argv_line() {
  local IFS=$'\t'
  printf '%s\n' "$*"
}

# Runs script $3 in shell $1 with EXEC_WRAPPER=$2 ("-": unset) and the shell's flags
# $nf (zsh: -f, no startup files); sets out, status, log.
out="" status=0 log="" nf=""
run() {
  local shell="$1" wrapper="$2" script="$3"
  local -a env=(env -i "PATH=$T/bin:$T/bin2:/usr/bin:/bin" "HOME=$T" "T=$T" "SH=$shell"
    "NF=$nf" "EXEC_WRAPPER_LOG=$T/log")
  [[ "$wrapper" == "-" ]] || env+=("EXEC_WRAPPER=$wrapper")
  rm -f "$T/log"
  status=0
  # shellcheck disable=SC2086 # $nf is empty or one word
  out="$(cd "$T" && "${env[@]}" "$shell" $nf -c "$script" 2>"$T/stderr")" || status=$?
  log=""
  if [[ -f "$T/log" ]]; then
    log="$(LC_ALL=C sort "$T/log")"
  fi
}

checks=0
failures=0
fail() {
  failures=$((failures + 1))
  printf 'FAIL %s\n' "$*" >&2
}

# expect LABEL EXPECTED_OUT EXPECTED_STATUS EXPECTED_LOG (sorted lines)
expect() {
  local label="$1" want_out="$2" want_status="$3" want_log="$4"
  checks=$((checks + 1))
  want_log="$(printf '%s' "$want_log" | LC_ALL=C sort)"
  if [[ "$out" != "$want_out" || "$status" != "$want_status" || "$log" != "$want_log" ]]; then
    fail "$label
  stdout: $(printf '%q' "$out") (want $(printf '%q' "$want_out"))
  status: $status (want $want_status)
  log:    $(printf '%q' "$log")
  want:   $(printf '%q' "$want_log")
  stderr: $(cat "$T/stderr")"
  fi
}

for name in bash zsh; do
  S="${shell_path[$name]}"
  P="${shell_path[plain-$name]:-}"
  [[ -x "$S" ]] || die "$name: $S is not an executable file"
  nf=""
  [[ "$name" == zsh ]] && nf="-f"
  H="$T/bin/hello"

  # name | script | stdout | status | log lines with EXEC_WRAPPER set
  cases=(
    "simple command"
    'hello a b'
    'hello a b' 0
    "$(argv_line "$W" "$H" hello a b)"

    "pipeline"
    'hello pipe | upper'
    'HELLO PIPE' 0
    "$(argv_line "$W" "$H" hello pipe; argv_line "$W" "$T/bin/upper" upper)"

    "subshell"
    '(hello sub)'
    'hello sub' 0
    "$(argv_line "$W" "$H" hello sub)"

    "command substitution"
    'x=$(hello cmdsub); echo "got $x"'
    'got hello cmdsub' 0
    "$(argv_line "$W" "$H" hello cmdsub)"

    "sourced script"
    '. "$T/sourced.sh"'
    'hello sourced' 0
    "$(argv_line "$W" "$H" hello sourced)"

    "builtins and functions"
    'echo builtin; printf "%s\n" printf; cd /; pwd; true; [ 1 = 1 ] && echo test
     f() { echo function; }; f; type echo >/dev/null; read -r v <<< read; echo "$v"'
    $'builtin\nprintf\n/\ntest\nfunction\nread' 0
    ""

    "relative path"
    'cd "$T/bin" && ./hello rel'
    'hello rel' 0
    "$(argv_line "$W" ./hello ./hello rel)"

    "exec"
    'exec hello exec'
    'hello exec' 0
    "$(argv_line "$W" "$H" hello exec)"

    "exec -a keeps argv[0]"
    'exec -a custom hello argv0'
    'hello argv0' 0
    "$(argv_line "$W" "$H" custom argv0)"

    "PATH search skips a non-executable file"
    'dup'
    'dup from bin2' 0
    "$(argv_line "$W" "$T/bin2/dup" dup)"

    "non-executable file: 126, wrapper not called"
    'noexec; echo "status $?"'
    'status 126' 0
    ""

    "missing command: 127, wrapper not called"
    'nosuch; echo "status $?"'
    'status 127' 0
    ""

    "nested shell: the wrapper runs the shell, the shell wraps its own commands"
    '"$SH" $NF -c "hello nested"'
    'hello nested' 0
    # shellcheck disable=SC2086 # $nf is empty or one word
    "$(argv_line "$W" "$S" "$S" $nf -c "hello nested"; argv_line "$W" "$H" hello nested)"

    "empty EXEC_WRAPPER in the command's environment: not wrapped"
    'EXEC_WRAPPER= hello off'
    'hello off' 0
    ""

    "script without #! goes to the wrapper too"
    'noshebang'
    'no shebang' 0
    "$(argv_line "$W" "$T/bin/noshebang" noshebang)"
  )

  for ((i = 0; i < ${#cases[@]}; i += 5)); do
    label="${cases[i]}" script="${cases[i + 1]}" want_out="${cases[i + 2]}"
    want_status="${cases[i + 3]}" want_log="${cases[i + 4]}"

    run "$S" "$W" "$script"
    expect "$name: $label" "$want_out" "$want_status" "$want_log"

    run "$S" - "$script"
    expect "$name (EXEC_WRAPPER unset): $label" "$want_out" "$want_status" ""

    if [[ -n "$P" ]]; then
      run "$P" - "$script"
      expect "plain $name: $label" "$want_out" "$want_status" ""
    fi
  done

  # A wrapper that cannot run: the command does not run either (126).
  for bad in /nonexistent/wrapper relative/wrapper; do
    run "$S" "$bad" 'hello x; echo "status $?"'
    expect "$name: EXEC_WRAPPER=$bad" "status 126" 0 ""
    checks=$((checks + 1))
    grep -q "EXEC_WRAPPER" "$T/stderr" || fail "$name: EXEC_WRAPPER=$bad: no error naming EXEC_WRAPPER"
  done

  # With EXEC_WRAPPER unset, the patched shell is the plain one: same version.
  if [[ -n "$P" ]]; then
    checks=$((checks + 1))
    if [[ "$name" == bash ]]; then
      version='echo "$BASH_VERSION"'
    else
      version='echo "$ZSH_VERSION"'
    fi
    run "$S" - "$version"
    patched_version="$out"
    run "$P" - "$version"
    [[ "$patched_version" == "$out" ]] \
      || fail "$name: version $patched_version, plain shell $out"
  fi
done

if [[ $failures -gt 0 ]]; then
  die "$failures of $checks checks failed"
fi
printf 'test-exec-wrapper: all %d checks passed (bash: %s, zsh: %s)\n' \
  "$checks" "${shell_path[bash]}" "${shell_path[zsh]}"
