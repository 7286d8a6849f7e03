"""What the process is running on: interpreter, build, GIL state now, threads, CPU, memory."""

from __future__ import annotations

import os
import platform
import sys
import sysconfig
import threading
import time
from importlib import metadata
from typing import Any

import psutil

from nogilbench.concurrency.base import gil_enabled
from nogilbench.imaging.codec import OUTPUT_FORMATS
from nogilbench.imaging.operations import OPERATIONS
from nogilbench.imaging.pipeline import pipeline_json_schema

PACKAGES = (
    "nogilbench",
    "fastapi",
    "starlette",
    "pydantic",
    "sqlalchemy",
    "sqlmodel",
    "pillow",
    "uvicorn",
    "psutil",
)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


class SystemService:
    def __init__(self) -> None:
        self.process = psutil.Process()
        self.process.cpu_percent(None)  # primes the counter: later calls measure since then
        self.started = time.time()

    def info(self, cpu_workers: int, cpu_busy: int, jobs_running: int) -> dict[str, Any]:
        with self.process.oneshot():
            memory = self.process.memory_info()
            threads = self.process.num_threads()
            cpu_percent = self.process.cpu_percent(None)
            cpu_times = self.process.cpu_times()
        virtual = psutil.virtual_memory()
        try:
            affinity = len(self.process.cpu_affinity() or [])
        except (AttributeError, psutil.Error):
            affinity = None
        build_free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
        return {
            "python": {
                "version": platform.python_version(),
                "implementation": platform.python_implementation(),
                "executable": sys.executable,
                "free_threaded_build": build_free_threaded,
                "gil_enabled": gil_enabled(),
                "gil_setting": os.environ.get("PYTHON_GIL") or sys._xoptions.get("gil"),
            },
            "process": {
                "pid": os.getpid(),
                "uptime_s": round(time.time() - self.started, 1),
                "os_threads": threads,
                "python_threads": threading.active_count(),
                "cpu_percent": cpu_percent,
                "cpu_user_s": round(cpu_times.user, 3),
                "cpu_system_s": round(cpu_times.system, 3),
                "rss_mb": round(memory.rss / 2**20, 1),
                "vms_mb": round(memory.vms / 2**20, 1),
            },
            "host": {
                "platform": platform.platform(),
                "machine": platform.machine(),
                "cpu_count_logical": psutil.cpu_count(logical=True),
                "cpu_count_physical": psutil.cpu_count(logical=False),
                "cpu_affinity": affinity,
                "memory_total_mb": round(virtual.total / 2**20, 1),
                "memory_available_mb": round(virtual.available / 2**20, 1),
                "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            },
            "service": {
                "cpu_limiter_size": cpu_workers,
                "cpu_limiter_busy": cpu_busy,
                "jobs_running": jobs_running,
            },
            "versions": {name: _version(name) for name in PACKAGES},
        }


def operations_listing() -> dict[str, Any]:
    return {
        "operations": [
            {
                "name": op.name,
                "summary": op.summary,
                "params": [
                    {"name": name, "schema": spec.json_schema(), "required": spec.default is None}
                    for name, spec in op.params.items()
                ],
            }
            for op in OPERATIONS.values()
        ],
        "pipeline_schema": pipeline_json_schema(),
        "output_formats": list(OUTPUT_FORMATS),
    }
