"""Jobs and their items."""

from __future__ import annotations

from sqlalchemy import update
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
