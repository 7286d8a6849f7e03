"""The worker side of the Celery engine: run one delivered job, once.

A worker process builds one `WorkerRuntime` (lazily, so a prefork child builds its own after
the fork). For each delivery it claims the job's row (`jobs.take`: a duplicate delivery of a
finished or deleted job does nothing), then runs it through `JobManager.execute`: the same
batch and benchmark code as the embedded engine, so a redelivered batch processes only its
pending items (what a killed worker committed stays, exactly once).

Limits and cancellation, checked while the job runs:
- the time limit sets the job's stop event (a batch stops between images, a sweep's running
  cell is killed): the job ends `failed` with the reason; if it has not stopped `grace` seconds
  later, its row is failed anyway and its claim dropped, so any write it still tries is refused;
- a cancel flag in Redis (set when the job is deleted) is polled for the jobs running here;
- a job delivered more than JOB_MAX_ATTEMPTS times (its workers keep dying) is failed.
"""

from __future__ import annotations

import logging
import threading

import redis

from api.core.database import Database
from api.core.models import utcnow
from api.core.settings import Settings
from api.core.storage import FileStore
from api.http.metrics import Metrics
from api.repositories import jobs
from api.services import job_events
from api.services.benchmarks import sweep_runner
from api.services.cpu_limiter import CpuLimiter
from api.services.engine.naming import cancel_key
from api.services.job_runner import DATABASE_ERRORS, INTERRUPTED, JobManager
from nogilbench.store.db import database_url

logger = logging.getLogger("api.jobs")

CANCEL_POLL_S = 0.5


class JobBusy(Exception):
    """This process runs the job already (a duplicate delivery): try it again later."""


class WorkerRuntime:
    transient_errors = DATABASE_ERRORS

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database = Database(database_url(settings.database_url), run_migrations=False)
        # this worker's commits wake the web processes' event streams (Redis pub/sub)
        job_events.install(
            self.database, job_events.for_settings(settings.redis_url or settings.celery_broker_url)
        )
        grace = settings.orphan_grace_seconds
        self.uploads = FileStore(settings.uploads_dir, grace)
        self.outputs = FileStore(settings.outputs_dir, grace)
        self.results = FileStore(settings.results_dir, grace)
        self.metrics = Metrics()
        self.manager = JobManager(
            self.database,
            self.uploads,
            self.outputs,
            self.results,
            self.metrics,
            settings.job_concurrency,
            settings.max_pixels,
            CpuLimiter(settings.cpu_workers),
            settings.result_ttl_hours * 3600,
            max_attempts=settings.job_max_attempts,
            quota_stored_bytes=settings.quota_stored_bytes,
            transient_errors=self.transient_errors,
        )
        self.manager.benchmark_runner = sweep_runner(self.database, settings.data_dir / "images")
        self.redis = redis.Redis.from_url(settings.celery_broker_url or "", socket_timeout=5)
        self.limit_s = settings.job_time_limit_seconds
        self.grace_s = settings.job_time_limit_grace_seconds
        self._lock = threading.Lock()
        self._active: set[int] = set()
        self._closed = threading.Event()
        self._watcher = threading.Thread(target=self._watch_cancels, name="api-job-cancels")
        self._watcher.daemon = True
        self._watcher.start()
        # The web processes only queue: the workers remove what a crash left on the shared
        # storage (files younger than the orphan grace are never taken: another process may
        # be about to commit them) and expire finished jobs' files after RESULT_TTL_HOURS.
        self.manager.start_housekeeping()

    @property
    def worker_id(self) -> str:
        return self.manager.worker_id

    def close(self) -> None:
        self._closed.set()
        self._watcher.join()
        self.manager.stop()  # the expiry loop (no worker threads were started)
        self.redis.close()
        job_events.uninstall(self.database)
        self.database.dispose()

    def run(self, job_id: int) -> str:
        """Run the delivered job; how it ended (completed, failed, lost, or `skipped`: gone,
        finished or cancelled before it started). Transient errors propagate (retried)."""
        if self.redis.exists(cancel_key(job_id)):
            return "skipped"
        with self._lock:
            if job_id in self._active:
                raise JobBusy(job_id)
            self._active.add(job_id)
        try:
            return self._run(job_id)
        finally:
            with self._lock:
                self._active.discard(job_id)

    def _run(self, job_id: int) -> str:
        with self.database.session() as session:
            claimed = jobs.take(session, job_id, self.worker_id, utcnow())
            session.commit()
        if claimed is None:
            return "skipped"
        if claimed.attempts > self.settings.job_max_attempts:
            logger.warning("job %d: delivered %d times, failing it", job_id, claimed.attempts)
            self._fail(job_id, INTERRUPTED)
            return "failed"
        if claimed.attempts > 1:
            logger.warning("job %d: redelivered (attempt %d)", job_id, claimed.attempts)
        soft = threading.Timer(self.limit_s, self._time_out, (job_id,))
        hard = threading.Timer(self.limit_s + self.grace_s, self._hard_stop, (job_id,))
        for timer in (soft, hard):
            timer.daemon = True
            timer.start()
        try:
            return self.manager.execute(claimed)
        finally:
            soft.cancel()
            hard.cancel()

    def give_up(self, job_id: int, error: BaseException) -> None:
        """Retries exhausted: fail the job (it went back to `queued`, or is still ours)."""
        message = f"failed after {self.settings.job_retries} retries: {error}"
        with self.database.session() as session:
            if not jobs.fail_queued(session, job_id, message, utcnow()):
                jobs.fail_held(session, job_id, self.worker_id, message, utcnow())
            session.commit()

    def _time_out(self, job_id: int) -> None:
        logger.warning("job %d: past its time limit of %g s, stopping it", job_id, self.limit_s)
        reason = f"stopped: the job ran past its time limit of {self.limit_s:g} s"
        self.manager.stop_job(job_id, reason)

    def _hard_stop(self, job_id: int) -> None:
        message = (
            f"stopped: the job ran past its time limit of {self.limit_s:g} s and did not stop "
            f"within {self.grace_s:g} s more; what it still writes is refused"
        )
        logger.error("job %d: did not stop at its time limit; failing it", job_id)
        self._fail(job_id, message)

    def _fail(self, job_id: int, message: str) -> None:
        with self.database.session() as session:
            jobs.fail_held(session, job_id, self.worker_id, message, utcnow())
            session.commit()

    def _watch_cancels(self) -> None:
        """Stop the jobs running here whose cancel flag is up (their row was deleted)."""
        while not self._closed.wait(CANCEL_POLL_S):
            with self._lock:
                active = sorted(self._active)
            if not active:
                continue
            try:
                flags = self.redis.mget([cancel_key(job_id) for job_id in active])
            except redis.RedisError as exc:
                logger.warning("cannot read cancel flags: %s", exc)
                continue
            for job_id, flag in zip(active, flags, strict=True):
                if flag is not None:
                    self.manager.stop_job(job_id)
