"""The measurements of `make performance`, run back to back; the figures come back as data
(`loadtest.render` writes them as markdown, `loadtest.report` runs both).

1. Load: the same bounded load (upload -> process -> download) against a fresh server on
   stock CPython, on the free-threaded build with the GIL on and with it off, for the Pillow
   pipeline and for the pure-Python operation; each run then checked for lost or orphaned
   data.
2. The API's image throughput (`POST /process` only) against the library's thread runner on
   the same interpreter at concurrency = cores, and the free-threaded server with the GIL off
   against on, in interleaved rounds with intervals, by two clients (httpx and wrk), with the
   Server-Timing phases (`loadtest.throughput`).
3. The library's Pillow pipeline against Pillow called directly (the limit).
4. The sweep's own overhead and the spread of repeats, from a small real sweep.
5. The job engine's worker pools (threads, prefork; default and free-threaded builds) under
   the same batch load (`loadtest.engine_pools`).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from loadtest.load import LoadConfig, run_against_new_server
from nogilbench.host.interpreters import host_info, usable_cores
from nogilbench.host.probe import build_and_gil, run_probe
from nogilbench.paths import PROJECT_ROOT
from nogilbench.sweep.provenance import git_commit

SCHEMATHESIS_SUMMARY = PROJECT_ROOT / "reports" / "schemathesis-long.json"


def _venv_python(name: str) -> str:
    return str(PROJECT_ROOT / name / "bin" / "python")


# label -> (interpreter, -X gil=)
SERVERS: dict[str, tuple[str, int | None]] = {
    "stock CPython": (_venv_python(".venv"), None),
    "free-threaded, GIL on": (_venv_python(".venv-ft"), 1),
    "free-threaded, GIL off": (_venv_python(".venv-ft"), 0),
}
STOCK, FT_ON, FT_OFF = SERVERS


def _flags(gil: int | None) -> list[str]:
    return [] if gil is None else ["-X", f"gil={gil}"]


def _limits(python: str, gil: int | None, what: str, *args: str) -> dict[str, Any]:
    """Run `loadtest.limits` under another interpreter; its JSON back."""
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        command = [python, *_flags(gil), "-m", "loadtest.limits", what, *args]
        subprocess.run(
            [*command, "--json", handle.name],
            cwd=PROJECT_ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=900,
        )
        return dict(json.loads(Path(handle.name).read_text()))


def _describe(python: str, gil: int | None) -> str:
    """'3.13.5 free-threaded build GIL off': the interpreter as the server runs it."""
    return build_and_gil(run_probe(python, _flags(gil)))


def _git_commit() -> str:
    """Short commit of this checkout, as recorded with every sweep (sweep.provenance)."""
    commit = git_commit()
    if commit is None:
        return "unknown"
    short = commit.removesuffix("-dirty")[:7]
    return short + (" (with uncommitted changes)" if commit.endswith("-dirty") else "")


def measure(work: Path, quick: bool) -> dict[str, Any]:
    cores = usable_cores()
    started = time.time()
    load_before = os.getloadavg()
    users, per_user = (2, 3) if quick else (4, 6)
    results: dict[str, Any] = {"cores": cores, "load": {}, "throughput": {}}
    image_dir = work / "images"

    for workload in ("pillow", "pure-python"):
        for label, (python, gil) in SERVERS.items():
            config = LoadConfig(
                workload=workload,
                users=users,
                images_per_user=per_user,
                concurrency=2 * cores,
                image_dir=image_dir,
            )
            run_dir = work / f"load-{workload}-{python.split('/')[-3]}-{gil}"
            results["load"][(workload, label)] = run_against_new_server(
                python, gil, config, run_dir
            )

    from loadtest.limits import sample_bytes
    from loadtest.throughput import Interpreter, Plan, measure_throughput

    images = sample_bytes(image_dir, 8 if quick else 12)
    plan = Plan(rounds=2, images=6, wrk_seconds=1, cores=cores) if quick else Plan(cores=cores)
    interpreters = [Interpreter(label, python, gil) for label, (python, gil) in SERVERS.items()]
    results["throughput"] = measure_throughput(interpreters, plan, work / "throughput", image_dir)

    results["pillow_limit"] = {
        label: _limits(
            python,
            gil,
            "pillow-limit",
            "--image-dir",
            str(image_dir),
            "--images",
            str(len(images)),
            "--rounds",
            "3" if quick else "5",
        )
        for label, (python, gil) in SERVERS.items()
    }
    from loadtest.limits import sweep_overhead

    results["overhead"] = sweep_overhead(
        work / "sweep", repeats=2 if quick else 3, images=4 if quick else 10
    )
    from loadtest.engine_pools import measure_engine_pools

    results["engine_pools"] = measure_engine_pools(work / "engine-pools", quick)
    results["wall_s"] = round(time.time() - started, 1)
    results["load_before"] = load_before
    results["load_after"] = os.getloadavg()
    return results


def environment() -> dict[str, Any]:
    host = host_info()
    return {
        "cpu": host.get("cpu_model") or platform.processor() or "unknown CPU",
        "logical_cores": host.get("logical_cores"),
        "physical_cores": host.get("physical_cores"),
        "memory_gb": host.get("memory_total_gib"),
        "os": host.get("os") or platform.platform(),
        "commit": _git_commit(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "client": f"Python {platform.python_version()}",
        "interpreters": {label: _describe(python, gil) for label, (python, gil) in SERVERS.items()},
    }


def schemathesis_summary() -> dict[str, Any] | None:
    """The summary `make schemathesis-long` wrote, if it has been run."""
    if not SCHEMATHESIS_SUMMARY.exists():
        return None
    return dict(json.loads(SCHEMATHESIS_SUMMARY.read_text()))
