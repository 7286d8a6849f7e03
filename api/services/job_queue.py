"""What the services need from a job engine: the embedded `JobManager` or the Celery one."""

from __future__ import annotations

from typing import Protocol


class JobQueue(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...

    def submit(self, job_id: int) -> None:
        """Job `job_id` was stored `queued` (and committed): get it run."""

    def stop_job(self, job_id: int) -> None:
        """Job `job_id` was deleted: stop it wherever it runs, never waiting."""

    def check_benchmark_host(self, host: str | None) -> None:
        """InvalidOperation if this engine cannot run a benchmark on `host`."""

    @property
    def running(self) -> int:
        """Jobs this process runs now."""
        ...
