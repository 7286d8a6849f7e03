"""Background execution of persisted jobs (batches and benchmark sweeps).

Jobs are rows first: the request stores the job `queued` and hands its id to the
`JobManager`, whose small thread pool runs it. A batch fans its images out over a
nogilbench runner (`make_runner(method, workers)`), so the API measures exactly what the
benchmarks measure. Progress is written to the database as each image finishes, which is
what `GET /api/jobs/{id}` and the SSE stream read.

Start-up recovery: jobs left `processing` by a crash are marked failed, jobs still
`queued` are run again, and files a crash left between writing and committing (named by no
row, older than the process) are removed. A graceful shutdown stops between images (a sweep:
kills its running cell) and puts the job back in the queue, so it is re-run on the next start
instead of being left half done. `cancel` stops one job the same way, for good.

A batch's image work takes tokens from the same CPU limiter as single requests: one per
worker (at most the limiter's size), chunk by chunk, so batches and requests share the cores.
Finished jobs' outputs and archives expire after `result_ttl_s` (`expire_results`).
"""

from __future__ import annotations

import concurrent.futures as cf
import io
import logging
import threading
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError

from api.database import Database
from api.limiter import CpuLimiter, LimiterWaitStopped
from api.metrics import Metrics
from api.models import Job, JobItem, utcnow
from api.repositories import jobs
from api.storage import FileStore, process_start_time
from nogilbench.codec import decode_image, encode_image
from nogilbench.errors import NogilbenchError, StoreUnavailable, SweepCancelled
from nogilbench.pipeline import parse_pipeline
from nogilbench.runners import make_runner

logger = logging.getLogger("api.jobs")

INTERRUPTED = "the server stopped while this job was running"
EXPIRY_INTERVAL_S = 300.0
CANCELLED = "cancelled"

# The benchmark hook: (job, progress(done, total), stop event) -> sweep id.
BenchmarkRunner = Callable[[Job, Callable[[int, int], None], threading.Event], int]


class JobStopped(Exception):
    """Raised inside a job when the server shuts down; the job is re-queued."""


def process_file(task: tuple[str, dict[str, Any], int]) -> tuple[bool, bytes | str]:
    """One batch item, in any worker (thread, process): (True, output) or (False, reason).

    Module-level and argument-only so a process pool can pickle it by reference.
    """
    path, raw_pipeline, max_pixels = task
    try:
        pipeline = parse_pipeline(raw_pipeline)
        decoded = decode_image(Path(path).read_bytes(), max_pixels)
        image = pipeline.apply(decoded.image, max_pixels)
        return True, encode_image(image, pipeline.format, pipeline.quality)
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
        self._expiry: threading.Thread | None = None
        self._executor: cf.ThreadPoolExecutor | None = None
        self._stopping = threading.Event()
        self._recovered = False
        self._lock = threading.Lock()
        self._running = 0
        # Per running job: its stop event (set by cancel or shutdown) and its end.
        self._stops: dict[int, threading.Event] = {}
        self._ended: dict[int, threading.Event] = {}
        self._cancelled: set[int] = set()
        self.benchmark_runner: BenchmarkRunner | None = None
        # Files older than this cannot belong to a write still in flight in this process.
        self.process_started = process_start_time()

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._executor = cf.ThreadPoolExecutor(self.concurrency, thread_name_prefix="api-job")
        try:
            self.recover()
        except (StoreUnavailable, DBAPIError) as exc:
            logger.warning("job recovery postponed, the database is unavailable: %s", exc)
        self._expiry = threading.Thread(target=self._expire_loop, name="api-expiry", daemon=True)
        self._expiry.start()

    def stop(self) -> None:
        """Stop every running job (a sweep's cell is killed) and wait for the pool."""
        with self._lock:
            self._stopping.set()
            for event in self._stops.values():
                event.set()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._expiry is not None:
            self._expiry.join()
            self._expiry = None

    # -- expiry ----------------------------------------------------------------------------

    def _expire_loop(self) -> None:
        interval = min(EXPIRY_INTERVAL_S, self.result_ttl_s / 4)
        while not self._stopping.wait(interval):
            try:
                self.expire_results()
            except (StoreUnavailable, DBAPIError) as exc:
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
        """Fail jobs a crash left `processing`; run the ones still `queued`."""
        with self._lock:
            if self._recovered:
                return
            with self.database.session() as session:
                failed = jobs.fail_interrupted(session, INTERRUPTED)
                session.commit()
                queued = jobs.ids_with_status(session, "queued")
                referenced = jobs.referenced_files(session)
            self._recovered = True
        if failed:
            logger.warning("marked %d interrupted job(s) failed", failed)
        self._sweep(referenced)
        for job_id in queued:
            logger.info("re-queued job %d", job_id)
            self.submit(job_id)

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
        if not self._recovered:
            self.recover()
        if self._executor is None:
            raise RuntimeError("the job manager is not running")
        self._executor.submit(self._run, job_id)

    def cancel(self, job_id: int, timeout_s: float) -> bool:
        """Stop job `job_id` for good: a queued one never starts, a running one stops (its
        sweep cell killed, its batch between images). True once it no longer runs."""
        with self._lock:
            self._cancelled.add(job_id)
            stop, ended = self._stops.get(job_id), self._ended.get(job_id)
            if stop is not None:
                stop.set()
        return ended is None or ended.wait(timeout_s)

    # -- running ---------------------------------------------------------------------------

    def _run(self, job_id: int) -> None:
        stop, ended = threading.Event(), threading.Event()
        with self._lock:
            if job_id in self._cancelled:
                self._cancelled.discard(job_id)
                return
            self._stops[job_id], self._ended[job_id] = stop, ended
            if self._stopping.is_set():
                stop.set()
        try:
            self._run_claimed(job_id, stop)
        finally:
            with self._lock:
                self._stops.pop(job_id, None)
                self._ended.pop(job_id, None)
                self._cancelled.discard(job_id)
            ended.set()

    def _run_claimed(self, job_id: int, stop: threading.Event) -> None:
        try:
            with self.database.session() as session:
                job = jobs.get(session, job_id)
                if job is None or job.status != "queued":
                    return
                job.status, job.started_at = "processing", utcnow()
                session.commit()
                kind = job.kind
        except (StoreUnavailable, DBAPIError):
            logger.exception("job %d could not start: database unavailable", job_id)
            return
        self._count_running(+1)
        status = "failed"
        try:
            run = self._run_batch if kind == "batch" else self._run_benchmark
            status = run(job_id, stop)
        except JobStopped:
            if job_id in self._cancelled:
                status = "failed"
                self._finish(job_id, "failed", CANCELLED)
            else:
                status = "queued"
                self._finish(job_id, "queued", None, started=False)
        except NogilbenchError as exc:
            self._finish(job_id, "failed", exc.message)
        except Exception as exc:
            logger.exception("job %d crashed", job_id)
            self._finish(job_id, "failed", f"internal error: {type(exc).__name__}")
        finally:
            self._count_running(-1)
            if status != "queued":
                self.metrics.jobs.labels(kind, status).inc()

    def _finish(
        self, job_id: int, status: str, error: str | None, *, started: bool = True, **values: Any
    ) -> bool:
        """Record the job's end; False if it could not be recorded."""
        try:
            with self.database.session() as session:
                job = jobs.get(session, job_id)
                if job is None:
                    return False
                job.status, job.error = status, error
                job.finished_at = utcnow() if started else None
                if not started:
                    job.started_at = None
                for key, value in values.items():
                    setattr(job, key, value)
                session.commit()
        except (StoreUnavailable, DBAPIError):
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
        tasks = [
            (str(self.uploads.path(item.source_name)), raw_pipeline, self.max_pixels)
            for item in items
        ]
        outputs: dict[int, str] = {}
        errors: dict[int, str] = {}

        def on_result(index: int, result: tuple[bool, bytes | str]) -> None:
            ok, payload = result
            item_id = items[index].id
            output_name = None
            if ok:
                assert isinstance(payload, bytes)
                output_name = FileStore.new_name(extension)
                self.outputs.write(output_name, payload)
                outputs[index] = output_name
                self.metrics.images_processed.labels("batch").inc()
            else:
                errors[index] = str(payload)
            try:
                with self.database.session() as session:
                    item = session.get(JobItem, item_id)
                    job = jobs.get(session, job_id)
                    assert item is not None and job is not None
                    item.status = "completed" if ok else "failed"
                    item.output_name = output_name
                    item.error = None if ok else str(payload)
                    if ok:
                        job.done += 1
                    else:
                        job.failed += 1
                    session.commit()
            except BaseException:
                # Not committed, so nothing refers to the file. (A crash right here leaves it
                # behind; the start-up sweep removes such files.)
                outputs.pop(index, None)
                self.outputs.delete(output_name)
                raise
            if stop.is_set():
                raise JobStopped

        try:
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
                            on_result=lambda index, result, base=start: on_result(
                                base + index, result
                            ),
                        )
                    start += len(chunk)
        except LimiterWaitStopped:
            self._reset_batch(job_id, outputs)
            raise JobStopped from None
        except JobStopped:
            self._reset_batch(job_id, outputs)
            raise
        archive = self._archive(items, outputs, errors, extension)
        result_name = FileStore.new_name("zip")
        self.results.write(result_name, archive)
        status = "completed" if outputs or not items else "failed"
        error = None if status == "completed" else "no image could be processed"
        if not self._finish(job_id, status, error, result_name=result_name):
            self.results.delete(result_name)  # the job row does not name it
        return status

    def _reset_batch(self, job_id: int, outputs: dict[int, str]) -> None:
        # Rows first, files after: a crash in between leaves unreferenced files (swept at the
        # next start), never rows that point at deleted files.
        with self.database.session() as session:
            job = jobs.get(session, job_id)
            if job is not None:
                job.done = job.failed = 0
                for item in jobs.items(session, job_id):
                    item.status, item.output_name, item.error = "pending", None, None
                session.commit()
        for name in outputs.values():
            self.outputs.delete(name)

    def _archive(
        self, items: list[JobItem], outputs: dict[int, str], errors: dict[int, str], extension: str
    ) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
            for index, item in enumerate(items):
                name = outputs.get(index)
                if name is None:
                    continue
                stem = Path(item.filename).stem or "image"
                archive.writestr(
                    f"{item.position + 1:03d}-{stem}.{extension}", self.outputs.read(name)
                )
            failures = [
                f"{item.position + 1:03d} {item.filename}: {errors.get(index, 'not processed')}"
                for index, item in enumerate(items)
                if index not in outputs
            ]
            if failures:
                archive.writestr("FAILED.txt", "\n".join(failures) + "\n")
        return buffer.getvalue()

    def _run_benchmark(self, job_id: int, stop: threading.Event) -> str:
        with self.database.session() as session:
            job = jobs.get(session, job_id)
            assert job is not None
        if self.benchmark_runner is None:
            raise NogilbenchError("benchmarks are not available on this server")

        def progress(done: int, total: int) -> None:
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
