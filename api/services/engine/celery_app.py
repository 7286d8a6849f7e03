"""The Celery app both sides share: broker, queues, priorities and delivery guarantees.

- `acks_late` + `reject_on_worker_lost`, prefetch 1: a message is acknowledged when its job
  has ended, so a worker that dies mid-job (SIGKILL, host lost) leaves it unacknowledged and
  the broker redelivers it after the visibility timeout (`Settings.redelivery_seconds`,
  longer than a job's time limit, so a live job is never delivered twice); the row's claim
  fences off a stale holder anyway (`api.repositories.jobs.take`).
- Fairness: a job's priority is its rank among its owner's active jobs (0 for the first).
  The Redis transport pops priority 0 before 1 ..., so every user's first job runs before
  anyone's second: one user's long backlog cannot hold every worker (not FIFO by job id).
- Batches go to the `jobs` queue; a benchmark to `bench.<host>`, consumed only by that host's
  benchmark worker (concurrency 1: it runs alone there).
"""

from __future__ import annotations

from celery import Celery

from api.core.settings import Settings
from api.services.engine.naming import JOBS_QUEUE

PRIORITY_BANDS = 10  # the Redis transport's priorities 0..9; ranks past 9 share band 9
# How often a worker looks for unacknowledged messages whose visibility timeout passed.
RESTORE_INTERVAL_S = 5


def band(rank: int) -> int:
    return min(max(rank, 0), PRIORITY_BANDS - 1)


def make_celery(settings: Settings) -> Celery:
    if not settings.celery_broker_url:
        raise ValueError("the Celery engine needs CELERY_BROKER_URL")
    app = Celery("nogilbench", broker=settings.celery_broker_url, set_as_current=False)
    app.conf.update(
        task_default_queue=JOBS_QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        task_ignore_result=True,  # progress and results live in the database
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,  # a worker holds only what it runs (fairness, redelivery)
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": settings.redelivery_seconds,
            "priority_steps": list(range(PRIORITY_BANDS)),
            "unacked_restore_interval": RESTORE_INTERVAL_S,
            "unacked_restore_throttle": 1,
        },
    )
    return app
