"""The Celery engine's pieces in one process, on a real redis-server and SQLite: a web app with
JOB_ENGINE=celery only queues (fair priority bands, benchmark queues per host, the depth on
/metrics); `WorkerRuntime.run` (what the Celery task calls) claims and runs a delivered job
once, resumes a redelivered one, honours the time limit, the cancel flag and the attempts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from api.core.models import Job, JobItem
from api.core.settings import Settings
from api.main import create_app
from nogilbench.store.db import make_engine
from tests.support.api import (
    OPS,
    TINY_BENCHMARK,
    assert_envelope,
    make_settings,
    post_batch,
    sign_in,
    upload,
    upload_many,
)
from tests.support.images import noise_bytes

pytest.importorskip("celery", reason="the Celery engine's extra is not installed")
redis = pytest.importorskip("redis")

from api.services.engine.depth import queue_depths  # noqa: E402
from api.services.engine.naming import cancel_key  # noqa: E402
from api.services.engine.runtime import WorkerRuntime  # noqa: E402

SEP = "\x06\x16"
SLOW = {"operations": [{"op": "python_convolve", "max_side": 512, "passes": 4}], "format": "png"}


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Settings:
    return make_settings(
        f"sqlite:///{tmp_path / 'api.db'}",
        tmp_path / "data",
        job_engine="celery",
        celery_broker_url=redis_url,
        quota_active_jobs=10,
        benchmark_host="here",
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def runtime(settings: Settings, client: TestClient) -> Iterator[WorkerRuntime]:
    worker = WorkerRuntime(settings)
    yield worker
    worker.close()


# Every batch here runs one image at a time, synchronously, in the worker.
_batch = partial(post_batch, method="sync", workers=1)


def _job(settings: Settings, job_id: int) -> tuple[Job, list[JobItem]]:
    engine = make_engine(str(settings.database_url), check=False)
    try:
        with Session(engine) as session:
            job = session.get(Job, job_id)
            assert job is not None
            items = list(session.exec(select(JobItem).where(JobItem.job_id == job_id)))
            session.expunge_all()
            return job, sorted(items, key=lambda item: item.position)
    finally:
        engine.dispose()


def test_web_processes_only_queue_fairly_and_count_the_queue(client, settings, redis_url):
    ada, bob = sign_in(client, "ada@example.com"), sign_in(client, "bob@example.com")
    ada_ids = upload_many(client, ada, 1)
    bob_ids = upload_many(client, bob, 1)
    for _ in range(3):
        _batch(client, ada, ada_ids)
    _batch(client, bob, bob_ids)
    time.sleep(0.3)  # an embedded engine would have run them by now
    assert {job["status"] for job in client.get("/api/jobs", headers=ada).json()} == {"queued"}
    broker = redis.Redis.from_url(redis_url)
    # Each owner's k-th active job goes to band k: ada's first and bob's first share band 0.
    bands = {band: broker.llen("jobs" + (f"{SEP}{band}" if band else "")) for band in range(4)}
    assert bands == {0: 2, 1: 1, 2: 1, 3: 0}
    metrics = client.get("/metrics", headers=OPS).text
    assert 'nogilbench_job_queue_depth{queue="jobs"} 4.0' in metrics


def test_benchmarks_go_to_their_hosts_queue(client, settings, redis_url):
    headers = sign_in(client, "op@example.com", operator_in=settings)
    for host in (None, "lab-2"):
        body = {**TINY_BENCHMARK, **({"host": host} if host else {})}
        response = client.post("/api/benchmarks/run", json=body, headers=headers)
        assert response.status_code == 202, response.text
    broker = redis.Redis.from_url(redis_url)
    # The operator's second job is in band 1 of its queue: depths sum the bands.
    assert queue_depths(broker) == {"jobs": 0, "bench.here": 1, "bench.lab-2": 1}
    metrics = client.get("/metrics", headers=OPS).text
    assert 'nogilbench_job_queue_depth{queue="bench.lab-2"} 1.0' in metrics


def test_the_embedded_engine_refuses_another_host(tmp_path):
    settings = make_settings(f"sqlite:///{tmp_path / 'api.db'}", tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        headers = sign_in(client, "op@example.com", operator_in=settings)
        body = {**TINY_BENCHMARK, "host": "somewhere-else"}
        response = client.post("/api/benchmarks/run", json=body, headers=headers)
        assert_envelope(response, 400, "INVALID_OPERATION")


def test_a_delivered_job_runs_once_and_a_duplicate_does_nothing(client, settings, runtime):
    ada = sign_in(client, "ada@example.com")
    job_id = _batch(client, ada, upload_many(client, ada, 2))
    assert runtime.run(job_id) == "completed"
    job, items = _job(settings, job_id)
    assert (job.status, job.attempts, job.done, job.claimed_by) == (
        "completed", 1, 2, runtime.worker_id,
    )  # fmt: skip
    outputs = {path.name for path in settings.outputs_dir.iterdir()}
    assert outputs == {item.output_name for item in items}
    assert runtime.run(job_id) == "skipped"  # redelivered after it ended: nothing runs
    assert {path.name for path in settings.outputs_dir.iterdir()} == outputs
    assert _job(settings, job_id)[0].attempts == 1


def test_a_redelivered_job_keeps_what_the_dead_worker_stored(client, settings, runtime):
    ada = sign_in(client, "ada@example.com")
    job_id = _batch(client, ada, upload_many(client, ada, 2))
    first = WorkerRuntime(settings)  # the worker that will "die" after one item
    try:
        first.manager.cpu.hold = _one_item_then_die(first.manager.cpu.hold)  # type: ignore[method-assign]
        with pytest.raises(SystemExit):
            first.run(job_id)
    finally:
        first.close()
    job, items = _job(settings, job_id)
    assert (job.status, job.done, [item.status for item in items]) == (
        "processing", 1, ["completed", "pending"],
    )  # fmt: skip
    kept = items[0].output_name
    assert runtime.run(job_id) == "completed"
    job, items = _job(settings, job_id)
    assert (job.attempts, job.done, job.claimed_by) == (2, 2, runtime.worker_id)
    assert items[0].output_name == kept  # not processed again
    assert {path.name for path in settings.outputs_dir.iterdir()} == {
        item.output_name for item in items
    }


def _one_item_then_die(hold):  # type: ignore[no-untyped-def]
    """The CPU limiter's `hold`, wrapped: the second chunk kills the job's thread the way a
    dead process leaves it (no clean-up code runs: SystemExit is no Exception)."""
    calls = []

    def wrapped(workers, stop):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) > 1:
            raise SystemExit("worker died")
        return hold(workers, stop)

    return wrapped


def test_time_limit_stops_and_fails_a_runaway_job(tmp_path, redis_url, client):
    slow_settings = make_settings(
        f"sqlite:///{tmp_path / 'api.db'}",
        tmp_path / "data",
        job_engine="celery",
        celery_broker_url=redis_url,
        job_time_limit_seconds=0.3,
    )
    ada = sign_in(client, "ada@example.com")
    ids = [upload(client, ada, noise_bytes((512, 384), seed)).json()["id"] for seed in range(4)]
    job_id = _batch(client, ada, ids, SLOW)
    worker = WorkerRuntime(slow_settings)
    try:
        assert worker.run(job_id) == "failed"
    finally:
        worker.close()
    job, _items = _job(slow_settings, job_id)
    assert job.status == "failed" and "time limit of 0.3 s" in (job.error or ""), job
    assert job.done < 4 and not list(slow_settings.outputs_dir.iterdir())


def test_the_cancel_flag_stops_a_running_job(client, settings, runtime, redis_url):
    ada = sign_in(client, "ada@example.com")
    ids = [upload(client, ada, noise_bytes((512, 384), seed)).json()["id"] for seed in range(4)]
    job_id = _batch(client, ada, ids, SLOW)
    outcome: list[str] = []
    thread = threading.Thread(target=lambda: outcome.append(runtime.run(job_id)))
    thread.start()
    deadline = time.monotonic() + 60
    while _job(settings, job_id)[0].status != "processing" and time.monotonic() < deadline:
        time.sleep(0.02)
    redis.Redis.from_url(redis_url).set(cancel_key(job_id), b"1")
    thread.join(60)
    job, _items = _job(settings, job_id)
    assert outcome == ["failed"] and (job.status, job.error) == ("failed", "cancelled")
    assert job.done < 4
    assert runtime.run(job_id) == "skipped"


def test_a_job_whose_workers_keep_dying_is_failed(client, settings, runtime):
    ada = sign_in(client, "ada@example.com")
    job_id = _batch(client, ada, upload_many(client, ada, 1))
    engine = make_engine(str(settings.database_url), check=False)
    try:
        with Session(engine) as session:
            job = session.get(Job, job_id)
            assert job is not None
            job.status, job.attempts, job.claimed_by = "processing", 2, "dead:1:x"
            session.commit()
    finally:
        engine.dispose()
    assert runtime.run(job_id) == "failed"
    job, _items = _job(settings, job_id)
    assert job.status == "failed" and "stopped while this job was running" in (job.error or "")


class _Retried(Exception):
    """What the patched `Task.retry` gives to raise: the delay it was asked for."""

    def __init__(self, countdown: float) -> None:
        super().__init__(countdown)
        self.countdown = countdown


class _DownRuntime:
    """A worker runtime whose database is unreachable; `give_up` fails while `down`."""

    transient_errors = (OperationalError,)

    def __init__(self, settings: Settings, down: bool) -> None:
        self.settings, self.down, self.given_up = settings, down, 0

    def run(self, job_id: int) -> str:
        raise OperationalError("SELECT 1", {}, Exception("database is down"))

    def give_up(self, job_id: int, error: BaseException) -> None:
        if self.down:
            raise OperationalError("UPDATE jobs", {}, Exception("database is still down"))
        self.given_up += 1


def test_retries_exhausted_with_the_database_still_down_keep_the_job_queued_for_later(
    settings, monkeypatch
):
    """Out of retries, the task fails the job; when failing it needs the database that is
    still down, the message is retried (longest delay) instead of being dropped."""
    from celery import Celery

    from api.services.engine.naming import TASK_NAME
    from api.services.engine.tasks import MAX_BACKOFF_S, register

    runtime = _DownRuntime(settings, down=False)
    app = Celery("retries-test", broker="memory://")
    register(app, lambda: runtime)
    task = app.tasks[TASK_NAME]
    monkeypatch.setattr(task, "retry", lambda countdown, **route: _Retried(countdown))
    for down in (False, True):
        runtime.down, runtime.given_up = down, 0
        task.push_request(retries=settings.job_retries, delivery_info={})
        try:
            if down:
                with pytest.raises(_Retried) as retried:
                    task.run(7)
                assert retried.value.countdown == MAX_BACKOFF_S and runtime.given_up == 0
            else:
                assert task.run(7) == "failed" and runtime.given_up == 1
        finally:
            task.pop_request()
        # Before the retries run out, a transient error retries with the backoff.
        task.push_request(retries=0, delivery_info={})
        try:
            with pytest.raises(_Retried) as retried:
                task.run(7)
            assert retried.value.countdown == settings.job_retry_backoff_seconds
        finally:
            task.pop_request()
