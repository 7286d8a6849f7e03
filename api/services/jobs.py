"""Batch jobs as seen by the client: create, list, status, result archive (the progress
stream: `api.services.job_stream`)."""

from __future__ import annotations

from sqlmodel import Session

from api.core.database import Database
from api.core.errors import (
    ImageNotFound,
    JobNotFound,
    JobNotReady,
    ResultExpired,
    ResultGone,
)
from api.core.models import Job, JobItem, User, utcnow
from api.core.schemas import BatchRequest, JobRead
from api.core.storage import FileStore
from api.http.downloads import OpenedFile, open_stored
from api.repositories import images, jobs
from api.repositories.usage import Quotas
from api.services import quotas
from api.services.job_queue import JobQueue
from nogilbench.concurrency.base import gil_enabled
from nogilbench.concurrency.runners import make_runner
from nogilbench.errors import InvalidOperation
from nogilbench.imaging.pipeline import parse_pipeline


def default_method() -> str:
    """Threads either way; `free-threaded` names them truthfully when the GIL is off."""
    return "threading" if gil_enabled() else "free-threaded"


def job_view(job: Job) -> JobRead:
    elapsed = None
    if job.started_at is not None:
        end = job.finished_at or utcnow()
        elapsed = round((end - job.started_at).total_seconds(), 3)
    result_url = (
        f"/api/jobs/{job.id}/result"
        if job.kind == "batch" and job.status == "completed" and job.result_name
        else None
    )
    return JobRead(
        id=job.id,  # type: ignore[arg-type]
        kind=job.kind,  # type: ignore[arg-type]
        status=job.status,  # type: ignore[arg-type]
        method=job.method,
        workers=job.workers,
        total=job.total,
        done=job.done,
        failed=job.failed,
        progress=round((job.done + job.failed) / job.total, 4) if job.total else 0.0,
        parameters=job.parameters,
        sweep_id=job.sweep_id,
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        elapsed_s=elapsed,
        result_url=result_url,
    )


def owned_job(session: Session, job_id: int, user: User, kind: str | None = None) -> Job:
    """The user's job; another user's answers exactly like a missing one (404)."""
    job = jobs.get(session, job_id)
    if job is None or job.owner_id != user.id or (kind is not None and job.kind != kind):
        raise JobNotFound(f"job {job_id} does not exist")
    return job


class JobService:
    def __init__(
        self,
        session: Session,
        database: Database,
        manager: JobQueue,
        results: FileStore,
        outputs: FileStore,
        max_images: int,
        max_workers: int,
        max_pixels: int,
        active_jobs_quota: int,
    ) -> None:
        self.session = session
        self.database = database
        self.manager = manager
        self.results = results
        self.outputs = outputs
        self.max_images = max_images
        self.max_workers = max_workers
        self.max_pixels = max_pixels
        self.quotas = Quotas(images=0, stored_bytes=0, active_jobs=active_jobs_quota)

    def submit_batch(self, user: User, request: BatchRequest) -> Job:
        pipeline = parse_pipeline(request.pipeline)
        if len(request.image_ids) > self.max_images:
            raise InvalidOperation(f"a batch takes at most {self.max_images} images", "image_ids")
        if request.workers > self.max_workers:
            raise InvalidOperation(f"workers must be at most {self.max_workers}", "workers")
        method = request.method or default_method()
        make_runner(method, request.workers)  # MethodUnavailable now, not in the background
        found = images.get_many(self.session, request.image_ids)
        for image_id in request.image_ids:
            image = found.get(image_id)
            if image is None or image.owner_id != user.id:  # another's: as if missing
                raise ImageNotFound(f"image {image_id} does not exist")
            pipeline.check_size((image.width, image.height), self.max_pixels)
        job = Job(
            owner_id=user.id,  # type: ignore[arg-type]
            kind="batch",
            method=method,
            workers=request.workers,
            total=len(request.image_ids),
            parameters={"image_ids": request.image_ids, "pipeline": pipeline.to_dict()},
        )
        items = [
            JobItem(
                job_id=0,
                position=position,
                image_id=image_id,
                source_name=found[image_id].stored_name,
                filename=found[image_id].filename,
            )
            for position, image_id in enumerate(request.image_ids)
        ]
        if jobs.add(self.session, job, items, self.quotas) is None:
            raise quotas.exceeded(self.session, job.owner_id, self.quotas, active_jobs=1)
        self.session.commit()
        self.session.refresh(job)
        self.manager.submit(job.id)  # type: ignore[arg-type]
        return job

    def list_for(self, user: User, offset: int, limit: int) -> list[JobRead]:
        rows = jobs.list_for_owner(self.session, user.id, offset, limit)  # type: ignore[arg-type]
        return [job_view(job) for job in rows]

    def get(self, user: User, job_id: int) -> JobRead:
        return job_view(owned_job(self.session, job_id, user))

    def result(self, user: User, job_id: int) -> tuple[OpenedFile, str]:
        """(opened archive, download name), opened before the response starts."""
        job = owned_job(self.session, job_id, user, kind="batch")
        if job.status == "completed" and not job.result_name:
            raise ResultExpired(f"the outputs of job {job_id} have expired and were deleted")
        if job.status != "completed" or not job.result_name:
            raise JobNotReady(f"job {job_id} is {job.status}; its result exists once completed")
        opened = open_stored(self.results.path(job.result_name))
        if opened is None:
            # A DELETE between the row and the file: the job is gone (404), as a request a
            # moment later would hear. Read the row again in a new transaction (SQLite keeps
            # a read transaction's snapshot); still there, its archive was lost (410).
            self.session.rollback()
            self.session.expunge_all()
            owned_job(self.session, job_id, user, kind="batch")
            raise ResultGone(f"the result archive of job {job_id} no longer exists")
        return opened, f"job-{job_id}.zip"

    def delete(self, user: User, job_id: int) -> None:
        """Delete the job with its outputs and archive, now; a queued one never starts, a
        running one stops by itself at its next safe point (a batch between images, a
        sweep's cell process killed), in whichever process runs it. Nothing here waits for
        that: the request returns at once."""
        owned_job(self.session, job_id, user)  # 404 / 403
        deleted = jobs.delete_owned(self.session, job_id, user.id)  # type: ignore[arg-type]
        if deleted is None:  # deleted meanwhile (a concurrent DELETE won)
            self.session.rollback()
            raise JobNotFound(f"job {job_id} does not exist")
        self.session.commit()
        self.manager.stop_job(job_id)
        # Rows first, files after: a crash in between leaves files the start-up sweep removes.
        for name in deleted.outputs:
            self.outputs.delete(name)
        self.results.delete(deleted.archive)
