"""Job events: a publish from any thread wakes the job's followers (and only them), none is
lost between a read and the next wait, and every commit that changes what a follower sees
publishes by itself, whichever writer made it (an ORM change, a claim, a delete), while a
lease renewal or a rolled-back change publishes nothing."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

from fastapi.testclient import TestClient

from api.core.models import Job, utcnow
from api.repositories import jobs
from api.services import job_events
from api.services.job_events import EVERY_JOB, LocalJobEvents


def test_a_publish_from_another_thread_wakes_only_that_jobs_followers() -> None:
    events = LocalJobEvents()

    async def follow() -> tuple[bool, bool, float]:
        async with events.follow(7) as seven, events.follow(8) as eight:
            started = time.monotonic()
            threading.Timer(0.05, events.publish, args=(7,)).start()
            woke = await seven.wait(10)
            took = time.monotonic() - started
            other = await eight.wait(0.2)
        return woke, other, took

    woke, other, took = asyncio.run(follow())
    assert woke and not other
    assert took < 5  # woken by the publish, not by the 10 s timeout
    assert events.following() == 0  # followers leave when their stream ends


def test_a_notification_between_read_and_wait_is_not_lost() -> None:
    events = LocalJobEvents()

    async def follow() -> tuple[bool, bool, bool]:
        async with events.follow(1) as follower:
            events.publish(1)  # while the follower was reading the row
            events.publish(1)  # several coalesce into one wake
            first = await follower.wait(0.5)
            second = await follower.wait(0.1)
            events.publish(EVERY_JOB)  # a change whose jobs are not named wakes everyone
            third = await follower.wait(0.5)
        return first, second, third

    assert asyncio.run(follow()) == (True, False, True)


class Recorder:
    def __init__(self) -> None:
        self.published: list[int] = []

    def publish(self, job_id: int) -> None:
        self.published.append(job_id)

    def take(self) -> list[int]:
        taken, self.published = self.published, []
        return taken


def test_every_writer_publishes_after_its_commit(client: TestClient, auth_headers) -> None:
    services = client.app.state.services
    services.jobs.stop()  # this test is the only writer
    recorder = Recorder()
    job_events.install(services.database, recorder)  # type: ignore[arg-type]
    owner = client.get("/auth/me", headers=auth_headers).json()["id"]
    database = services.database
    with database.session() as session:
        job = Job(owner_id=owner, total=2)
        session.add(job)
        session.commit()
        job_id = job.id
    assert recorder.take() == []  # a new job has no followers yet

    with database.session() as session:
        row = session.get(Job, job_id)
        row.lease_expires_at = utcnow()  # invisible to followers: a heartbeat's renewal
        session.commit()
        assert recorder.take() == []
        row.done = 1
        session.flush()
        assert recorder.take() == []  # flushed, not committed: nobody sees it yet
        session.commit()
        assert recorder.take() == [job_id]
        row.done = 2
        session.flush()
        session.rollback()
        assert recorder.take() == []

    now = utcnow()
    with database.session() as session:
        claimed = jobs.claim_next(session, "test-worker", now, now + timedelta(seconds=30))
        session.commit()
    assert claimed is not None and claimed.job_id == job_id
    assert recorder.take() == [EVERY_JOB]  # an UPDATE statement: its rows are not named
    with database.session() as session:
        jobs.renew_leases(session, "test-worker", [job_id], now + timedelta(seconds=60))
        session.commit()
    assert recorder.take() == []  # a lease renewal changes nothing a follower sees
    with database.session() as session:
        assert jobs.delete_owned(session, job_id, owner) is not None
        session.commit()
    assert recorder.take() == [EVERY_JOB]
