"""Per-user usage counters (images, stored bytes, active jobs), the one thing quotas read.

A counter moves in the same transaction as the rows it counts. Growing is one conditional
`UPDATE user_usage SET x = x + :n WHERE user_id = :u AND x + :n <= :quota RETURNING ...`:
on PostgreSQL a concurrent UPDATE of the row waits for the first to commit and re-checks its
WHERE against the new values; on SQLite the statement runs under the single write lock. Of
any number of concurrent requests, exactly as many as fit get a row back. Shrinking never
fails. `recount` derives the same numbers from the rows (tests compare the two).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from api.core.models import Image, Job, JobItem, UserUsage

ACTIVE = ("queued", "processing")


@dataclass(frozen=True)
class Usage:
    images: int
    stored_bytes: int
    active_jobs: int


@dataclass(frozen=True)
class Quotas:
    """The limits `reserve` checks: only those of the counters an amount grows, so a caller
    that adds only active jobs (or only bytes) may leave the others at 0."""

    images: int
    stored_bytes: int
    active_jobs: int


def _ensure(session: Session, user_id: int) -> None:
    """The user's row, created at zero the first time (concurrent creators: one wins)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.exec(  # type: ignore[call-overload]
        insert(UserUsage).values(user_id=user_id).on_conflict_do_nothing()
    )


def reserve(
    session: Session,
    user_id: int,
    quotas: Quotas,
    *,
    images: int = 0,
    stored_bytes: int = 0,
    active_jobs: int = 0,
) -> Usage | None:
    """Add to the user's counters if every growing one stays within its quota; the new
    usage, or None (nothing changed). A negative amount always fits."""
    usage = _add_within(session, user_id, quotas, images, stored_bytes, active_jobs)
    if usage is None:  # over a quota, or the user has no counters row yet: make it, retry
        _ensure(session, user_id)
        usage = _add_within(session, user_id, quotas, images, stored_bytes, active_jobs)
    return usage


def _add_within(
    session: Session, user_id: int, quotas: Quotas, images: int, stored_bytes: int, active_jobs: int
) -> Usage | None:
    row = col(UserUsage.user_id) == user_id
    within = [
        column + amount <= limit
        for column, amount, limit in (
            (col(UserUsage.images), images, quotas.images),
            (col(UserUsage.stored_bytes), stored_bytes, quotas.stored_bytes),
            (col(UserUsage.active_jobs), active_jobs, quotas.active_jobs),
        )
        if amount > 0
    ]
    result = session.exec(  # type: ignore[call-overload]
        update(UserUsage)
        .where(row, *within)
        .values(
            images=col(UserUsage.images) + images,
            stored_bytes=col(UserUsage.stored_bytes) + stored_bytes,
            active_jobs=col(UserUsage.active_jobs) + active_jobs,
        )
        .returning(col(UserUsage.images), col(UserUsage.stored_bytes), col(UserUsage.active_jobs))
        # No ORM object holds these counters: nothing in the session to synchronise.
        .execution_options(synchronize_session=False)
    ).first()
    return None if result is None else Usage(int(result[0]), int(result[1]), int(result[2]))


def release(
    session: Session, user_id: int, *, images: int = 0, stored_bytes: int = 0, active_jobs: int = 0
) -> None:
    """Take back what rows being removed (or finished jobs) counted."""
    if images == stored_bytes == active_jobs == 0:
        return
    session.exec(  # type: ignore[call-overload]
        update(UserUsage)
        .where(col(UserUsage.user_id) == user_id)
        .values(
            images=col(UserUsage.images) - images,
            stored_bytes=col(UserUsage.stored_bytes) - stored_bytes,
            active_jobs=col(UserUsage.active_jobs) - active_jobs,
        )
    )


def get(session: Session, user_id: int) -> Usage:
    row = session.get(UserUsage, user_id, populate_existing=True)
    return Usage(0, 0, 0) if row is None else Usage(row.images, row.stored_bytes, row.active_jobs)


def recount(session: Session, user_id: int) -> Usage:
    """The counters as the rows say they should be (for checks; the counters are what count)."""
    images_kept, image_bytes = session.exec(
        select(
            func.count(),
            func.coalesce(
                func.sum(Image.size_bytes + func.coalesce(Image.processed_size_bytes, 0)), 0
            ),
        ).where(col(Image.owner_id) == user_id)
    ).one()
    owned = select(Job.id).where(col(Job.owner_id) == user_id)
    item_bytes = session.exec(
        select(func.coalesce(func.sum(JobItem.output_size_bytes), 0)).where(
            col(JobItem.job_id).in_(owned)
        )
    ).one()
    archive_bytes, active = session.exec(
        select(
            func.coalesce(func.sum(Job.result_size_bytes), 0),
            func.count().filter(col(Job.status).in_(ACTIVE)),
        ).where(col(Job.owner_id) == user_id)
    ).one()
    return Usage(
        int(images_kept), int(image_bytes) + int(item_bytes) + int(archive_bytes), int(active)
    )
