"""The one Celery task: run job N (`WorkerRuntime.run`), retried with exponential backoff
when a transient error (the database unreachable) put it back in the queue."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import Celery, Task

from api.services.engine.naming import TASK_NAME
from api.services.engine.runtime import JobBusy, WorkerRuntime
from nogilbench.concurrency.base import gil_enabled

logger = logging.getLogger("api.jobs")

MAX_BACKOFF_S = 300.0


def backoff_seconds(first_s: float, retries: int) -> float:
    """first, 2x first, 4x first ... capped (below any visibility timeout)."""
    return min(first_s * 2**retries, MAX_BACKOFF_S)


def register(app: Celery, runtime: Callable[[], WorkerRuntime]) -> Task:
    """Register the task on `app`; `runtime()` gives this process's runtime (built once)."""

    @app.task(name=TASK_NAME, bind=True, max_retries=None)
    def run_job(self: Task, job_id: int) -> str:
        worker = runtime()
        settings = worker.settings
        delivery = self.request.delivery_info or {}
        route: dict[str, Any] = {"queue": delivery.get("routing_key") or None}
        if delivery.get("priority") is not None:
            route["priority"] = delivery["priority"]
        try:
            outcome = worker.run(job_id)
        except JobBusy:
            # Redelivered while it still runs here: look again after the redelivery delay.
            raise self.retry(countdown=settings.redelivery_seconds, **route) from None
        except worker.transient_errors as exc:
            retries = self.request.retries
            if retries >= settings.job_retries:
                logger.error("job %d: giving up after %d retries: %s", job_id, retries, exc)
                try:
                    worker.give_up(job_id, exc)
                except worker.transient_errors as again:
                    # Failing the job needs the database too: keep the message (at the longest
                    # delay) so the job is failed, or run, once it is back, never left queued
                    # holding its owner's active-job slot.
                    logger.warning("job %d: cannot fail it yet (%s); retry later", job_id, again)
                    raise self.retry(countdown=MAX_BACKOFF_S, **route) from None
                return "failed"
            delay = backoff_seconds(settings.job_retry_backoff_seconds, retries)
            logger.warning("job %d: transient error (%s); retry in %g s", job_id, exc, delay)
            raise self.retry(countdown=delay, **route) from None
        # The GIL as this process has it after the job: an extension a job imported may have
        # turned it on, and a benchmark of the worker pools checks this line
        # (`loadtest.engine_pools`).
        logger.info("job %d: %s (%s)", job_id, outcome, "GIL on" if gil_enabled() else "GIL off")
        return outcome

    return run_job
