"""Per-user usage counters (images, stored bytes, active jobs), the one thing quotas read.

A counter moves in the same transaction as the rows it counts. Growing is one conditional
`UPDATE user_usage SET x = x + :n WHERE user_id = :u AND x + :n <= :quota RETURNING ...`:
on PostgreSQL a concurrent UPDATE of the row waits for the first to commit and re-checks its
WHERE against the new values; on SQLite the statement runs under the single write lock. Of
any number of concurrent requests, exactly as many as fit get a row back. Shrinking never
fails. `recount` derives the same numbers from the rows (tests compare the two).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import Update, bindparam, func, update
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


COUNTERS = ("images", "stored_bytes", "active_jobs")


@functools.cache
def _add_statement(growing: tuple[str, ...]) -> Update:
    """`UPDATE user_usage SET each = each + :add_each WHERE user_id = :user AND growing + :add
    <= :limit ... RETURNING the three`, built once per set of growing counters: a request
    then only binds values (building and keying a statement costs more than running it)."""
    table = UserUsage.__table__  # Core: no ORM object holds these counters, nothing to sync
    columns = table.c  # type: ignore[attr-defined]
    return (
        update(table)
        .where(
            columns.user_id == bindparam("user"),
            *(
                columns[name] + bindparam(f"add_{name}") <= bindparam(f"limit_{name}")
                for name in growing
            ),
        )
        .values({name: columns[name] + bindparam(f"add_{name}") for name in COUNTERS})
        .returning(*(columns[name] for name in COUNTERS))
    )


def _add_within(
    session: Session, user_id: int, quotas: Quotas, images: int, stored_bytes: int, active_jobs: int
) -> Usage | None:
    amounts = {"images": images, "stored_bytes": stored_bytes, "active_jobs": active_jobs}
    limits = {
        "images": quotas.images,
        "stored_bytes": quotas.stored_bytes,
        "active_jobs": quotas.active_jobs,
    }
    growing = tuple(name for name in COUNTERS if amounts[name] > 0)
    params: dict[str, int] = {"user": user_id}
    params.update({f"add_{name}": amount for name, amount in amounts.items()})
    params.update({f"limit_{name}": limits[name] for name in growing})
    # On the session's connection: the same transaction as the rows the counters follow.
    result = session.connection().execute(_add_statement(growing), params).first()
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
