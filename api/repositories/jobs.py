"""Jobs and their items."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from api.models import Image, Job, JobItem, utcnow


def get(session: Session, job_id: int) -> Job | None:
    return session.get(Job, job_id)


def list_for_owner(
    session: Session, owner_id: int, offset: int, limit: int, kind: str | None = None
) -> list[Job]:
    query = select(Job).where(Job.owner_id == owner_id)
    if kind is not None:
        query = query.where(Job.kind == kind)
    query = query.order_by(col(Job.id).desc()).offset(offset).limit(limit)
    return list(session.exec(query).all())


def add(session: Session, job: Job, items: list[JobItem]) -> Job:
    session.add(job)
    session.flush()
    for item in items:
        item.job_id = job.id  # type: ignore[assignment]
        session.add(item)
    session.flush()
    return job


def items(session: Session, job_id: int) -> list[JobItem]:
    query = select(JobItem).where(JobItem.job_id == job_id).order_by(col(JobItem.position))
    return list(session.exec(query).all())


def ids_with_status(session: Session, status: str) -> list[int]:
    query = select(Job.id).where(Job.status == status).order_by(col(Job.id))
    return [job_id for job_id in session.exec(query).all() if job_id is not None]


def fail_interrupted(session: Session, message: str) -> int:
    """Mark every job left `processing` (by a crash or a kill) failed."""
    result = session.exec(  # type: ignore[call-overload]
        update(Job)
        .where(col(Job.status) == "processing")
        .values(status="failed", error=message, finished_at=utcnow())
    )
    return int(result.rowcount or 0)


def referenced_files(session: Session) -> dict[str, set[str]]:
    """Every stored file name a row refers to, by folder (uploads, outputs, results)."""

    def names(*columns: object) -> set[str]:
        found: set[str] = set()
        for column in columns:
            query = select(column).where(col(column).is_not(None))  # type: ignore[call-overload]
            found.update(name for name in session.exec(query).all() if name)
        return found

    return {
        "uploads": names(Image.stored_name, JobItem.source_name),
        "outputs": names(Image.processed_name, JobItem.output_name),
        "results": names(Job.result_name),
    }


def count_active(session: Session, owner_id: int) -> int:
    """The owner's jobs still queued or processing (the active-jobs quota counts these)."""
    query = select(func.count()).where(
        Job.owner_id == owner_id, col(Job.status).in_(("queued", "processing"))
    )
    return int(session.exec(query).one())


def delete_returning_files(session: Session, job_id: int) -> tuple[list[str], list[str]]:
    """Delete the job and its items; (item output names, result archive names) to remove."""
    outputs = [
        name
        for name in session.exec(
            select(JobItem.output_name).where(
                JobItem.job_id == job_id, col(JobItem.output_name).is_not(None)
            )
        ).all()
        if name
    ]
    job = session.get(Job, job_id)
    results = [job.result_name] if job is not None and job.result_name else []
    session.exec(delete(JobItem).where(col(JobItem.job_id) == job_id))  # type: ignore[call-overload]
    session.exec(delete(Job).where(col(Job.id) == job_id))  # type: ignore[call-overload]
    return outputs, results


def expired_files(
    session: Session, finished_before: datetime
) -> list[tuple[int, list[str], str | None]]:
    """Finished jobs (before the cut-off) that still name files: (id, outputs, archive)."""
    query = select(Job).where(
        col(Job.finished_at) < finished_before,
        col(Job.status).in_(("completed", "failed")),
    )
    found = []
    for job in session.exec(query).all():
        assert job.id is not None
        outputs = [
            name
            for name in session.exec(
                select(JobItem.output_name).where(
                    JobItem.job_id == job.id, col(JobItem.output_name).is_not(None)
                )
            ).all()
            if name
        ]
        if outputs or job.result_name:
            found.append((job.id, outputs, job.result_name))
    return found


def forget_files(session: Session, job_id: int) -> None:
    """The job's outputs and archive are gone: its rows stop naming them."""
    session.exec(  # type: ignore[call-overload]
        update(JobItem).where(col(JobItem.job_id) == job_id).values(output_name=None)
    )
    session.exec(  # type: ignore[call-overload]
        update(Job).where(col(Job.id) == job_id).values(result_name=None)
    )
