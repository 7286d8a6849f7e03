"""Ask an interpreter about itself: the one snippet and the one runner for every probe.

Stdlib only: provisioning uses it before any virtual environment exists, and a sweep, `nogilbench
info` and the load test use it on every interpreter they start. The answer is a superset: a
base interpreter is checked for its build and stdlib modules, a cell's interpreter for its
packages and sub-interpreter API, the load test prints its version, build and GIL state.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from typing import Any

PROBE_TIMEOUT_S = 30.0

# Runs inside the interpreter being probed, with the modules to try importing as arguments.
# The GIL state is read before anything else is imported, and package versions come from
# metadata, so no extension can re-enable the GIL before it is observed.
PROBE_SNIPPET = """
import sys
gil_enabled = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
import json, platform, sysconfig

missing = []
for name in sys.argv[1:]:
    try:
        __import__(name)
    except Exception:
        missing.append(name)

def version_of(name):
    try:
        from importlib import metadata
        return metadata.version(name)
    except Exception:
        return None

def has_interpreter_pool():
    try:
        import concurrent.futures
    except Exception:
        return False
    return hasattr(concurrent.futures, "InterpreterPoolExecutor")

def subinterpreters_api():
    if sys.version_info < (3, 13):
        return None
    try:
        import concurrent.interpreters
        return "concurrent.interpreters"
    except ImportError:
        pass
    try:
        import backports.interpreters
        return f"backports.interpreters {version_of('backports.interpreters')}"
    except ImportError:
        return None

print(json.dumps({
    "executable": sys.executable,
    "version": platform.python_version(),
    "implementation": sys.implementation.name,
    "free_threaded_build": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "gil_enabled": gil_enabled,
    "missing_modules": missing,
    "has_interpreter_pool": has_interpreter_pool(),
    "subinterpreters_api": subinterpreters_api(),
    "pillow_version": version_of("pillow"),
    "psutil_version": version_of("psutil"),
}))
"""


class ProbeFailed(RuntimeError):
    """The interpreter could not be run or gave no readable answer; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def probe_env() -> dict[str, str]:
    """This environment without PYTHON_GIL (it would override the build's default, which the
    probe wants) and PYTHONHOME (it would point another interpreter at the wrong stdlib)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHON_GIL", "PYTHONHOME")}


def run_probe(
    python: str,
    flags: Sequence[str] = (),
    modules: Sequence[str] = (),
    timeout_s: float = PROBE_TIMEOUT_S,
) -> dict[str, Any]:
    """Run the probe in ``python`` with ``flags`` (``-X gil=0``, say); its facts, or raise
    ProbeFailed. ``modules``: stdlib modules whose import is tried (``missing_modules``)."""
    try:
        done = subprocess.run(
            [python, *flags, "-c", PROBE_SNIPPET, *modules],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env=probe_env(),
            check=False,
        )
    except FileNotFoundError as exc:
        raise ProbeFailed(f"{python}: not found") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ProbeFailed(f"{python}: cannot run ({exc})") from exc
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ProbeFailed(f"{python}: exited {done.returncode} ({tail})")
    try:
        facts: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError) as exc:
        raise ProbeFailed(f"{python}: unreadable answer {done.stdout!r}") from exc
    return facts


def build_and_gil(facts: dict[str, Any]) -> str:
    """'3.13.5 free-threaded build GIL off': one line for a report's interpreter list."""
    build = "free-threaded build" if facts["free_threaded_build"] else "default build"
    return f"{facts['version']} {build} {'GIL on' if facts['gil_enabled'] else 'GIL off'}"
