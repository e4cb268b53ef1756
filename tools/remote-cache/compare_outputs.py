#!/usr/bin/env python3
"""Compares the build outputs of two Bazel output trees (two `bazel-bin`s).

Every rlib, proc-macro `.so`, executable and build-script output (its OUT_DIR tree and
its flags/env/link-search/dep-env files) present in both trees must have the same bytes.
Runfiles trees and manifests are left out: they are symlinks and lists of absolute paths,
by design different per output base. Exit 1, listing the differing files, if any differ.

usage: compare_outputs.py BAZEL_BIN_A BAZEL_BIN_B
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

BUILD_SCRIPT_FILES = (".flags", ".env", ".link_search", ".dep_env")


def is_output(path: Path) -> bool:
    parts = path.parts
    if any(part.endswith(".runfiles") for part in parts):
        return False
    name = path.name
    if name.endswith((".runfiles_manifest", ".repo_mapping")):
        return False
    if any(part.endswith(".out_dir") for part in parts[:-1]):
        return True
    if name.endswith((".rlib", ".so") + BUILD_SCRIPT_FILES):
        return True
    return os.access(path, os.X_OK) and path.read_bytes()[:4] == b"\x7fELF"


def outputs(root: Path) -> dict[str, str]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.endswith(".runfiles")]
        for filename in filenames:
            path = Path(dirpath) / filename
            if path.is_symlink() or not path.is_file():
                continue
            relative = path.relative_to(root)
            if is_output(path):
                found[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    a, b = (outputs(Path(arg).resolve()) for arg in sys.argv[1:])
    common = sorted(set(a) & set(b))
    differing = [path for path in common if a[path] != b[path]]
    print(f"compare-outputs: {len(common)} outputs in both trees, {len(differing)} differ")
    for path in differing:
        print(f"  differs: {path}")
    if not common:
        print("compare-outputs: error: no output in common; wrong directories?", file=sys.stderr)
        return 1
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
