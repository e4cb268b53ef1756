#!/usr/bin/env python3
"""Fails when a dependency arrow that must never exist appears (architecture rules).

Rules (see README "Crates"):
  1. utils/* crates depend on no codex crate outside utils/.
  2. codex-protocol is plain data: no tokio, no async runtime or I/O crates.
  3. codex-linux-sandbox, codex-sandboxing and codex-execpolicy never depend on
     codex-exec-server.
  4. Test-support crates are dev-dependencies only.
  5. No crate re-exports another codex crate wholesale (`pub use codex_x::*`).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_SUPPORT = {"codex-utils-cargo-bin", "codex-utils-dotslash", "codex-utils-test-support"}
PROTOCOL_FORBIDDEN = {"tokio", "mio", "async-std", "smol", "tokio-tungstenite", "reqwest", "hyper"}
NEVER_ON_EXEC_SERVER = {"codex-linux-sandbox", "codex-sandboxing", "codex-execpolicy"}


def main() -> int:
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--no-deps"],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout
    )
    problems: list[str] = []
    members = {p["name"]: p for p in meta["packages"]}
    for name, pkg in sorted(members.items()):
        manifest = Path(pkg["manifest_path"]).relative_to(ROOT)
        in_utils = manifest.parts[:2] == ("codex-rs", "utils")
        for dep in pkg["dependencies"]:
            dep_name, kind = dep["name"], dep["kind"]  # kind: None (normal), "dev", "build"
            is_codex = dep_name.startswith("codex-")
            if in_utils and is_codex and dep_name in members and kind != "dev":
                dep_manifest = Path(members[dep_name]["manifest_path"]).relative_to(ROOT)
                if dep_manifest.parts[:2] != ("codex-rs", "utils"):
                    problems.append(f"{manifest}: utils crate {name} depends on {dep_name} (outside utils/)")
            if name == "codex-protocol" and kind is None and dep_name in PROTOCOL_FORBIDDEN:
                problems.append(f"{manifest}: codex-protocol must stay plain data but depends on {dep_name}")
            if name in NEVER_ON_EXEC_SERVER and dep_name == "codex-exec-server":
                problems.append(f"{manifest}: {name} must not depend on codex-exec-server (the server uses it)")
            if dep_name in TEST_SUPPORT and kind != "dev" and name not in TEST_SUPPORT:
                problems.append(f"{manifest}: {dep_name} is test support; use it under [dev-dependencies] only")
        src = manifest.parent
        for rs in sorted((ROOT / src).rglob("*.rs")):
            for lineno, line in enumerate(rs.read_text(errors="replace").splitlines(), 1):
                if re.match(r"\s*pub\s+use\s+codex_\w+::\*\s*;", line):
                    problems.append(f"{rs.relative_to(ROOT)}:{lineno}: wholesale re-export `{line.strip()}`; re-export named items")
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    print(f"check_deps: {len(members)} crates, {len(problems)} forbidden arrow(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
