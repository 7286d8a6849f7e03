"""State every process shares through a real redis-server (REDIS_URL): two app instances (two
processes' worth of everything: engine, limiter, quota, notifier) count one login rate limit
and one event-stream quota, and a job changed through one wakes a follower of the other.
memory:// stays the default."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.core.models import Job
from api.core.settings import Settings
from api.http.ratelimit import open_storage
from api.main import create_app
from tests.support.api import assert_envelope, bearer, login, make_settings, register

pytest.importorskip("redis", reason="REDIS_URL needs redis-py (the `redis` package)")


@pytest.fixture
def two_apps(redis_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    """Two app instances on one database and one Redis, as two uvicorn processes would be."""
    database = f"sqlite:///{tmp_path / 'api.db'}"
    common = {
        "redis_url": redis_url,
        "auth_rate_limit_address": "3/minute",
        "quota_event_streams": 1,
        "sse_poll_seconds": 5.0,
    }
    with ExitStack() as stack:
        clients = tuple(
            stack.enter_context(
                TestClient(create_app(make_settings(database, tmp_path / name, **common)))
            )
            for name in ("a", "b")
        )
        yield clients  # type: ignore[misc]


def test_default_storage_is_memory_and_redis_goes_through_redis_py(redis_url: str) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.limits_storage_url == "memory://"
    assert type(open_storage("memory://")).__name__ == "MemoryStorage"
    storage = open_storage(redis_url)
    assert type(storage).__name__ == "RedisStorage"
    assert type(storage.bridge).__name__ == "RedispyBridge"  # not coredis (not installed)


def test_login_rate_limit_is_shared(two_apps: tuple[TestClient, TestClient]) -> None:
    first, second = two_apps
    register(first, "victim@example.com")
    wrong = {"username": "victim@example.com", "password": "not the password"}
    # register counts one credential check from this address; two failed logins on `first`
    for _ in range(2):
        assert first.post("/auth/login", data=wrong).status_code == 401
    response = second.post("/auth/login", data=wrong)  # the fourth, on the other process
    body = assert_envelope(response, 429, "RATE_LIMITED")
    assert "from this address" in body["message"]
    assert int(response.headers["Retry-After"]) >= 1


def test_stream_quota_and_job_events_are_shared(two_apps: tuple[TestClient, TestClient]) -> None:
    first, second = two_apps
    register(first, "streams@example.com")
    headers = bearer(login(first, "streams@example.com")["access_token"])
    for client in two_apps:
        client.app.state.services.jobs.stop()  # the test changes the job itself
    owner = first.get("/auth/me", headers=headers).json()["id"]
    database = first.app.state.services.database
    with database.session() as session:
        job = Job(owner_id=owner, total=2)
        session.add(job)
        session.commit()
        job_id = job.id

    lines: queue.Queue[str | None] = queue.Queue()

    def follow() -> None:  # on the second process
        with second.stream("GET", f"/api/jobs/{job_id}/events", headers=headers) as response:
            for line in response.iter_lines():
                lines.put(line)
        lines.put(None)

    def wait_for(text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            assert line is not None, "the stream ended"
            if text in line:
                return

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    try:
        wait_for('"status":"queued"', 10)
        # The user's one stream is open on the second process: the first refuses another.
        response = first.get(f"/api/jobs/{job_id}/events", headers=headers)
        assert_envelope(response, 429, "QUOTA_EXCEEDED")

        # A change committed through the first process wakes the second's follower (Redis
        # pub/sub), well before its 5 s safety poll.
        with database.session() as session:
            session.get(Job, job_id).done = 1
            session.commit()
        changed = time.monotonic()
        wait_for('"done":1', 4)
        assert time.monotonic() - changed < 2.5
        with database.session() as session:
            row = session.get(Job, job_id)
            row.done, row.status = 2, "completed"
            session.commit()
        wait_for("event: done", 4)
    finally:
        follower.join(timeout=10)
    # The stream ended and gave its slot back: the first process may open one now.
    response = first.get(f"/api/jobs/{job_id}/events", headers=headers)
    assert response.status_code == 200 and "event: done" in response.text
