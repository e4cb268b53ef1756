#!/usr/bin/env bash
# Builds the EXEC_WRAPPER shells: Debian's bash and zsh, from their pinned Debian
# source packages, with the small patches beside this script (tools/shells/README.md),
# statically linked and stripped, reproducibly: the same bytes whatever directory they
# are built in and whenever they are built, on the same Debian release and toolchain.
#
# Usage:
#   tools/shells/build-patched-shells.sh [--out DIR] [--work DIR] [SHELL...]
#       build SHELL (bash, zsh; default both) and copy it to DIR/SHELL (default
#       /var/tmp/codex-shell-build/out); prints "SHELL SIZE SHA256 PATH" per shell
#   tools/shells/build-patched-shells.sh --prove [SHELL...]
#       build every SHELL twice, in two different directories, print both digests and
#       fail unless they are identical
#   tools/shells/build-patched-shells.sh --print-toolchain
#       print the versions of the packages that go into the binaries
#
# Needs a Debian host (apt-get, dpkg-source). As root it installs what is missing
# (gcc, make, libncurses-dev, dpkg-dev, patch) and, when apt has no deb-src entries,
# adds /etc/apt/sources.list.d/codex-deb-src.sources mirroring the deb entries.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly here
readonly default_work="/var/tmp/codex-shell-build"
readonly deb_src_file="/etc/apt/sources.list.d/codex-deb-src.sources"

# One line per shell: name, Debian source package, pinned version, sha256 of its .dsc
# (which in turn pins the tarballs by sha256; dpkg-source checks them), patch file.
readonly shells=(
  "bash bash 5.2.15-2 f51753e946af43eb58549c81e03b35a47af9fe6c6364179ccd4ef862b7c3b2d3 bash-exec-wrapper.patch"
  "zsh zsh 5.9-4 d4a3d005b53c7bbbd0267bbda9be205a69ebf6fabd9de9fe93a1ad7a67f8baea zsh-exec-wrapper.patch"
)

# The packages whose contents end up in the binaries, and the versions the DotSlash
# pins (codex-rs/exec-server/tests/suite/{bash,zsh}-wrapped) were built with. Another
# version still builds, but most likely to other bytes; the seeding script says so.
readonly toolchain=(
  "gcc-12 12.2.0-14+deb12u1"
  "binutils 2.40-2"
  "libc6-dev 2.36-9+deb12u14"
  "libgcc-12-dev 12.2.0-14+deb12u1"
  "libncurses-dev 6.4-4"
)

# Debian's own flags (dpkg-buildflags, hardening=+all, -Wall) with the build directory
# mapped to "." the way dpkg-buildflags does it, so no path of this machine is kept.
readonly cppflags="-Wdate-time -D_FORTIFY_SOURCE=2"
readonly ldflags="-Wl,-z,relro -Wl,-z,now"
cflags() {
  printf '%s' "-g -O2 -ffile-prefix-map=$1=. -fstack-protector-strong -Wformat -Werror=format-security -Wall"
}

die() {
  printf 'build-patched-shells: error: %s\n' "$*" >&2
  exit 1
}

log() {
  printf 'build-patched-shells: %s\n' "$*" >&2
}

usage() {
  sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

is_root() {
  [[ $(id -u) -eq 0 ]]
}

installed_version() {
  dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true
}

print_toolchain() {
  local line package pinned actual
  for line in "${toolchain[@]}"; do
    read -r package pinned <<<"$line"
    actual="$(installed_version "$package")"
    printf '%s %s (pinned %s)\n' "$package" "${actual:-<not installed>}" "$pinned"
  done
}

# Warns (does not fail) when the toolchain differs from the one the pins were built with.
check_toolchain() {
  local line package pinned actual differ=0
  for line in "${toolchain[@]}"; do
    read -r package pinned <<<"$line"
    actual="$(installed_version "$package")"
    if [[ "$actual" != "$pinned" ]]; then
      log "warning: $package is ${actual:-not installed}; the pinned shells were built with $pinned"
      differ=1
    fi
  done
  if [[ $differ -eq 1 ]]; then
    log "warning: the binaries will most likely not match the DotSlash pins"
  fi
}

ensure_build_deps() {
  local needed=(gcc make libc6-dev libncurses-dev dpkg-dev patch xz-utils) missing=() package
  for package in "${needed[@]}"; do
    [[ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" == "install ok installed" ]] \
      || missing+=("$package")
  done
  [[ ${#missing[@]} -eq 0 ]] && return
  is_root || die "missing build dependencies: ${missing[*]} (install them, or run as root)"
  log "installing ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
}

source_known() {
  local package="$1" version="$2"
  apt-cache showsrc --only-source "$package" 2>/dev/null | grep -qx "Version: $version"
}

# Writes deb-src twins of the enabled deb entries of this Debian release (same URIs,
# suites, components and keys) to $deb_src_file.
write_deb_src() {
  python3 - "$deb_src_file" <<'PY'
import glob
import re
import sys

out_path = sys.argv[1]
codename = ""
with open("/etc/os-release", encoding="utf-8") as f:
    for line in f:
        if line.startswith("VERSION_CODENAME="):
            codename = line.split("=", 1)[1].strip().strip('"')
if not codename:
    sys.exit("no VERSION_CODENAME in /etc/os-release")

def ours(suites):
    return suites and all(re.fullmatch(re.escape(codename) + r"(-[a-z-]+)?", s) for s in suites)

stanzas = []
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    if path == out_path:
        continue
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for chunk in re.split(r"\n[ \t]*\n", text):
        fields = {}
        key = None
        for line in chunk.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0].isspace() and key:
                fields[key] += "\n" + line
                continue
            key, _, value = line.partition(":")
            key = key.strip()
            fields[key] = value.strip()
        lower = {k.lower(): k for k in fields}
        types = fields.get(lower.get("types", ""), "").split()
        enabled = fields.get(lower.get("enabled", ""), "yes").lower()
        suites = fields.get(lower.get("suites", ""), "").split()
        if "deb" not in types or enabled == "no" or not ours(suites):
            continue
        fields[lower["types"]] = "deb-src"
        stanzas.append("\n".join(f"{k}: {v}" for k, v in fields.items()))
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        continue
    for line in lines:
        m = re.match(r"\s*deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)", line)
        if not m or not ours([m.group(3)]):
            continue
        opts = m.group(1) or ""
        stanza = [f"Types: deb-src", f"URIs: {m.group(2)}", f"Suites: {m.group(3)}",
                  f"Components: {m.group(4).strip()}"]
        signed = re.search(r"signed-by=(\S+?)[\s\]]", opts)
        if signed:
            stanza.append(f"Signed-By: {signed.group(1)}")
        stanzas.append("\n".join(stanza))
if not stanzas:
    sys.exit(f"no enabled deb entries for {codename} to mirror as deb-src")
with open(out_path, "w", encoding="utf-8") as f:
    f.write("# Written by tools/shells/build-patched-shells.sh: source packages for the\n")
    f.write("# EXEC_WRAPPER shells, from the same archives as the deb entries.\n")
    f.write("\n\n".join(stanzas) + "\n")
PY
}

ensure_source_available() {
  local package="$1" version="$2"
  source_known "$package" "$version" && return
  is_root || die "apt knows no source package $package $version: add deb-src entries to
/etc/apt/sources.list.d and run 'apt-get update' (or run this script as root)"
  if [[ ! -f "$deb_src_file" ]]; then
    log "adding deb-src entries in $deb_src_file"
    write_deb_src || die "could not write $deb_src_file"
  fi
  log "apt-get update"
  apt-get update -qq >/dev/null 2>&1 || log "warning: apt-get update reported errors"
  source_known "$package" "$version" || die "Debian offers no source package $package $version
(apt-cache showsrc $package lists: $(apt-cache showsrc --only-source "$package" 2>/dev/null |
    sed -n 's/^Version: //p' | tr '\n' ' ')). If it is gone from the archive, pin a new version
in the shells table of $0 (with its .dsc sha256), rebuild, and update the DotSlash pins."
}

# Builds shell $1 in $2/NAME-VERSION (created afresh) and sets $built to the path of the
# stripped binary.
built=""
build_one() {
  local name="$1" parent="$2"
  local line shell package version dsc_sha256 patch found=0
  for line in "${shells[@]}"; do
    read -r shell package version dsc_sha256 patch <<<"$line"
    if [[ "$shell" == "$name" ]]; then
      found=1
      break
    fi
  done
  [[ $found -eq 1 ]] || die "unknown shell '$name' (bash or zsh)"
  local dir="$parent/$name-$version"

  ensure_source_available "$package" "$version"
  rm -rf "$dir"
  mkdir -p "$dir/download"
  local started=$SECONDS
  log "$name: apt-get source $package=$version"
  (cd "$dir/download" &&
    apt-get source --download-only -qq "$package=$version" >"$dir/download.log" 2>&1) ||
    die "apt-get source $package=$version failed:
$(cat "$dir/download.log")"
  local dsc="$dir/download/${package}_${version#*:}.dsc" actual
  [[ -f "$dsc" ]] || die "apt-get source produced no $(basename "$dsc")"
  actual="$(sha256sum "$dsc")"
  actual="${actual%% *}"
  [[ "$actual" == "$dsc_sha256" ]] || die "$(basename "$dsc") has sha256 $actual, pinned $dsc_sha256"

  # The source tree sits at a path of its own; -ffile-prefix-map maps it to ".".
  local src="$dir/src"
  dpkg-source --require-strong-checksums -x "$dsc" "$src" >"$dir/dpkg-source.log" 2>&1 ||
    die "dpkg-source -x $(basename "$dsc") failed:
$(cat "$dir/dpkg-source.log")"
  patch -d "$src" -p1 --no-backup-if-mismatch --quiet <"$here/$patch" ||
    die "$patch does not apply to $package $version"

  local epoch
  epoch="$(dpkg-parsechangelog -l "$src/debian/changelog" -STimestamp)"
  # One timestamp for every file: make then regenerates nothing (no bison, no autoconf),
  # whatever order dpkg-source and patch wrote the files in.
  find "$src" -exec touch -h -d "@$epoch" {} +

  local -a build_env=(env -i "PATH=/usr/sbin:/usr/bin:/sbin:/bin" "HOME=/nonexistent"
    "LC_ALL=C" "TZ=UTC" "SOURCE_DATE_EPOCH=$epoch")
  local jobs
  jobs="$(nproc)"
  local obj="$src/build-static" binary
  mkdir -p "$obj"
  log "$name: configure and make -j$jobs in $obj (SOURCE_DATE_EPOCH=$epoch)"
  case "$name" in
    bash)
      # Debian's bash-static: debian/rules conf_args + --enable-static-link.
      (cd "$obj" && "${build_env[@]}" CC=gcc CFLAGS="$(cflags "$src")" CPPFLAGS="$cppflags" \
        LDFLAGS="$ldflags" YACC="bison -y" ../configure \
        --enable-largefile --prefix=/usr --infodir=/usr/share/info --mandir=/usr/share/man \
        --without-bash-malloc --build x86_64-linux-gnu --enable-static-link) \
        >"$dir/configure.log" 2>&1 || die "configure failed, see $dir/configure.log"
      grep -q '#define HAVE_DEV_STDIN 1' "$obj/config.h" || die "HAVE_DEV_STDIN not defined"
      (cd "$obj" && "${build_env[@]}" make -j"$jobs" YACC="bison -y" TERMCAP_LIB=-ltinfo \
        deb_builddir=build-static/ bash) >"$dir/make.log" 2>&1 ||
        die "make failed, see $dir/make.log"
      binary="$obj/bash"
      ;;
    zsh)
      # Debian's zsh-static: debian/rules CONFIGFLAGS + STATICFLAGS, without the gdbm,
      # pcre and cap libraries (Debian's static zsh links none of their modules anyway).
      (cd "$obj" && "${build_env[@]}" CC=gcc CFLAGS="$(cflags "$src")" CPPFLAGS="$cppflags" \
        ../configure \
        --prefix=/usr --mandir=/usr/share/man --bindir=/bin "LDFLAGS=-g $ldflags" \
        --infodir=/usr/share/info --enable-maildir-support --enable-max-jobtable-size=256 \
        --enable-etcdir=/etc/zsh --enable-function-subdirs \
        --enable-site-fndir=/usr/local/share/zsh/site-functions \
        --enable-fndir=/usr/share/zsh/functions --enable-runhelpdir=/usr/share/zsh/help \
        --with-tcsetpgrp --disable-gdbm --with-term-lib="ncursesw tinfo" \
        --disable-cap --disable-pcre --enable-readnullcmd=pager \
        --enable-custom-patchlevel="debian/$version+exec-wrapper" \
        --enable-additional-fpath=/usr/share/zsh/vendor-functions,/usr/share/zsh/vendor-completions \
        --disable-ansi2knr --build=x86_64-linux-gnu \
        --disable-dynamic --enable-ldflags=-static --disable-dynamic-nss) \
        >"$dir/configure.log" 2>&1 || die "configure failed, see $dir/configure.log"
      sed -e 's/#define VENDOR "pc"/#define VENDOR "debian"/' -i "$obj/config.h"
      sed -e 's/files.mdd link=no/files.mdd link=static/;s/stat.mdd link=no/stat.mdd link=static/' \
        -i "$obj/config.modules"
      (cd "$obj" && "${build_env[@]}" make -j"$jobs") >"$dir/make.log" 2>&1 ||
        die "make failed, see $dir/make.log"
      binary="$obj/Src/zsh"
      ;;
  esac
  [[ -f "$binary" ]] || die "the build left no $binary"
  # As dh_strip does for Debian's packages.
  strip --remove-section=.comment --remove-section=.note -o "$dir/out" "$binary"
  chmod 0755 "$dir/out"
  built="$dir/out"
  log "$name: built in $((SECONDS - started)) s"
}

# Prints "SIZE SHA256" of file $1.
describe() {
  local size digest
  size="$(stat --format=%s "$1")"
  digest="$(sha256sum "$1")"
  printf '%s %s\n' "$size" "${digest%% *}"
}

main() {
  local mode="build" out="" work="$default_work"
  local -a names=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --out)
        out="${2:?--out needs a directory}"
        shift 2
        ;;
      --work)
        work="${2:?--work needs a directory}"
        shift 2
        ;;
      --prove)
        mode="prove"
        shift
        ;;
      --print-toolchain)
        print_toolchain
        return 0
        ;;
      -h | --help)
        usage
        return 0
        ;;
      bash | zsh)
        names+=("$1")
        shift
        ;;
      *) die "unknown argument '$1' (see --help)" ;;
    esac
  done
  [[ ${#names[@]} -gt 0 ]] || names=(bash zsh)
  out="${out:-$work/out}"

  local tool
  for tool in apt-get apt-cache dpkg-query python3 sha256sum flock; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required (Debian host)"
  done
  umask 022
  ensure_build_deps
  check_toolchain

  mkdir -p "$work"
  # One build at a time per work directory.
  exec 9>"$work/.lock"
  flock 9

  local name
  if [[ "$mode" == "prove" ]]; then
    # Two directories that differ in name and depth; neither is the default one.
    local first="$work/prove-1" second status=0
    second="$(mktemp -d "${TMPDIR:-/tmp}/codex-shell-prove.XXXXXX")/elsewhere/deeper"
    for name in "${names[@]}"; do
      local a b
      build_one "$name" "$first"
      a="$(describe "$built")"
      printf '%s first:  %s  (%s)\n' "$name" "$a" "$built"
      build_one "$name" "$second"
      b="$(describe "$built")"
      printf '%s second: %s  (%s)\n' "$name" "$b" "$built"
      if [[ "$a" != "$b" ]]; then
        log "$name: the two builds differ"
        status=1
      fi
    done
    [[ $status -eq 0 ]] || die "not reproducible; both build trees are kept for comparison"
    rm -rf "${second%/elsewhere/deeper}"
    log "reproducible: each shell built twice to identical bytes"
    return 0
  fi

  mkdir -p "$out"
  for name in "${names[@]}"; do
    build_one "$name" "$work"
    cp "$built" "$out/$name.tmp"
    mv "$out/$name.tmp" "$out/$name"
    printf '%s %s %s\n' "$name" "$(describe "$out/$name")" "$out/$name"
  done
}

main "$@"
