"""Background execution of persisted jobs (batches and benchmark sweeps), safe across workers.

Jobs are rows first: the request stores the job `queued` and nudges the local `JobManager`.
Every manager (one per uvicorn worker process, on any host) runs `concurrency` threads that
claim jobs with one conditional UPDATE ... RETURNING (FOR UPDATE SKIP LOCKED on PostgreSQL),
so each job is taken by exactly one worker, whichever process the request reached. Idle
threads look for work every JOB_POLL_SECONDS (a job submitted through another process).

A claim is a lease: the manager's heartbeat renews it every third of JOB_LEASE_SECONDS. A job
whose worker died (killed, host lost) keeps its lease only until it expires; then exactly one
other worker claims it again and resumes it (a batch processes only its pending items; a sweep
resumes its cells). A job abandoned JOB_MAX_ATTEMPTS times is failed instead. Every write of a
running job checks that this worker still holds it, so a worker that lost its lease stops
(the heartbeat also sets the job's stop event: a sweep's running cell is killed).

Each running job has a stop event (`_run` registers it, `_run_claimed` runs the claimed job).
A graceful shutdown sets them all: a batch stops between images, a sweep's running cell is
killed, and the job goes back to the queue with its claim released, so it is re-run (by any
worker) instead of being left half done. `stop_job` stops one job whose row was deleted
(DELETE /api/jobs/{id}): it never waits for it. The job ends at its next safe point, and
whatever it writes meanwhile finds its row gone and is removed.

A batch fans its images out over a nogilbench runner (`make_runner(method, workers)`), so the
API measures exactly what the benchmarks measure. Its image work takes tokens from the same
CPU limiter as single requests: one per worker (at most the limiter's size), chunk by chunk,
so batches and requests share the cores. Progress is written to the database as each image
finishes, which is what `GET /api/jobs/{id}` and the SSE stream read.

Outputs count against the owner's stored bytes as they are written: each output's bytes are
reserved (a conditional UPDATE of the owner's usage row) in the transaction that records it,
and the archive's bound before it is streamed to disk. A batch that would pass the quota stops,
failed with the reason, and its outputs are deleted (nothing could download them).

Start-up: files a crash left between writing and committing (named by no row, older than
the process) are removed. Finished jobs' outputs and archives expire after `result_ttl_s`
(`expire_results`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from api.core.database import Database
from api.core.models import Job, JobItem, utcnow
from api.core.storage import FileStore
from api.http.metrics import Metrics
from api.repositories import jobs, usage
from api.repositories.jobs import Claimed
from api.repositories.usage import ACTIVE, Quotas
from api.services.cpu_limiter import CpuLimiter, LimiterWaitStopped
from nogilbench.concurrency.runners import make_runner
from nogilbench.errors import (
    InvalidOperation,
    NogilbenchError,
    StoreUnavailable,
    SweepCancelled,
)
from nogilbench.imaging.pipeline import parse_pipeline

logger = logging.getLogger("api.jobs")

INTERRUPTED = "the server stopped while this job was running"
DATABASE_ERRORS = (StoreUnavailable, SQLAlchemyError)
EXPIRY_INTERVAL_S = 300.0
CANCELLED = "cancelled"
TERMINAL = ("completed", "failed")
UNLIMITED = 2**63 - 1
# A stored (uncompressed) zip entry beyond its data: local header (30) and central directory
# record (46) plus the name twice, ZIP64 extras and a data descriptor at most; then the end.
ZIP_ENTRY_OVERHEAD = 30 + 46 + 64
ZIP_END_OVERHEAD = 22 + 56 + 20 + 64

# The benchmark hook: (job, progress(done, total), stop event) -> sweep id.
BenchmarkRunner = Callable[[Job, Callable[[int, int], None], threading.Event], int]


class JobStopped(Exception):
    """Raised inside a job when the server shuts down; the job is re-queued."""


class LeaseLost(Exception):
    """This worker no longer holds the job (its lease expired and another worker took it)."""


class OverQuota(Exception):
    """The job's next output (or its archive) would pass its owner's stored-bytes quota."""


def worker_identity() -> str:
    """Names this process's claims: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def process_file(task: tuple[str, dict[str, Any], int]) -> tuple[bool, bytes | str]:
    """One batch item, in any worker (thread, process): (True, output) or (False, reason).

    Module-level and argument-only so a process pool can pickle it by reference.
    """
    path, raw_pipeline, max_pixels = task
    try:
        pipeline = parse_pipeline(raw_pipeline)
        return True, pipeline.render(Path(path).read_bytes(), max_pixels).data
    except NogilbenchError as exc:
        return False, exc.message
    except OSError as exc:
        return False, f"cannot read the source image: {exc.strerror or exc}"


class JobManager:
    def __init__(
        self,
        database: Database,
        uploads: FileStore,
        outputs: FileStore,
        results: FileStore,
        metrics: Metrics,
        concurrency: int,
        max_pixels: int,
        cpu: CpuLimiter,
        result_ttl_s: float = 24 * 3600.0,
        *,
        lease_seconds: float = 30.0,
        poll_seconds: float = 1.0,
        max_attempts: int = 2,
        quota_stored_bytes: int = UNLIMITED,
        transient_errors: tuple[type[Exception], ...] = (),
    ) -> None:
        self.database = database
        self.uploads = uploads
        self.outputs = outputs
        self.results = results
        self.metrics = metrics
        self.concurrency = concurrency
        self.max_pixels = max_pixels
        self.cpu = cpu
        self.result_ttl_s = result_ttl_s
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self.max_attempts = max_attempts
        # Errors that put a job back in the queue with what it committed, to be retried later
        # (the Celery engine's backoff); none here: one process has no one to retry it.
        self.transient_errors = transient_errors
        # Only stored bytes grow here (active jobs are taken when a job is submitted).
        self.quotas = Quotas(images=0, stored_bytes=quota_stored_bytes, active_jobs=0)
        self.worker_id = worker_identity()
        self._threads: list[threading.Thread] = []
        self._heartbeat_thread: threading.Thread | None = None
        self._expiry: threading.Thread | None = None
        self._stopping = threading.Event()
        self._heartbeat_stop = threading.Event()
        self._wake = threading.Semaphore(0)
        self._recovered = False
        self._lock = threading.Lock()
        self._running = 0
        self._held: set[int] = set()  # jobs this process runs now (their leases are renewed)
        self._lost: set[int] = set()  # ... of which another worker has taken over
        self._database_down = False
        # Per running job: its stop event (set by cancel, shutdown or a lost lease), its end.
        self._stops: dict[int, threading.Event] = {}
        self._ended: dict[int, threading.Event] = {}
        self._cancelled: dict[int, str] = {}  # job -> why it stops for good
        self.benchmark_runner: BenchmarkRunner | None = None
        self.benchmark_host = socket.gethostname()  # the only host this process measures
        # Files older than this cannot belong to a write still in flight in this process:
        # nothing is written before the manager exists. (The OS's process start time is
        # rounded to the boot time's whole second and could leave a killed run's file.)
        self.process_started = time.time()

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._heartbeat_stop.clear()
        try:
            self.recover()
        except DATABASE_ERRORS as exc:
            logger.warning("start-up file sweep postponed, the database is unavailable: %s", exc)
        self._threads = [
            threading.Thread(target=self._work, name=f"api-job-{n}", daemon=True)
            for n in range(self.concurrency)
        ]
        self._heartbeat_thread = threading.Thread(
            target=self._heartbeat, name="api-job-heartbeat", daemon=True
        )
        self._expiry = threading.Thread(target=self._expire_loop, name="api-expiry", daemon=True)
        for thread in (*self._threads, self._heartbeat_thread, self._expiry):
            thread.start()

    def start_housekeeping(self) -> None:
        """Only the start-up file sweep and the result expiry loop, no worker threads: for a
        process whose jobs another engine delivers (a Celery worker calls `run` itself)."""
        self._stopping.clear()
        try:
            self.recover()
        except DATABASE_ERRORS as exc:
            logger.warning("start-up file sweep postponed, the database is unavailable: %s", exc)
        self._expiry = threading.Thread(target=self._expire_loop, name="api-expiry", daemon=True)
        self._expiry.start()

    def stop(self) -> None:
        """Stop claiming and stop every running job (a batch between images, a sweep's cell
        is killed); each goes back to the queue, its claim released."""
        with self._lock:
            self._stopping.set()
            for event in self._stops.values():
                event.set()
        for _ in self._threads:
            self._wake.release()
        for thread in self._threads:
            thread.join()
        self._threads = []
        # The heartbeat outlives the workers: a job being re-queued still holds its lease.
        self._heartbeat_stop.set()
        if self._heartbeat_thread is not None:
            self._heartbeat_thread.join()
            self._heartbeat_thread = None
        if self._expiry is not None:
            self._expiry.join()
            self._expiry = None

    # -- expiry ----------------------------------------------------------------------------

    def _expire_loop(self) -> None:
        interval = min(EXPIRY_INTERVAL_S, self.result_ttl_s / 4)
        while not self._stopping.wait(interval):
            try:
                self.expire_results()
            except DATABASE_ERRORS as exc:
                logger.warning("result expiry postponed, the database is unavailable: %s", exc)
            except Exception:
                logger.exception("result expiry failed")

    def expire_results(self, now: datetime | None = None) -> int:
        """Delete the outputs and zips of jobs finished more than `result_ttl_s` ago; the
        rows stay (history) and stop naming the files. Returns how many jobs expired."""
        cutoff = (now or utcnow()) - timedelta(seconds=self.result_ttl_s)
        with self.database.session() as session:
            expired = jobs.expired_files(session, cutoff)
            for job_id, _outputs, _archive in expired:
                jobs.forget_files(session, job_id)
            session.commit()
        # Rows first, files after: a crash in between leaves files the start-up sweep removes.
        for _job_id, outputs, archive in expired:
            for name in outputs:
                self.outputs.delete(name)
            self.results.delete(archive)
        if expired:
            logger.info("expired the outputs of %d finished job(s)", len(expired))
        return len(expired)

    def recover(self) -> None:
        """Once per process: remove the files a crash left behind (no row names them)."""
        with self._lock:
            if self._recovered:
                return
            with self.database.session() as session:
                referenced = jobs.referenced_files(session)
            self._recovered = True
        self._sweep(referenced)

    def _sweep(self, referenced: dict[str, set[str]]) -> None:
        """Delete the files a crash left behind: in this service's own folders, named by it,
        older than this process and named by no row (written, then killed before the commit).
        """
        removed = 0
        for kind, store in (
            ("uploads", self.uploads),
            ("outputs", self.outputs),
            ("results", self.results),
        ):
            removed += len(store.sweep(referenced[kind], older_than=self.process_started))
        if removed:
            logger.warning("removed %d unreferenced file(s) left by an interrupted write", removed)

    @property
    def running(self) -> int:
        return self._running

    def _count_running(self, delta: int) -> None:
        with self._lock:
            self._running += delta
        self.metrics.jobs_running.inc(delta)

    def submit(self, job_id: int) -> None:
        """A job was stored `queued`: wake an idle worker thread of this process.

        Any worker of any process may claim it; this only saves the poll interval.
        """
        if not self._recovered:
            self.recover()
        if not self._threads:
            raise RuntimeError("the job manager is not running")
        logger.debug("job %d queued", job_id)
        self._wake.release()

    def check_benchmark_host(self, host: str | None) -> None:
        if host is not None and host != self.benchmark_host:
            raise InvalidOperation(
                f"this server measures on its own host only ({self.benchmark_host}); "
                "other hosts need the Celery engine (JOB_ENGINE=celery)",
                "host",
            )

    def stop_job(self, job_id: int, reason: str = CANCELLED) -> None:
        """Job `job_id` was deleted: if this process runs it, it stops at its next safe point
        (a batch between images, a sweep's cell killed). Never waits.

        Claimed here but not started yet: it ends before doing any work. Run by another
        process: that worker's heartbeat finds the row gone and stops it the same way.
        """
        with self._lock:
            if job_id in self._held:
                self._cancelled.setdefault(job_id, reason)
            stop = self._stops.get(job_id)
            if stop is not None:
                stop.set()

    # -- claiming --------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stopping.is_set():
            claimed = self._claim()
            if claimed is None:
                self._wake.acquire(timeout=self.poll_seconds)
                continue
            self._run(claimed)

    def _claim(self) -> Claimed | None:
        now = utcnow()
        try:
            with self.database.session() as session:
                failed = jobs.fail_exhausted(session, self.max_attempts, INTERRUPTED, now)
                claimed = jobs.claim_next(session, self.worker_id, now, now + self.lease)
                session.commit()
        except DATABASE_ERRORS as exc:
            if not self._database_down:
                logger.warning("cannot claim jobs, the database is unavailable: %s", exc)
            self._database_down = True
            return None
        self._database_down = False
        if failed:
            logger.warning(
                "failed %d job(s) whose workers stopped %d times", failed, self.max_attempts
            )
        if claimed is not None:
            with self._lock:
                self._held.add(claimed.job_id)
                self._lost.discard(claimed.job_id)
            if claimed.attempts > 1:
                logger.warning(
                    "job %d: its worker stopped; resuming it (attempt %d)",
                    claimed.job_id,
                    claimed.attempts,
                )
        return claimed

    def _heartbeat(self) -> None:
        """Renew the leases of the jobs this process runs; flag the ones it lost."""
        interval = self.lease.total_seconds() / 3
        while not self._heartbeat_stop.wait(interval):
            with self._lock:
                held = sorted(self._held)
            if not held:
                continue
            now = utcnow()
            try:
                with self.database.session() as session:
                    kept = jobs.renew_leases(session, self.worker_id, held, now + self.lease)
                    session.commit()
            except DATABASE_ERRORS as exc:
                logger.warning("cannot renew job leases: %s", exc)
                continue
            with self._lock:
                lost = (set(held) - kept) & self._held
                self._lost |= lost
                for job_id in lost:  # stop it now: a sweep's running cell is killed
                    stop = self._stops.get(job_id)
                    if stop is not None:
                        stop.set()
            for job_id in sorted(lost):
                logger.warning(
                    "job %d: lease lost (another worker took it over, or it was cancelled)",
                    job_id,
                )

    def _check_held(self, job_id: int) -> None:
        with self._lock:
            lost = job_id in self._lost
        if lost:
            raise LeaseLost

    # -- running ---------------------------------------------------------------------------

    def execute(self, claimed: Claimed) -> str:
        """Run a job claimed elsewhere (a Celery task took it): the same path as a claim
        made here. Returns how it ended: completed, failed, queued or lost."""
        with self._lock:
            self._held.add(claimed.job_id)
            self._lost.discard(claimed.job_id)
        return self._run(claimed)

    def _run(self, claimed: Claimed) -> str:
        """Run a job this worker has just claimed, with a stop event of its own (set by
        `cancel`, by `stop` and by the heartbeat when the lease is lost)."""
        job_id = claimed.job_id
        stop, ended = threading.Event(), threading.Event()
        with self._lock:
            self._stops[job_id], self._ended[job_id] = stop, ended
            if self._stopping.is_set() or job_id in self._cancelled or job_id in self._lost:
                stop.set()  # cancelled (or shutting down) between the claim and now
        try:
            return self._run_claimed(claimed, stop)
        finally:
            with self._lock:
                self._stops.pop(job_id, None)
                self._ended.pop(job_id, None)
                self._cancelled.pop(job_id, None)
                self._held.discard(job_id)
                self._lost.discard(job_id)
            ended.set()

    def _run_claimed(self, claimed: Claimed, stop: threading.Event) -> str:
        job_id, kind = claimed.job_id, claimed.kind
        self._count_running(+1)
        status = "failed"
        try:
            if stop.is_set():
                raise JobStopped  # it never starts
            run = self._run_batch if kind == "batch" else self._run_benchmark
            status = run(job_id, stop)
        except JobStopped:
            with self._lock:
                lost, cancelled = job_id in self._lost, self._cancelled.get(job_id)
            if lost:
                status = "lost"
                logger.warning("job %d: stopped here, this worker no longer holds it", job_id)
            elif cancelled:
                status = "failed"
                self._finish(job_id, "failed", cancelled)
            else:
                # Back to the queue, its claim released: any worker may take it again.
                status = "queued"
                self._finish(job_id, "queued", None, started=False)
        except LeaseLost:
            status = "lost"
            logger.warning("job %d: stopped here, another worker holds it now", job_id)
        except self.transient_errors:
            # Back to the queue with the items it committed; the caller retries it later.
            status = "queued"
            self._finish(job_id, "queued", None, started=False)
            raise
        except NogilbenchError as exc:
            self._finish(job_id, "failed", exc.message)
        except Exception as exc:
            logger.exception("job %d crashed", job_id)
            self._finish(job_id, "failed", f"internal error: {type(exc).__name__}")
        finally:
            self._count_running(-1)
            if status not in ("queued", "lost"):
                self.metrics.jobs.labels(kind, status).inc()
        return status

    def _finish(
        self,
        job_id: int,
        status: str,
        error: str | None,
        *,
        started: bool = True,
        release_bytes: int = 0,
        **values: Any,
    ) -> bool:
        """Record the job's end (or its return to the queue) and give up the claim; a job
        that ends frees its owner's active-job slot (and `release_bytes` of stored bytes).

        False if it could not be recorded, or if another worker holds the job now.
        """
        try:
            with self.database.session() as session:
                job = session.get(Job, job_id, with_for_update=True)
                if job is None or job.claimed_by != self.worker_id:
                    return False
                ends = int(job.status in ACTIVE and status in TERMINAL)  # frees its slot
                usage.release(session, job.owner_id, active_jobs=ends, stored_bytes=release_bytes)
                job.status, job.error = status, error
                job.finished_at = utcnow() if started else None
                job.lease_expires_at = None  # claimed_by stays: which worker ran it last
                if not started:  # back to the queue: this run does not count as an attempt
                    job.started_at, job.claimed_by = None, None
                    job.attempts = max(0, job.attempts - 1)
                for key, value in values.items():
                    setattr(job, key, value)
                session.commit()
        except DATABASE_ERRORS:
            logger.exception("job %d: cannot record its end (%s)", job_id, status)
            return False
        return True

    def _run_batch(self, job_id: int, stop: threading.Event) -> str:
        with self.database.session() as session:
            job = jobs.get(session, job_id)
            assert job is not None
            items = jobs.items(session, job_id)
            raw_pipeline = job.parameters["pipeline"]
            method, workers = job.method, job.workers
        pipeline = parse_pipeline(raw_pipeline)
        extension = {"jpeg": "jpg"}.get(pipeline.format, pipeline.format)
        # A job resumed after its worker died keeps what that worker committed.
        outputs: dict[int, str] = {
            index: item.output_name
            for index, item in enumerate(items)
            if item.status == "completed" and item.output_name
        }
        errors: dict[int, str] = {
            index: item.error or "failed"
            for index, item in enumerate(items)
            if item.status == "failed"
        }
        pending = [index for index, item in enumerate(items) if item.status == "pending"]
        tasks = [
            (str(self.uploads.path(items[index].source_name)), raw_pipeline, self.max_pixels)
            for index in pending
        ]

        def on_result(task_index: int, result: tuple[bool, bytes | str]) -> None:
            index = pending[task_index]
            self._check_held(job_id)
            ok, payload = result
            if ok:
                assert isinstance(payload, bytes)
                outputs[index] = self._record_output(job_id, items[index].id, payload, extension)
                self.metrics.images_processed.labels("batch").inc()
            else:
                errors[index] = str(payload)
                self._record_failure(job_id, items[index].id, str(payload))
            if stop.is_set():
                raise JobStopped

        try:
            if tasks:
                self._map(method, workers, tasks, on_result, stop)
            self._check_held(job_id)
            return self._complete(job_id, items, outputs, errors, extension)
        except (LimiterWaitStopped, JobStopped):
            self._drop_outputs(job_id, requeue=True)
            raise JobStopped from None
        except OverQuota as exc:
            self._drop_outputs(job_id, requeue=False, error=str(exc))
            return "failed"

    def _map(
        self,
        method: str,
        workers: int,
        tasks: list[tuple[str, dict[str, Any], int]],
        on_result: Callable[[int, tuple[bool, bytes | str]], None],
        stop: threading.Event,
    ) -> None:
        with make_runner(method, workers) as runner:
            start = 0
            while start < len(tasks):
                # One CPU token per worker; released between chunks so requests and other
                # jobs get their turn.
                with self.cpu.hold(workers, stop) as held:
                    chunk = tasks[start : start + held]
                    runner.map(
                        process_file,
                        chunk,
                        on_result=lambda index, result, base=start: on_result(base + index, result),
                    )
                start += len(chunk)

    def _held_job(self, session: Session, job_id: int) -> Job:
        """The job's row, locked (PostgreSQL): only the holder of the claim writes."""
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.claimed_by != self.worker_id:
            raise LeaseLost
        return job

    def _over_quota(self, session: Session, owner_id: int, wanted: int, what: str) -> OverQuota:
        kept = usage.get(session, owner_id).stored_bytes
        return OverQuota(
            f"stopped: {what} ({wanted:,} bytes) would pass your storage quota of "
            f"{self.quotas.stored_bytes:,} bytes ({kept:,} kept); its outputs were deleted. "
            "Delete images or jobs, then run it again"
        )

    def _record_output(
        self, job_id: int, item_id: int | None, payload: bytes, extension: str
    ) -> str:
        """Reserve the output's bytes, write it and record it, in one transaction: a file
        exists only while its bytes are counted (else the quota stops the job first)."""
        output_name = FileStore.new_name(extension)
        try:
            with self.database.session() as session:
                job = self._held_job(session, job_id)
                taken = usage.reserve(session, job.owner_id, self.quotas, stored_bytes=len(payload))
                if taken is None:
                    raise self._over_quota(session, job.owner_id, len(payload), "the next output")
                self.outputs.write(output_name, payload)
                item = session.get(JobItem, item_id)
                assert item is not None
                item.status, item.error = "completed", None
                item.output_name, item.output_size_bytes = output_name, len(payload)
                job.done += 1
                session.commit()
        except BaseException:
            # Not committed, so nothing refers to the file. (A crash right here leaves it
            # behind; the start-up sweep removes such files.)
            self.outputs.delete(output_name)
            raise
        return output_name

    def _record_failure(self, job_id: int, item_id: int | None, reason: str) -> None:
        with self.database.session() as session:
            job = self._held_job(session, job_id)
            item = session.get(JobItem, item_id)
            assert item is not None
            item.status, item.output_name, item.error = "failed", None, reason
            job.failed += 1
            session.commit()

    def _drop_outputs(self, job_id: int, *, requeue: bool, error: str | None = None) -> None:
        """Requeue: its items go back to pending (its next run redoes them). Otherwise the
        job ends failed with `error`. Either way its outputs and archive are deleted and no
        longer count against its owner.

        Rows first, files after: a crash in between leaves unreferenced files (swept at the
        next start), never rows that point at deleted files.
        """
        with self.database.session() as session:
            job = session.get(Job, job_id, with_for_update=True)
            if job is None or job.claimed_by != self.worker_id:
                # Lost (another worker resumes from these rows and files) or deleted (its
                # files went with it): neither is this worker's to reset.
                return
            dropped = jobs.drop_outputs(session, job, pending=requeue)
            session.commit()
        for name in dropped.outputs:
            self.outputs.delete(name)
        self.results.delete(dropped.archive)
        if not requeue:
            self._finish(job_id, "failed", error)

    def _complete(
        self,
        job_id: int,
        items: list[JobItem],
        outputs: dict[int, str],
        errors: dict[int, str],
        extension: str,
    ) -> str:
        """Stream the zip of the outputs to disk, its bytes counted (a bound reserved before
        it is written, the exact size once it is), and record the job's end."""
        entries = [
            (f"{item.position + 1:03d}-{Path(item.filename).stem or 'image'}.{extension}", name)
            for index, item in enumerate(items)
            if (name := outputs.get(index)) is not None
        ]
        failures = [
            f"{item.position + 1:03d} {item.filename}: {errors.get(index, 'not processed')}"
            for index, item in enumerate(items)
            if index not in outputs
        ]
        report = ("\n".join(failures) + "\n").encode() if failures else b""
        paths = [(arcname, self.outputs.path(name)) for arcname, name in entries]
        bound = ZIP_END_OVERHEAD + sum(
            ZIP_ENTRY_OVERHEAD + 2 * len(arcname.encode()) + path.stat().st_size
            for arcname, path in paths
        )
        if report:
            bound += ZIP_ENTRY_OVERHEAD + 2 * len("FAILED.txt") + len(report)
        self._reserve_archive(job_id, bound)
        result_name = FileStore.new_name("zip")

        def fill(handle: BinaryIO) -> None:
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
                for arcname, path in paths:
                    archive.write(path, arcname)  # copied in chunks, never whole in memory
                if report:
                    archive.writestr("FAILED.txt", report)

        size = self.results.write_with(result_name, fill)
        status = "completed" if outputs or not items else "failed"
        error = None if status == "completed" else "no image could be processed"
        recorded = self._finish(
            job_id,
            status,
            error,
            release_bytes=bound - size,
            result_name=result_name,
            result_size_bytes=size,
        )
        if not recorded:
            self.results.delete(result_name)  # the job row does not name it
        return status

    def _reserve_archive(self, job_id: int, bound: int) -> None:
        """Count `bound` bytes for the archive about to be written (on the job's row, so a
        delete, an expiry or a resumed run accounts for them); OverQuota if they do not fit."""
        with self.database.session() as session:
            job = self._held_job(session, job_id)
            growth = bound - (job.result_size_bytes or 0)  # a resumed run reserved before
            if usage.reserve(session, job.owner_id, self.quotas, stored_bytes=growth) is None:
                raise self._over_quota(session, job.owner_id, bound, "the archive")
            job.result_size_bytes = bound
            session.commit()

    def _run_benchmark(self, job_id: int, stop: threading.Event) -> str:
        with self.database.session() as session:
            job = jobs.get(session, job_id)
            assert job is not None
        if self.benchmark_runner is None:
            raise NogilbenchError("benchmarks are not available on this server")

        def progress(done: int, total: int) -> None:
            self._check_held(job_id)
            with self.database.session() as session:
                row = jobs.get(session, job_id)
                if row is not None:
                    row.done, row.total = done, total
                    session.commit()

        try:
            sweep_id = self.benchmark_runner(job, progress, stop)
        except SweepCancelled:
            raise JobStopped from None
        self._finish(job_id, "completed", None, sweep_id=sweep_id)
        return "completed"
