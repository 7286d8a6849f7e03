"""What a stored sweep records about the code that measured it: library versions, commit."""

from __future__ import annotations

import subprocess
from importlib import metadata

from nogilbench import __version__
from nogilbench.paths import PROJECT_ROOT


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"nogilbench": __version__}
    for name in ("pillow", "psutil", "sqlmodel", "sqlalchemy", "alembic"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> str | None:
    try:
        found = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    commit = found.stdout.strip()
    if found.returncode != 0 or not commit:
        return None
    return commit + ("-dirty" if dirty.stdout.strip() else "")
