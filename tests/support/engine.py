"""Celery worker processes of the job engine for the tests (`python -m api.worker`), with
the settings of the API servers they serve."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable

from loadtest.server import ServerProcess
from tests.support import ROOT


class WorkerProcess:
    """One `python -m api.worker` in its own session; `server` gives it the same settings
    (database, data folder, broker) as the API process it works for."""

    def __init__(self, server: ServerProcess, name: str, *args: str) -> None:
        self.command = [server.python, "-m", "api.worker", *args]
        self.environment = server.environment()
        self.log_path = server.data_dir / f"worker-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:] if self.log_path.exists() else ""

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM (Celery's warm shutdown), SIGKILL if it does not end in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)


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
