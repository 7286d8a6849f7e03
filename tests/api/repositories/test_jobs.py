"""Job claiming is atomic: workers racing for the same queue each get different jobs, and a
job whose worker died is taken over by exactly one other worker (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlmodel import Session

from api.core.database import Database
from api.core.models import Job, User, utcnow
from api.repositories import jobs

THREADS = 8
JOBS = 40


def _database(db_url: str) -> Database:
    database = Database(db_url)
    database.ensure_ready()
    return database


def _owner(database: Database) -> int:
    with database.session() as session:
        user = User(email="owner@example.com", password_hash="x")
        session.add(user)
        session.commit()
        assert user.id is not None
        return user.id


def _race(database: Database) -> list[tuple[str, int]]:
    """THREADS workers claim until the queue is empty; every (worker, job) claim."""
    claims: list[tuple[str, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def worker(name: str) -> None:
        barrier.wait(30)
        while True:
            now = utcnow()
            with database.session() as session:
                claimed = jobs.claim_next(session, name, now, now + timedelta(minutes=1))
                session.commit()
            if claimed is None:
                return
            with lock:
                claims.append((name, claimed.job_id))

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return claims


def test_racing_workers_claim_each_job_once(db_url):
    database = _database(db_url)
    try:
        owner = _owner(database)
        with database.session() as session:
            for _ in range(JOBS):
                session.add(Job(owner_id=owner, parameters={}))
            session.commit()
        claims = _race(database)
        counts = Counter(job_id for _, job_id in claims)
        assert len(counts) == JOBS and set(counts.values()) == {1}, counts
        with Session(database.engine) as session:
            rows = [session.get(Job, job_id) for job_id in counts]
            assert {(row.status, row.attempts) for row in rows} == {("processing", 1)}
            by_job = dict((job_id, name) for name, job_id in claims)
            assert all(row.claimed_by == by_job[row.id] for row in rows)
    finally:
        database.dispose()


def test_an_abandoned_job_is_taken_over_once_and_a_live_lease_is_respected(db_url):
    database = _database(db_url)
    try:
        owner = _owner(database)
        now = utcnow()
        with database.session() as session:
            dead = Job(
                owner_id=owner,
                parameters={},
                status="processing",
                claimed_by="dead",
                attempts=1,
                lease_expires_at=now - timedelta(seconds=1),
            )
            alive = Job(
                owner_id=owner,
                parameters={},
                status="processing",
                claimed_by="alive",
                attempts=1,
                lease_expires_at=now + timedelta(minutes=5),
            )
            session.add(dead)
            session.add(alive)
            session.commit()
            dead_id, alive_id = dead.id, alive.id
        claims = _race(database)
        assert [job_id for _, job_id in claims] == [dead_id]  # once; never the live one
        with database.session() as session:
            taken_over = session.get(Job, dead_id)
            assert taken_over.attempts == 2 and taken_over.claimed_by == claims[0][0]
            # The new holder renews its lease; the dead worker's renewal finds nothing.
            later = utcnow() + timedelta(minutes=2)
            assert jobs.renew_leases(session, claims[0][0], [dead_id], later) == {dead_id}
            assert jobs.renew_leases(session, "dead", [dead_id], later) == set()
            session.commit()
            assert session.get(Job, alive_id).claimed_by == "alive"
    finally:
        database.dispose()


def test_a_job_abandoned_too_often_is_failed_not_run(db_url):
    database = _database(db_url)
    try:
        owner = _owner(database)
        with database.session() as session:
            job = Job(
                owner_id=owner,
                parameters={},
                status="processing",
                claimed_by="dead",
                attempts=2,
                lease_expires_at=utcnow() - timedelta(seconds=1),
            )
            session.add(job)
            session.commit()
            job_id = job.id
        with database.session() as session:
            assert jobs.fail_exhausted(session, 2, "worker died", utcnow()) == 1
            session.commit()
        assert _race(database) == []
        with database.session() as session:
            row = session.get(Job, job_id)
            assert (row.status, row.error, row.attempts) == ("failed", "worker died", 2)
    finally:
        database.dispose()
