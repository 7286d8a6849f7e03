"""The web side of the Celery engine: publish a stored job, cancel one. Runs no job.

`CeleryJobs` has the embedded `JobManager`'s interface (`start`, `stop`, `submit`,
`stop_job`, `running`), so the services do not know which engine they talk to.
"""

from __future__ import annotations

import logging
import uuid

import redis
from celery import Celery
from kombu.exceptions import OperationalError

from api.core.database import Database
from api.core.errors import QueueUnavailable
from api.core.models import utcnow
from api.core.settings import Settings
from api.repositories import jobs
from api.services.engine.celery_app import band, make_celery
from api.services.engine.naming import (
    CANCEL_TTL_S,
    JOBS_QUEUE,
    TASK_IDS,
    TASK_NAME,
    bench_queue,
    benchmark_host,
    cancel_key,
)

logger = logging.getLogger("api.jobs")

NOT_QUEUED = "the job queue was unavailable; submit the job again"
BROKER_ERRORS = (OperationalError, redis.RedisError, OSError)


class CeleryJobs:
    def __init__(self, settings: Settings, database: Database, app: Celery | None = None) -> None:
        self.settings = settings
        self.database = database
        self.app = app or make_celery(settings)
        self.redis = redis.Redis.from_url(settings.celery_broker_url or "", socket_timeout=5)
        self.default_host = benchmark_host(settings)

    # Web processes run no job: nothing to start, stop or count.
    def start(self) -> None:
        return None

    def stop(self) -> None:
        self.redis.close()
        self.app.close()  # its broker connections

    @property
    def running(self) -> int:
        return 0

    def check_benchmark_host(self, host: str | None) -> None:
        """Any host: its `bench.<host>` queue waits for that host's benchmark worker."""

    def route(self, kind: str, parameters: dict[str, object]) -> str:
        if kind == "benchmark":
            host = parameters.get("host") or self.default_host
            return bench_queue(str(host))
        return JOBS_QUEUE

    def submit(self, job_id: int) -> None:
        """Publish the stored job: to its queue, at its owner's fairness band. If the broker
        is down the job is failed (its slot freed) and the request answers 503."""
        with self.database.session() as session:
            job = jobs.get(session, job_id)
            if job is None:  # deleted already
                return
            queue = self.route(job.kind, job.parameters)
            priority = band(jobs.owner_rank(session, job))
        task_id = f"job-{job_id}-{uuid.uuid4().hex[:12]}"
        try:
            self.redis.hset(TASK_IDS, str(job_id), task_id)
            self.app.send_task(
                TASK_NAME, args=[job_id], task_id=task_id, queue=queue, priority=priority
            )
        except BROKER_ERRORS as exc:
            logger.error("job %d: cannot queue it: %s", job_id, exc)
            with self.database.session() as session:
                jobs.fail_queued(session, job_id, NOT_QUEUED, utcnow())
                session.commit()
            raise QueueUnavailable("the job queue is unavailable; try again shortly") from None
        logger.debug("job %d queued on %s at priority %d", job_id, queue, priority)

    def stop_job(self, job_id: int) -> None:
        """The job's row is gone: revoke its message (a queued job never starts) and raise
        its cancel flag (the worker running it stops at its next safe point)."""
        try:
            task_id = self.redis.hget(TASK_IDS, str(job_id))
            self.redis.set(cancel_key(job_id), b"1", ex=CANCEL_TTL_S)
            self.redis.hdel(TASK_IDS, str(job_id))
            if task_id:
                self.app.control.revoke(task_id.decode())
        except BROKER_ERRORS as exc:
            # The row is gone anyway: the worker's next write finds that and stops.
            logger.warning("job %d: cannot signal its cancellation: %s", job_id, exc)
