"""A worker process of the Celery job engine (`python -m api.worker`), started with the
settings of the API server it works for: the tests and the engine's pool measurements
(loadtest/engine_pools.py) share it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

from loadtest.server import ServerProcess
from nogilbench.paths import PROJECT_ROOT


class WorkerProcess:
    """One `python -m api.worker` in its own session; `server` gives it the same settings
    (database, data folder, broker) as the API process it works for. `python` and `gil`
    run it on another interpreter than the server's (the free-threaded build, GIL off)."""

    def __init__(
        self,
        server: ServerProcess,
        name: str,
        *args: str,
        python: str | None = None,
        gil: int | None = None,
    ) -> None:
        flags = [] if gil is None else ["-X", f"gil={gil}"]
        self.command = [python or server.python, *flags, "-m", "api.worker", *args]
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
                cwd=PROJECT_ROOT,
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
