"""Names the engine's two sides agree on: the task, the queues, the engine's Redis keys.

Imports neither Celery nor redis: the embedded engine checks a benchmark's host with it.
"""

from __future__ import annotations

import socket

from api.core.settings import Settings

TASK_NAME = "nogilbench.run_job"
JOBS_QUEUE = "jobs"
BENCH_PREFIX = "bench."
CANCEL_TTL_S = 7 * 24 * 3600  # a flag outlives any message that could still name the job
TASK_IDS = "nogilbench:job-task"  # hash: job id -> the id of the Celery task that runs it


def benchmark_host(settings: Settings) -> str:
    """The host benchmarks run on unless a request names one."""
    return settings.benchmark_host or socket.gethostname()


def bench_queue(host: str) -> str:
    """A host's benchmark queue: only that host's `--benchmarks` worker consumes it."""
    return f"{BENCH_PREFIX}{host}"


def cancel_key(job_id: int) -> str:
    return f"nogilbench:cancel:{job_id}"
