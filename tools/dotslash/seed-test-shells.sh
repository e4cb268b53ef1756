#!/usr/bin/env bash
# Seeds DotSlash's cache with the pinned test shells so that `dotslash -- fetch` of
# codex-rs/exec-server/tests/suite/{bash,zsh,bash-wrapped,zsh-wrapped} succeeds offline.
#
# Why: the exec-server tests run a *pinned* bash and zsh through DotSlash files, so the
# shell a test sees is the same on every machine. bash and zsh are the static binaries
# from Debian's `bash-static` and `zsh-static` packages; bash-wrapped and zsh-wrapped are
# the same shells built from Debian's source packages with the EXEC_WRAPPER patch
# (tools/shells/README.md; built by tools/shells/build-patched-shells.sh, about a minute
# each on two cores, and only when the cache does not hold them yet). This script gets
# those exact bytes, checks them against the size and sha256 pinned in the DotSlash
# files, and places them where DotSlash looks for them. It never replaces a pin
# silently: a mismatch is a hard error that says how to update it.
#
# Usage:
#   tools/dotslash/seed-test-shells.sh                 seed the cache (idempotent)
#   tools/dotslash/seed-test-shells.sh --print-update  print DotSlash entries for the
#                                                      packages Debian offers now and
#                                                      for the patched shells as built now
#
# The cache directory is whatever `dotslash -- cache-dir` prints (it honours
# DOTSLASH_CACHE, default ~/.cache/dotslash).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly repo_root
readonly platform="linux-x86_64"
# Where Bazel's tests find the shells (`test --test_env=DOTSLASH_CACHE=...` in .bazelrc).
readonly BAZEL_DOTSLASH_CACHE="/var/tmp/codex-dotslash"

# One line per shell: DotSlash file (relative to the repo root), Debian package, pinned
# Debian version, path of the binary inside the package.
readonly shells=(
  "codex-rs/exec-server/tests/suite/bash bash-static 5.2.15-2+b13 bin/bash-static"
  "codex-rs/exec-server/tests/suite/zsh zsh-static 5.9-4+b15 bin/zsh-static"
)
# One line per EXEC_WRAPPER shell: DotSlash file, shell name for build-patched-shells.sh
# (which pins the Debian source version and the patch).
readonly wrapped_shells=(
  "codex-rs/exec-server/tests/suite/bash-wrapped bash"
  "codex-rs/exec-server/tests/suite/zsh-wrapped zsh"
)
readonly build_patched="tools/shells/build-patched-shells.sh"

die() {
  printf 'seed-test-shells: error: %s\n' "$*" >&2
  exit 1
}

log() {
  printf 'seed-test-shells: %s\n' "$*" >&2
}

usage() {
  sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# Prints one field of the DotSlash file's entry for $platform.
dotslash_field() {
  local file="$1" field="$2"
  python3 - "$file" "$platform" "$field" <<'PY'
import json
import sys

path, platform, field = sys.argv[1:4]
with open(path, encoding="utf-8") as f:
    header = f.readline().rstrip("\n")
    if header != "#!/usr/bin/env dotslash":
        sys.exit(f"{path}: first line is {header!r}, not '#!/usr/bin/env dotslash'")
    config = json.load(f)
entry = config.get("platforms", {}).get(platform)
if entry is None:
    sys.exit(f"{path}: no entry for platform {platform}")
if field == "format":
    print(entry.get("format", "plain"))
elif field == "readonly":
    print("1" if entry.get("readonly", True) else "0")
else:
    print(entry[field])
PY
}

ensure_dotslash() {
  if command -v dotslash >/dev/null 2>&1; then
    return
  fi
  log "dotslash not found; installing it with pip"
  python3 -m pip install --quiet dotslash
  # pyenv and friends need to see the new entry point.
  hash -r
  command -v dotslash >/dev/null 2>&1 \
    || die "pip installed dotslash but it is not on PATH; add pip's script directory to PATH"
}

# Downloads and extracts package $1 (version $2, or the candidate when empty) into $3.
# Prints the Debian version that was downloaded.
extract_package() {
  local package="$1" version="$2" dest="$3"
  local spec="$package"
  if [[ -n "$version" ]]; then
    spec="$package=$version"
  fi
  mkdir -p "$dest/debs"
  if ! (cd "$dest/debs" && apt-get download --quiet=2 "$spec" >/dev/null 2>"$dest/apt.err") &&
    ! { [[ $(id -u) -eq 0 ]] && apt-get update -qq >/dev/null 2>&1 &&
      (cd "$dest/debs" && apt-get download --quiet=2 "$spec" >/dev/null 2>"$dest/apt.err"); }; then
    # (As root, the package lists are refreshed once before giving up.)
    local candidate
    candidate="$(apt-cache policy "$package" 2>/dev/null | awk '/Candidate:/ {print $2}')"
    die "could not download Debian package $spec: $(cat "$dest/apt.err")
Debian currently offers $package ${candidate:-<none>} (run 'apt-get update' if that looks stale).
If the pinned version is gone, run '$0 --print-update', update the DotSlash file and the
pinned version in $0 together, and fix the tests that assert the exact version."
  fi
  local deb
  deb="$(find "$dest/debs" -name "${package}_*.deb" -print -quit)"
  [[ -n "$deb" ]] || die "apt-get download $spec produced no .deb"
  dpkg-deb -x "$deb" "$dest/root"
  dpkg-deb -f "$deb" Version
}

# Prints DotSlash's cache key ("xx/rest") for a plain-file artifact entry. This mirrors
# `determine_location()` in the dotslash crate (src/artifact_location.rs): BLAKE3 over
# size, hash algorithm, digest, "file:<path>" and readonly ("1"/"0"), separated by NUL
# bytes; the first 20 bytes in hex, split after two characters.
cache_key() {
  local size="$1" digest="$2" path="$3" readonly_flag="$4" scratch="$5"
  printf '%s\0%s\0%s\0%s\0%s' "$size" "sha256" "$digest" "file:$path" "$readonly_flag" \
    >"$scratch/key-material"
  local full
  full="$(dotslash -- b3sum "$scratch/key-material")"
  full="${full%% *}"
  [[ "$full" =~ ^[0-9a-f]{64}$ ]] || die "unexpected output from 'dotslash -- b3sum': $full"
  printf '%s/%s\n' "${full:0:2}" "${full:2:38}"
}

file_size() {
  stat --format=%s "$1"
}

file_sha256() {
  local out
  out="$(sha256sum "$1")"
  printf '%s\n' "${out%% *}"
}

# Checks one pinned fixture, returns 0 when the cache already holds the exact artifact.
cached_artifact_ok() {
  local artifact="$1" size="$2" digest="$3"
  [[ -f "$artifact" ]] || return 1
  [[ "$(file_size "$artifact")" == "$size" ]] || return 1
  [[ "$(file_sha256 "$artifact")" == "$digest" ]] || return 1
}

# Prints the path of the binary from Debian package $1 version $2 (member $3).
deb_artifact() {
  local package="$1" version="$2" member="$3" scratch="$4"
  local work="$scratch/$package"
  if [[ ! -d "$work/root" ]]; then
    extract_package "$package" "$version" "$work" >/dev/null
  fi
  local built="$work/root/$member"
  [[ -f "$built" ]] || die "$package $version has no $member"
  printf '%s\n' "$built"
}

# Prints the path of the patched shell $1, built from source once per run.
patched_artifact() {
  local name="$1" scratch="$2"
  local out="$scratch/patched"
  if [[ ! -f "$out/$name" ]]; then
    log "building the EXEC_WRAPPER $name from source ($build_patched)"
    local started=$SECONDS
    "$repo_root/$build_patched" --out "$out" "$name" >&2
    log "built the EXEC_WRAPPER $name in $((SECONDS - started)) s"
  fi
  printf '%s\n' "$out/$name"
}

# Seeds $dotslash_file into $cache_dir. The rest of the arguments say where the
# artifact comes from: "deb PACKAGE VERSION MEMBER" or "patched SHELL".
seed_one() {
  local dotslash_file="$1" scratch="$2" cache_dir="$3" kind="$4"
  shift 4
  local file="$repo_root/$dotslash_file"
  [[ -f "$file" ]] || die "DotSlash file $dotslash_file does not exist"

  local format size digest hash path readonly_value
  format="$(dotslash_field "$file" format)"
  [[ "$format" == "plain" ]] \
    || die "$dotslash_file uses format '$format'; this script only builds plain-file artifacts"
  hash="$(dotslash_field "$file" hash)"
  [[ "$hash" == "sha256" ]] || die "$dotslash_file uses hash '$hash'; this script expects sha256"
  size="$(dotslash_field "$file" size)"
  digest="$(dotslash_field "$file" digest)"
  path="$(dotslash_field "$file" path)"
  readonly_value="$(dotslash_field "$file" readonly)"

  local key artifact_dir artifact
  key="$(cache_key "$size" "$digest" "$path" "$readonly_value" "$scratch")"
  artifact_dir="$cache_dir/$key"
  artifact="$artifact_dir/$path"

  if cached_artifact_ok "$artifact" "$size" "$digest"; then
    log "$dotslash_file: already in the cache at $artifact"
  else
    local built
    case "$kind" in
      deb) built="$(deb_artifact "$@" "$scratch")" ;;
      patched) built="$(patched_artifact "$1" "$scratch")" ;;
      *) die "unknown artifact kind '$kind'" ;;
    esac
    local new_size new_digest
    new_size="$(file_size "$built")"
    new_digest="$(file_sha256 "$built")"
    if [[ "$new_size" != "$size" || "$new_digest" != "$digest" ]]; then
      if [[ "$kind" == deb ]]; then
        die "$3 from Debian $1 $2 does not match the pin in $dotslash_file:
  pinned: size $size, sha256 $digest
  built:  size $new_size, sha256 $new_digest
If Debian really changed this package, update \"size\" and \"digest\" in $dotslash_file
(or run '$0 --print-update' for the complete entry), upload the new artifact to the
provider URL, and update the pinned version in $0."
      fi
      die "the EXEC_WRAPPER $1 built from source does not match the pin in $dotslash_file:
  pinned: size $size, sha256 $digest
  built:  size $new_size, sha256 $new_digest
The build is reproducible, so the inputs differ: the patch or the pinned source in
tools/shells/, or the toolchain (installed vs. pinned in $build_patched):
$("$repo_root/$build_patched" --print-toolchain | sed 's/^/  /')
If the change is intended, update \"size\" and \"digest\" in $dotslash_file (or run
'$0 --print-update' for the complete entry) and the toolchain table in $build_patched;
check that 'tools/shells/build-patched-shells.sh --prove' still gets identical bytes."
    fi

    # Stage next to the final location, then move into place, as DotSlash itself does.
    mkdir -p "$cache_dir/${key%%/*}"
    local stage
    stage="$(mktemp -d "$cache_dir/${key%%/*}/.seed.XXXXXX")"
    mkdir -p "$(dirname "$stage/$path")"
    cp "$built" "$stage/$path"
    chmod 0555 "$stage/$path"
    if [[ -e "$artifact_dir" ]]; then
      log "$dotslash_file: replacing a corrupt or stale cache entry at $artifact_dir"
      chmod -R u+w "$artifact_dir"
      rm -rf "$artifact_dir"
    fi
    mv "$stage" "$artifact_dir"
    if [[ "$readonly_value" == "1" ]]; then
      chmod a-w "$artifact_dir"
    fi
    log "$dotslash_file: seeded $artifact"
  fi

  # Prove it with DotSlash itself: fetch must succeed offline and name the same path.
  local fetched
  if ! fetched="$(dotslash -- fetch "$file" 2>"$scratch/fetch.err")"; then
    die "'dotslash -- fetch $dotslash_file' still fails after seeding:
$(cat "$scratch/fetch.err")"
  fi
  [[ "$fetched" == "$artifact" ]] \
    || die "'dotslash -- fetch $dotslash_file' printed $fetched, expected $artifact;
the cache key derivation in $0 no longer matches this dotslash version"
}

print_entry() {
  local dotslash_file="$1" built="$2"
  local path size digest
  path="$(dotslash_field "$repo_root/$dotslash_file" path)"
  size="$(file_size "$built")"
  digest="$(file_sha256 "$built")"
  printf '"%s": {\n  "size": %s,\n  "hash": "sha256",\n  "digest": "%s",\n  "path": "%s",\n' \
    "$platform" "$size" "$digest" "$path"
  printf '  "providers": []\n}\n\n' # seeded locally, see README
}

print_update() {
  local scratch="$1"
  local line dotslash_file package version member name
  for line in "${wrapped_shells[@]}"; do
    read -r dotslash_file name <<<"$line"
    printf '# %s: the EXEC_WRAPPER %s built from source now\n' "$dotslash_file" "$name"
    print_entry "$dotslash_file" "$(patched_artifact "$name" "$scratch")"
  done
  for line in "${shells[@]}"; do
    read -r dotslash_file package version member <<<"$line"
    local work="$scratch/$package" current
    current="$(extract_package "$package" "" "$work")"
    local built="$work/root/$member"
    [[ -f "$built" ]] || die "$package $current has no $member"
    printf '# %s: Debian %s %s (pinned in this script: %s)\n' \
      "$dotslash_file" "$package" "$current" "$version"
    print_entry "$dotslash_file" "$built"
  done
}

main() {
  local mode="seed"
  case "${1:-}" in
    "") ;;
    --print-update) mode="print-update" ;;
    -h | --help)
      usage
      return 0
      ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac

  local tool
  for tool in apt-get apt-cache dpkg-deb python3 sha256sum stat; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required (Debian/Ubuntu host)"
  done

  local scratch
  scratch="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand now: $scratch is local.
  trap "rm -rf '$scratch'" EXIT

  if [[ "$mode" == "print-update" ]]; then
    print_update "$scratch"
    return 0
  fi

  ensure_dotslash
  # The caller's cache (Cargo runs the tests with the caller's environment), and the
  # fixed one Bazel's tests read (.bazelrc: a path that is the same for every user and
  # clone, so test actions have the same cache keys everywhere).
  local cache_dirs=("$(dotslash -- cache-dir)")
  [[ "${cache_dirs[0]}" == "$BAZEL_DOTSLASH_CACHE" ]] || cache_dirs+=("$BAZEL_DOTSLASH_CACHE")

  local cache_dir line dotslash_file package version member name
  for cache_dir in "${cache_dirs[@]}"; do
    mkdir -p "$cache_dir"
    export DOTSLASH_CACHE="$cache_dir"
    for line in "${shells[@]}"; do
      read -r dotslash_file package version member <<<"$line"
      seed_one "$dotslash_file" "$scratch" "$cache_dir" deb "$package" "$version" "$member"
    done
    for line in "${wrapped_shells[@]}"; do
      read -r dotslash_file name <<<"$line"
      seed_one "$dotslash_file" "$scratch" "$cache_dir" patched "$name"
    done
  done
  log "done; caches: ${cache_dirs[*]}"
}

main "$@"
