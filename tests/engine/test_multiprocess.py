"""The Celery engine past one process: two API processes (uvicorn, loopback) on PostgreSQL and
two worker processes on a real redis-server. 50 jobs from 5 users each run exactly once (one
output per item, one archive per job, nothing else on disk); a worker SIGKILLed mid-job has
that job redelivered to the other, which keeps the item already stored and finishes it; users'
jobs complete interleaved, not in submission (job id) order; the queue depth is on /metrics."""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

from loadtest.server import ServerProcess
from nogilbench.store.db import make_engine
from tests.support.engine import WorkerProcess, wait_for, worker_pid
from tests.support.images import noise_bytes

pytest.importorskip("celery", reason="the Celery engine's extra is not installed")

PASSWORD = "engine-test-password"
USERS = 5
JOBS_PER_USER = 10
JOBS = USERS * JOBS_PER_USER
FAST = {"operations": [{"op": "thumbnail", "max_size": 16}], "format": "png"}
# Pure Python, seconds per job on this size: the killed job is still running.
CONVOLVE = {"op": "python_convolve", "max_side": 512, "passes": 4}
SLOW = {"operations": [CONVOLVE] * 3, "format": "png"}
SLOW_SIZE = (512, 384)
SETTINGS = {
    "JOB_ENGINE": "celery",
    "QUOTA_ACTIVE_JOBS": str(JOBS_PER_USER),
    # A killed worker's job comes back after 15 s (Redis's visibility timeout), longer than
    # any job may run (12 + 2 s; the slow one takes a few seconds): no live job is redelivered.
    "JOB_REDELIVERY_SECONDS": "15",
    "JOB_TIME_LIMIT_SECONDS": "12",
    "JOB_TIME_LIMIT_GRACE_SECONDS": "2",
}


def _rows(engine: Engine, query: str) -> list:  # type: ignore[type-arg]
    with engine.connect() as connection:
        return list(connection.execute(text(query)).all())


def _user(client: httpx.Client, number: int) -> tuple[dict[str, str], list[int]]:
    email = f"user{number}@example.com"
    body = {"email": email, "password": PASSWORD}
    assert client.post("/auth/register", json=body).status_code == 201
    login = client.post("/auth/login", data={"username": email, "password": PASSWORD})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    images = []
    for seed in range(2):
        size = SLOW_SIZE if number == 0 and seed == 0 else (24, 16)
        files = {
            "file": (f"u{number}-{seed}.png", noise_bytes(size, 10 * number + seed), "image/png")
        }
        response = client.post("/api/images/upload", files=files, headers=headers)
        assert response.status_code == 201, response.text
        images.append(response.json()["id"])
    return headers, images


@pytest.mark.postgres
@pytest.mark.slow
def test_two_apis_two_workers_fifty_jobs_exactly_once_fair_and_a_killed_worker(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    env = {**SETTINGS, "CELERY_BROKER_URL": redis_url}
    apis = [ServerProcess(sys.executable, data_dir, postgres_url, env=env) for _ in range(2)]
    workers: list[WorkerProcess] = []
    database = make_engine(postgres_url, check=False)
    try:
        for api in apis:
            api.start()
        clients = [httpx.Client(base_url=api.url, timeout=60) for api in apis]
        users = [_user(clients[number % 2], number) for number in range(USERS)]
        # Submitted user by user (FIFO would finish user 0's ten jobs first), alternating
        # the two API processes; user 0's first job is the slow one the kill interrupts.
        job_owner: dict[int, int] = {}
        for number, (headers, images) in enumerate(users):
            for index in range(JOBS_PER_USER):
                slow = number == 0 and index == 0
                batch = {"image_ids": images, "pipeline": SLOW if slow else FAST,
                         "method": "sync", "workers": 1}  # fmt: skip
                client = clients[(number + index) % 2]
                response = client.post("/api/jobs/batch", json=batch, headers=headers)
                assert response.status_code == 202, response.text
                job_owner[response.json()["job_id"]] = number
        slow_id = min(job_owner)
        metrics = clients[1].get("/metrics").text
        assert f'nogilbench_job_queue_depth{{queue="jobs"}} {JOBS}.0' in metrics, metrics

        workers = [
            WorkerProcess(apis[0], name, "--concurrency", "1", "--loglevel", "WARNING").start()
            for name in ("a", "b")
        ]
        status = f"SELECT status, claimed_by, done FROM jobs WHERE id = {slow_id}"
        seen: list = []  # type: ignore[type-arg]

        def claimed() -> bool:
            seen.append(_rows(database, status)[0])
            return seen[-1].claimed_by is not None

        wait_for(claimed, 120, "a worker to take the slow job")
        holder = seen[-1].claimed_by
        victim = next(w for w in workers if w.pid == worker_pid(holder))
        # Freeze it at once (the job takes seconds), check from the database that it still
        # runs the job, then kill it. What it stored by then must be kept, not redone.
        os.kill(victim.pid, signal.SIGSTOP)
        frozen = _rows(database, status)[0]
        stored = f"SELECT position, output_name FROM job_items WHERE job_id = {slow_id} " + (
            "AND status = 'completed'"
        )
        kept = set(_rows(database, stored))
        victim.kill()
        assert (frozen.status, frozen.claimed_by) == ("processing", holder), (frozen, seen[-4:])
        assert len(kept) == frozen.done

        finished = "SELECT count(*) AS n FROM jobs WHERE status IN ('completed', 'failed')"
        wait_for(lambda: _rows(database, finished)[0].n == JOBS, 180, "every job", 0.2)
        survivor = next(w for w in workers if w is not victim)
        assert survivor.process is not None and survivor.process.poll() is None, survivor.log()
        metrics = clients[0].get("/metrics").text
        assert 'nogilbench_job_queue_depth{queue="jobs"} 0.0' in metrics, metrics
        for client in clients:
            client.close()
        jobs = _rows(
            database,
            "SELECT id, status, attempts, claimed_by, done, failed, result_name FROM jobs "
            "ORDER BY finished_at, id",
        )
        items = _rows(database, "SELECT job_id, position, status, output_name FROM job_items")
    finally:
        database.dispose()
        for worker in workers:
            worker.stop()
        for api in apis:
            api.stop()

    assert len(jobs) == JOBS and len(items) == 2 * JOBS
    assert {(job.status, job.done, job.failed) for job in jobs} == {("completed", 2, 0)}
    attempts = {job.id: job.attempts for job in jobs}
    assert attempts.pop(slow_id) == 2 and set(attempts.values()) == {1}
    slow = next(job for job in jobs if job.id == slow_id)
    assert worker_pid(slow.claimed_by) != worker_pid(holder)  # finished by the other worker
    # What the killed worker stored was kept, not redone.
    assert kept <= {(item.position, item.output_name) for item in items if item.job_id == slow_id}
    # Exactly once: one output per item, one archive per job, no other file on disk (a second
    # run of an item would have left a second output, deleted or not counted).
    assert {item.status for item in items} == {"completed"}
    outputs = [item.output_name for item in items]
    assert len(set(outputs)) == len(outputs)
    # No other file on disk but at most one the killed worker wrote and never committed (an
    # output, or the archive it was writing: no row names it; the start-up sweep's
    # business, not a second run).
    outputs_on_disk = {path.name for path in (data_dir / "outputs").iterdir()}
    archives_on_disk = {path.name for path in (data_dir / "results").iterdir()}
    archives = {job.result_name for job in jobs}
    assert set(outputs) <= outputs_on_disk and archives <= archives_on_disk
    assert len(outputs_on_disk - set(outputs)) + len(archives_on_disk - archives) <= 1
    # Fairness: every user's k-th job before anyone's (k+2)-th: the first 5k completions
    # hold at least k-1 jobs of every user (FIFO would give user 0 the first ten).
    order = [job_owner[job.id] for job in jobs if job.id != slow_id]
    for k in range(1, JOBS_PER_USER):
        seen = Counter(order[: USERS * k])
        assert all(seen[user] >= k - 1 for user in range(USERS)), (k, order)
