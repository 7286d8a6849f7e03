"""A base interpreter: what one is, how one is verified, which series are wanted, and where
the built ones are kept (the cache). Stdlib only."""

from __future__ import annotations

import glob
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from nogilbench.host.probe import ProbeFailed, run_probe

# Series tried for a free-threaded interpreter, newest first (override with
# NOGILBENCH_CPYTHON_SERIES="3.13" for instance).
DEFAULT_SERIES: tuple[str, ...] = ("3.14", "3.13")
# Modules a base interpreter needs so that venv + pip + the benchmark work on it.
REQUIRED_MODULES: tuple[str, ...] = ("ssl", "zlib", "bz2", "lzma", "sqlite3", "ctypes", "venv")


class ProvisionError(RuntimeError):
    """A step could not produce an interpreter; the message says why."""


@dataclass(frozen=True)
class BaseInterpreter:
    """A verified base interpreter and how it was obtained."""

    path: str
    version: str
    free_threaded_build: bool
    source: str

    @property
    def series(self) -> str:
        return ".".join(self.version.split(".")[:2])


def log(message: str) -> None:
    print(f"[provision] {message}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    configured = os.environ.get("NOGILBENCH_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "nogilbench"


def wanted_series() -> tuple[str, ...]:
    configured = os.environ.get("NOGILBENCH_CPYTHON_SERIES", "").replace(",", " ").split()
    return tuple(configured) or DEFAULT_SERIES


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def install_dir(version: str, kind: str) -> Path:
    return cache_root() / f"cpython-{version}-{kind}"


def installed_python(prefix: Path) -> Path | None:
    """``bin/python3.Xt`` in a free-threaded install (which also has python3.X), else python3.X."""
    candidates = [
        c for c in glob.glob(str(prefix / "bin" / "python3.*")) if re.search(r"3\.\d+t?$", c)
    ]
    candidates.sort(key=lambda c: (not c.endswith("t"), len(c)))
    return Path(candidates[0]) if candidates else None


def verify(python: str, *, free_threaded: bool, source: str) -> BaseInterpreter:
    """Run ``python`` and check it is the kind of build asked for; raise ProvisionError if not."""
    flags = ["-X", "gil=0"] if free_threaded else []
    try:
        facts = run_probe(python, flags, REQUIRED_MODULES)
    except ProbeFailed as exc:
        raise ProvisionError(exc.reason) from exc
    if facts["implementation"] != "cpython":
        raise ProvisionError(f"{python}: not CPython ({facts['implementation']})")
    if facts["free_threaded_build"] != free_threaded:
        kind = "free-threaded" if free_threaded else "default (GIL)"
        raise ProvisionError(f"{python}: {facts['version']} is not a {kind} build")
    if free_threaded and facts["gil_enabled"]:
        raise ProvisionError(f"{python}: the GIL stays enabled under -X gil=0")
    if facts["missing_modules"]:
        missing = ", ".join(facts["missing_modules"])
        raise ProvisionError(f"{python}: missing stdlib modules: {missing}")
    return BaseInterpreter(
        path=facts["executable"] or python,
        version=facts["version"],
        free_threaded_build=facts["free_threaded_build"],
        source=source,
    )
