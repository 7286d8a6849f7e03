"""Jobs and their items.

What a job counts against its owner (being active; its outputs' and archive's bytes) moves
with its rows here, in the same transaction (`api.repositories.usage`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, update
from sqlmodel import Session, col, select

from api.core.models import Image, Job, JobItem
from api.repositories import usage
from api.repositories.usage import ACTIVE, Quotas


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


def add(session: Session, job: Job, items: list[JobItem], quotas: Quotas) -> Job | None:
    """Insert the job (queued) and its items if the owner has an active-job slot left, taken
    in the same transaction; None (nothing inserted) if not."""
    if usage.reserve(session, job.owner_id, quotas, active_jobs=1) is None:
        return None
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


@dataclass(frozen=True)
class Claimed:
    job_id: int
    kind: str
    attempts: int


def _abandoned(now: datetime) -> object:
    """A running job whose worker stopped renewing its lease (died, or lost the database)."""
    lease = col(Job.lease_expires_at)
    return and_(col(Job.status) == "processing", or_(lease.is_(None), lease < now))


def _failed(message: str, now: datetime) -> dict[str, Any]:
    """The columns of a job failed for good: its claim dropped, so no worker holds it."""
    return {
        "status": "failed", "error": message, "finished_at": now, "claimed_by": None,
        "lease_expires_at": None,
    }  # fmt: skip


def fail_exhausted(session: Session, max_attempts: int, message: str, now: datetime) -> int:
    """Fail abandoned jobs that already ran `max_attempts` times (never run a third time)."""
    where = (_abandoned(now), col(Job.attempts) >= max_attempts)
    return _fail_where(session, where, message, now)


def _fail_where(session: Session, where: tuple[Any, ...], message: str, now: datetime) -> int:
    """Fail the rows `where` picks and free each owner's active-job slot; how many."""
    owners = session.exec(  # type: ignore[call-overload]
        update(Job).where(*where).values(**_failed(message, now)).returning(col(Job.owner_id))
    ).all()
    for (owner_id,) in owners:
        usage.release(session, owner_id, active_jobs=1)
    return len(owners)


def claim_next(
    session: Session, worker_id: str, now: datetime, lease_until: datetime
) -> Claimed | None:
    """Atomically take the oldest queued (or abandoned) job for `worker_id`, or None.

    One conditional UPDATE ... RETURNING: of several workers (threads, processes, hosts)
    asking at once, exactly one gets each job. On PostgreSQL the candidate row is locked
    with FOR UPDATE SKIP LOCKED, so concurrent claimers skip it instead of queueing on it;
    on SQLite the statement runs under the database's single write lock. The caller commits.
    """
    claimable = or_(col(Job.status) == "queued", _abandoned(now))  # type: ignore[arg-type]
    candidate = select(Job.id).where(claimable).order_by(col(Job.id)).limit(1)
    if session.get_bind().dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    where = (col(Job.id) == candidate.scalar_subquery(), claimable)
    return _claim(session, where, worker_id, lease_until, now)


def _claim(
    session: Session, where: tuple[Any, ...], worker_id: str, lease_until: datetime | None,
    now: datetime,
) -> Claimed | None:  # fmt: skip
    """The one UPDATE that makes `worker_id` the holder of the row `where` picks."""
    statement = (
        update(Job)
        .where(*where)
        .values(
            status="processing",
            claimed_by=worker_id,
            lease_expires_at=lease_until,
            attempts=col(Job.attempts) + 1,
            started_at=func.coalesce(col(Job.started_at), now),
        )
        .returning(col(Job.id), col(Job.kind), col(Job.attempts))
    )
    row = session.exec(statement).first()  # type: ignore[call-overload]
    return None if row is None else Claimed(int(row[0]), str(row[1]), int(row[2]))


def renew_leases(
    session: Session, worker_id: str, job_ids: list[int], lease_until: datetime
) -> set[int]:
    """Extend this worker's leases; the ids it still holds (a lost one was taken over)."""
    if not job_ids:
        return set()
    result = session.exec(  # type: ignore[call-overload]
        update(Job)
        .where(
            col(Job.id).in_(job_ids),
            col(Job.claimed_by) == worker_id,
            col(Job.status) == "processing",
        )
        .values(lease_expires_at=lease_until)
        .returning(col(Job.id))
    )
    return {int(row[0]) for row in result.all()}


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


@dataclass(frozen=True)
class Deleted:
    """What a deleted job left on disk (its rows are gone, its bytes released)."""

    outputs: list[str]
    archive: str | None


def delete_owned(session: Session, job_id: int, owner_id: int) -> Deleted | None:
    """Delete job `job_id` if `owner_id` owns it, with its items; None if no such job.

    The owner is part of every statement, so a check made earlier (or a stale id) can never
    reach another user's job. The job row is locked first (PostgreSQL), as a worker writing
    an item does, and the item names come from the DELETE itself: an output committed by a
    worker until then is in the list, one committed after finds its job gone.
    """
    owned = and_(col(Job.id) == job_id, col(Job.owner_id) == owner_id)
    if session.exec(select(Job.id).where(owned).with_for_update()).first() is None:
        return None
    items = session.exec(  # type: ignore[call-overload]
        delete(JobItem)
        .where(col(JobItem.job_id) == job_id)
        .returning(col(JobItem.output_name), col(JobItem.output_size_bytes))
    ).all()
    job = session.exec(  # type: ignore[call-overload]
        delete(Job)
        .where(owned)
        .returning(col(Job.status), col(Job.result_name), col(Job.result_size_bytes))
    ).first()
    if job is None:
        return None
    status, archive, archive_bytes = job
    stored = sum(size or 0 for _name, size in items) + (archive_bytes or 0)
    usage.release(session, owner_id, stored_bytes=stored, active_jobs=int(status in ACTIVE))
    return Deleted([name for name, _size in items if name], archive)


def drop_outputs(session: Session, job: Job, *, pending: bool) -> Deleted:
    """Forget the job's outputs and archive (released from the owner's bytes); the files to
    delete once committed. `pending`: its items go back to be processed again (a job
    re-queued); otherwise they keep their status (a job that stopped for good, or expired)."""
    assert job.id is not None
    items = session.exec(
        select(JobItem).where(col(JobItem.job_id) == job.id).with_for_update()
    ).all()
    dropped = Deleted([item.output_name for item in items if item.output_name], job.result_name)
    stored = sum(item.output_size_bytes or 0 for item in items) + (job.result_size_bytes or 0)
    for item in items:
        item.output_name, item.output_size_bytes = None, None
        if pending:
            item.status, item.error = "pending", None
    job.result_name, job.result_size_bytes = None, None
    if pending:
        job.done = job.failed = 0
    usage.release(session, job.owner_id, stored_bytes=stored)
    return dropped


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
    """The job's outputs and archive are gone: its rows stop naming them, and its owner
    stops paying for them."""
    job = session.exec(select(Job).where(col(Job.id) == job_id).with_for_update()).first()
    if job is not None:
        drop_outputs(session, job, pending=False)


# -- the Celery engine: the broker delivers, the row decides -------------------------------


def take(session: Session, job_id: int, worker_id: str, now: datetime) -> Claimed | None:
    """The job engine delivered job `job_id` to `worker_id`: claim it, or None if it is gone
    (deleted) or finished (a duplicate delivery). A `processing` row is taken over too: the
    broker redelivers a job only once its worker stopped acknowledging it (died), and from
    this commit on that worker's writes are refused (they check `claimed_by`). The row is
    locked by the UPDATE, so a write of the old holder in flight commits first or fails.
    The caller commits."""
    where = (col(Job.id) == job_id, col(Job.status).in_(("queued", "processing")))
    return _claim(session, where, worker_id, None, now)


def fail_held(session: Session, job_id: int, worker_id: str, message: str, now: datetime) -> bool:
    """Fail job `job_id` if `worker_id` still runs it (its claim dropped: any write it still
    makes is refused) and free its owner's active-job slot. The caller commits."""
    where = (
        col(Job.id) == job_id,
        col(Job.claimed_by) == worker_id,
        col(Job.status) == "processing",
    )
    return _fail_where(session, where, message, now) > 0


def owner_rank(session: Session, job: Job) -> int:
    """How many of the owner's active (queued or running) jobs came before `job`: 0 for
    the first. The engine serves every user's rank-0 job before anyone's rank 1."""
    query = select(func.count()).where(
        col(Job.owner_id) == job.owner_id,
        col(Job.status).in_(ACTIVE),
        col(Job.id) < job.id,
    )
    return int(session.exec(query).one())


def count_with_status(session: Session, status: str) -> int:
    return int(session.exec(select(func.count()).where(col(Job.status) == status)).one())


def fail_queued(session: Session, job_id: int, message: str, now: datetime) -> bool:
    """Fail a job that is still `queued` (it could not be handed to the engine) and free
    its owner's active-job slot. The caller commits."""
    where = (col(Job.id) == job_id, col(Job.status) == "queued")
    return _fail_where(session, where, message, now) > 0
