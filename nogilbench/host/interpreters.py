"""Runtime discovery of the interpreters a sweep runs on, and of the host it runs on.

Stdlib only (psutil is used when importable). ``describe`` asks an interpreter about itself
through the one probe (``host.probe``); ``find_free_threaded`` / ``find_default_build`` walk
the discovery order documented in ``environment.md``: the variable and PATH names of
provisioning (``host.provision.find``), with the project's virtual environments first;
``host_info`` captures the machine for a sweep record.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from dataclasses import asdict, dataclass
from typing import Any

from nogilbench.host import topology
from nogilbench.host.machine_id import machine_id
from nogilbench.host.probe import ProbeFailed, run_probe
from nogilbench.host.provision.find import FT_PYTHON_VARIABLE, GIL_PYTHON_VARIABLE, path_names
from nogilbench.model import ROLE_CURRENT, ROLE_DEFAULT_BUILD, ROLE_FREE_THREADED  # roles: one home
from nogilbench.paths import PROJECT_ROOT


class InterpreterUnavailable(RuntimeError):
    """No usable interpreter for a role; ``reason`` says what was tried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class InterpreterInfo:
    """What a sweep needs to know about one interpreter."""

    path: str
    version: str
    implementation: str
    free_threaded_build: bool
    can_disable_gil: bool
    gil_enabled_default: bool | None
    has_interpreter_pool: bool
    pillow_version: str | None
    psutil_version: str | None
    role: str
    # PEP 734 API for the subinterpreters method: stdlib (3.14+), the backport (3.13) or None
    subinterpreters_api: str | None = None

    @property
    def has_core_dependencies(self) -> bool:
        """Pillow and psutil are installed: a benchmark cell can run on it."""
        return self.pillow_version is not None and self.psutil_version is not None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _run_snippet(python: str, flags: list[str]) -> dict[str, Any]:
    try:
        return run_probe(python, flags)
    except ProbeFailed as exc:
        raise InterpreterUnavailable(exc.reason) from exc


def describe(python: str, role: str) -> InterpreterInfo:
    """Ask ``python`` about itself; raise InterpreterUnavailable if it cannot answer."""
    path = shutil.which(python) or python
    facts = _run_snippet(path, [])
    can_disable_gil = False
    if facts["free_threaded_build"]:
        forced_off = _run_snippet(path, ["-X", "gil=0"])
        can_disable_gil = not forced_off["gil_enabled"]
    gil_default = facts["gil_enabled"]
    return InterpreterInfo(
        # Not resolved: a venv's bin/python is a symlink and must stay the venv's path.
        path=os.path.abspath(path),
        version=facts["version"],
        implementation=facts["implementation"],
        free_threaded_build=bool(facts["free_threaded_build"]),
        can_disable_gil=can_disable_gil,
        gil_enabled_default=None if gil_default is None else bool(gil_default),
        has_interpreter_pool=bool(facts["has_interpreter_pool"]),
        pillow_version=facts["pillow_version"],
        psutil_version=facts["psutil_version"],
        role=role,
        subinterpreters_api=facts.get("subinterpreters_api"),
    )


def current() -> InterpreterInfo:
    """The interpreter running this code."""
    return describe(sys.executable, ROLE_CURRENT)


def _first_usable(
    candidates: list[tuple[str, str | None]], role: str, *, free_threaded: bool
) -> InterpreterInfo:
    """The first candidate of the right build with Pillow and psutil; else the first of the
    right build (a base interpreter named by the environment variable, say); else raise."""
    tried: list[str] = []
    right_build: list[InterpreterInfo] = []
    for label, python in candidates:
        if not python:
            tried.append(f"{label}: not set")
            continue
        if os.sep in python and not os.path.exists(python):
            tried.append(f"{label}: {python} does not exist")
            continue
        if os.sep not in python and shutil.which(python) is None:
            tried.append(f"{label}: not on PATH")
            continue
        try:
            info = describe(python, role)
        except InterpreterUnavailable as exc:
            tried.append(f"{label}: {exc.reason}")
            continue
        if info.free_threaded_build != free_threaded:
            kind = "not a free-threaded build" if free_threaded else "a free-threaded build"
            tried.append(f"{label}: {info.path} ({info.version}) is {kind}")
            continue
        if free_threaded and not info.can_disable_gil:
            tried.append(f"{label}: {info.path}: the GIL stays on under -X gil=0")
            continue
        if info.has_core_dependencies:
            return info
        tried.append(f"{label}: {info.path} lacks Pillow/psutil")
        right_build.append(info)
    if right_build:
        return right_build[0]
    raise InterpreterUnavailable("; ".join(tried))


def find_free_threaded() -> InterpreterInfo:
    """The free-threaded interpreter: $NOGILBENCH_FT_PYTHON, .venv-ft, python3.14t/3.13t."""
    return _first_usable(
        [
            (f"${FT_PYTHON_VARIABLE}", os.environ.get(FT_PYTHON_VARIABLE)),
            (".venv-ft", str(PROJECT_ROOT / ".venv-ft" / "bin" / "python")),
            *((name, name) for name in path_names(free_threaded=True)),
        ],
        ROLE_FREE_THREADED,
        free_threaded=True,
    )


def find_default_build() -> InterpreterInfo:
    """The default (GIL) build matching the free-threaded one: $NOGILBENCH_GIL_PYTHON, .venv-gil."""
    return _first_usable(
        [
            (f"${GIL_PYTHON_VARIABLE}", os.environ.get(GIL_PYTHON_VARIABLE)),
            (".venv-gil", str(PROJECT_ROOT / ".venv-gil" / "bin" / "python")),
        ],
        ROLE_DEFAULT_BUILD,
        free_threaded=False,
    )


def discover() -> dict[str, InterpreterInfo | InterpreterUnavailable]:
    """Every role, found or with the reason it is unavailable (for ``nogilbench info``)."""
    found: dict[str, InterpreterInfo | InterpreterUnavailable] = {}
    for role, finder in (
        (ROLE_CURRENT, current),
        (ROLE_FREE_THREADED, find_free_threaded),
        (ROLE_DEFAULT_BUILD, find_default_build),
    ):
        try:
            found[role] = finder()
        except InterpreterUnavailable as exc:
            found[role] = exc
    return found


# --------------------------------------------------------------------------- host


def usable_cores() -> int:
    """Cores this process can keep busy: affinity mask and cgroup CPU quota (see topology)."""
    return topology.usable_cores()


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _physical_cores_from_proc() -> int | None:
    cores: set[tuple[str, str]] = set()
    physical_id = core_id = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in [*cpuinfo, "\n"]:
                if not line.strip():
                    if core_id:
                        cores.add((physical_id, core_id))
                    physical_id = core_id = ""
                elif line.startswith("physical id"):
                    physical_id = line.split(":", 1)[1].strip()
                elif line.startswith("core id"):
                    core_id = line.split(":", 1)[1].strip()
    except OSError:
        return None
    return len(cores) or None


def _memory_total_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _os_name() -> str:
    try:
        release = platform.freedesktop_os_release()
        return release.get("PRETTY_NAME") or release.get("NAME") or platform.system()
    except (OSError, AttributeError):
        return f"{platform.system()} {platform.release()}"


def host_info() -> dict[str, Any]:
    """The machine: CPU model, physical/logical/usable cores, memory, OS, kernel."""
    physical: int | None
    logical: int | None
    memory: int | None
    try:
        import psutil
    except ImportError:
        psutil = None  # type: ignore[assignment]
    if psutil is not None:
        physical = psutil.cpu_count(logical=False)
        logical = psutil.cpu_count(logical=True)
        memory = int(psutil.virtual_memory().total)
    else:
        physical = _physical_cores_from_proc()
        logical = os.cpu_count()
        memory = _memory_total_bytes()
    return {
        "cpu_model": _cpu_model(),
        "physical_cores": physical,
        "logical_cores": logical,
        "usable_cores": usable_cores(),
        # sockets, NUMA nodes, SMT, cpufreq governor/boost, affinity and cgroup quota
        "topology": topology.host_topology(),
        "memory_total_bytes": memory,
        "memory_total_gib": round(memory / 2**30, 1) if memory else None,
        "os": _os_name(),
        "platform": platform.platform(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        # None where the host has no machine id (said so by `nogilbench info`).
        "machine_id": machine_id(),
        "python": platform.python_version(),
        "psutil": getattr(psutil, "__version__", None),
    }
