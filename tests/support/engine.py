"""Celery worker processes of the job engine for the tests (`python -m api.worker`, started by
`loadtest.worker.WorkerProcess`), with the settings of the API servers they serve."""

from __future__ import annotations

import time
from collections.abc import Callable

from loadtest.worker import WorkerProcess

__all__ = ["WorkerProcess", "wait_for", "worker_pid"]


def wait_for(
    condition: Callable[[], object], timeout_s: float, what: str, poll_s: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll_s)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def worker_pid(claimed_by: str) -> int:
    """The pid in a claim (`host:pid:random`, api.services.job_runner.worker_identity)."""
    return int(claimed_by.split(":")[1])
