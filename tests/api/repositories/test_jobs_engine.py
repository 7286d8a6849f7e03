"""The job engine's row operations (SQLite and PostgreSQL): a delivery claims a queued job or
takes over one a dead worker left `processing`, never a finished or missing one; the old
holder is fenced off; an owner's rank orders fairness; a failed hand-over frees the slot."""

from __future__ import annotations

from sqlmodel import Session

from api.core.database import Database
from api.core.models import Job, User, utcnow
from api.repositories import jobs, usage


def _database(db_url: str) -> Database:
    database = Database(db_url)
    database.ensure_ready()
    return database


def _owner(session: Session, email: str) -> int:
    user = User(email=email, password_hash="x")
    session.add(user)
    session.commit()
    assert user.id is not None
    return user.id


def _job(session: Session, owner: int, status: str = "queued", **values: object) -> int:
    job = Job(owner_id=owner, parameters={}, status=status, **values)
    session.add(job)
    session.commit()
    assert job.id is not None
    return job.id


def test_take_claims_queued_and_abandoned_jobs_once_each(db_url):
    database = _database(db_url)
    try:
        with database.session() as session:
            owner = _owner(session, "ada@example.com")
            queued = _job(session, owner)
            left = _job(session, owner, "processing", claimed_by="dead:1:x", attempts=1)
            done = _job(session, owner, "completed", attempts=1)
            now = utcnow()
            assert jobs.take(session, queued, "w:2:a", now).attempts == 1
            assert jobs.take(session, left, "w:2:a", now).attempts == 2
            assert jobs.take(session, done, "w:2:a", now) is None
            assert jobs.take(session, 10**6, "w:2:a", now) is None
            session.commit()
            # The dead holder is fenced off; the new one can fail its own job.
            assert not jobs.fail_held(session, left, "dead:1:x", "late", now)
            usage.reserve(session, owner, usage.Quotas(0, 0, 10), active_jobs=2)
            assert jobs.fail_held(session, left, "w:2:a", "time limit", now)
            session.commit()
            row = session.get(Job, left)
            assert (row.status, row.error, row.claimed_by) == ("failed", "time limit", None)
    finally:
        database.dispose()


def test_owner_rank_counts_the_owners_earlier_active_jobs(db_url):
    database = _database(db_url)
    try:
        with database.session() as session:
            ada, bob = _owner(session, "ada@example.com"), _owner(session, "bob@example.com")
            _job(session, ada, "completed")  # finished: not counted
            first = _job(session, ada)
            second = _job(session, ada, "processing")
            third = _job(session, ada)
            bobs = _job(session, bob)
            ranks = [jobs.owner_rank(session, session.get(Job, job_id)) for job_id in
                     (first, second, third, bobs)]  # fmt: skip
            assert ranks == [0, 1, 2, 0]
            assert jobs.count_with_status(session, "queued") == 3
    finally:
        database.dispose()


def test_a_job_that_cannot_be_queued_is_failed_and_frees_its_slot(db_url):
    database = _database(db_url)
    try:
        with database.session() as session:
            owner = _owner(session, "ada@example.com")
            usage.reserve(session, owner, usage.Quotas(0, 0, 10), active_jobs=1)
            job_id = _job(session, owner)
            assert jobs.fail_queued(session, job_id, "no queue", utcnow())
            assert not jobs.fail_queued(session, job_id, "no queue", utcnow())  # once
            session.commit()
            assert session.get(Job, job_id).status == "failed"
            assert usage.get(session, owner).active_jobs == 0
    finally:
        database.dispose()
