"""Where an interpreter of each build is looked for: the environment variable, PATH by series,
the cache of built ones, and ``uv python find``. Each step verifies what it finds or raises
ProvisionError with one line on what it tried. Stdlib only.

The names live here once: ``host.interpreters`` looks for the interpreters a sweep runs on
through the same variables and PATH names (after the project's virtual environments).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

from nogilbench.host.provision.base import (
    BaseInterpreter,
    ProvisionError,
    cache_root,
    installed_python,
    verify,
    version_key,
    wanted_series,
)

FT_PYTHON_VARIABLE = "NOGILBENCH_FT_PYTHON"  # a free-threaded interpreter, chosen by the user
GIL_PYTHON_VARIABLE = "NOGILBENCH_GIL_PYTHON"  # a default (GIL) build, chosen by the user
UV_FIND_TIMEOUT_S = 15.0


def path_names(*, free_threaded: bool, series: Sequence[str] | None = None) -> list[str]:
    """The interpreter names looked for on PATH, newest series first: python3.14t, python3.13t."""
    suffix = "t" if free_threaded else ""
    return [f"python{ser}{suffix}" for ser in (series or wanted_series())]


def from_env(variable: str, *, free_threaded: bool) -> BaseInterpreter:
    value = os.environ.get(variable)
    if not value:
        raise ProvisionError(f"{variable} not set")
    python = shutil.which(value) or value
    return verify(python, free_threaded=free_threaded, source=f"${variable}")


def from_path(names: Sequence[str], *, free_threaded: bool) -> BaseInterpreter:
    reasons = []
    for name in names:
        python = shutil.which(name)
        if python is None:
            reasons.append(f"{name} not on PATH")
            continue
        try:
            return verify(python, free_threaded=free_threaded, source=f"PATH ({name})")
        except ProvisionError as exc:
            reasons.append(str(exc))
    raise ProvisionError("; ".join(reasons))


def from_cache(*, free_threaded: bool, version: str | None = None) -> BaseInterpreter:
    kind = "ft" if free_threaded else "gil"
    pattern = f"cpython-{version or '*'}-{kind}"
    prefixes = sorted(
        cache_root().glob(pattern),
        key=lambda p: version_key(p.name),
        reverse=True,
    )
    series = wanted_series()
    reasons = []
    for prefix in prefixes:
        python = installed_python(prefix)
        if python is None:
            reasons.append(f"{prefix}: no bin/python3.*")
            continue
        try:
            found = verify(str(python), free_threaded=free_threaded, source=f"cache ({prefix})")
        except ProvisionError as exc:
            reasons.append(str(exc))
            continue
        if version is None and found.series not in series:
            reasons.append(f"{prefix}: series {found.series} not in {series}")
            continue
        return found
    if not prefixes:
        reasons.append(f"no {pattern} under {cache_root()}")
    raise ProvisionError("; ".join(reasons))


def uv() -> str:
    found = shutil.which("uv")
    if found is None:
        raise ProvisionError("uv not on PATH")
    return found


def from_uv_find(series: Sequence[str], *, free_threaded: bool) -> BaseInterpreter:
    command = uv()
    reasons = []
    for ser in series:
        request = f"{ser}t" if free_threaded else ser
        try:
            done = subprocess.run(
                [command, "python", "find", "--no-python-downloads", request],
                capture_output=True,
                text=True,
                timeout=UV_FIND_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            reasons.append(f"uv python find {request}: {exc}")
            continue
        if done.returncode != 0 or not done.stdout.strip():
            reasons.append(f"uv python find {request}: not found")
            continue
        try:
            return verify(
                done.stdout.strip().splitlines()[-1],
                free_threaded=free_threaded,
                source=f"uv python find {request}",
            )
        except ProvisionError as exc:
            reasons.append(str(exc))
    raise ProvisionError("; ".join(reasons))
