"""A job's event stream, pushed: ids and Last-Event-ID, a follower that no longer polls the
database several times a second, and the stream token a browser's EventSource presents (this
job's events only, briefly; refused everywhere else; never written to a log)."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from api.core.models import Job
from api.core.stream_tokens import STREAM_AUDIENCE
from api.http.redaction import RedactQuerySecrets
from tests.support.api import (
    assert_envelope,
    bearer,
    make_settings,
    post_batch,
    signed_in_client,
    upload,
    wait_for_job,
)

Frame = tuple[str | None, str | None, dict]  # (id, event, data)


def parse(lines: list[str]) -> list[Frame]:
    frames: list[Frame] = []
    identifier = name = None
    for line in lines:
        if line.startswith("id: "):
            identifier = line.removeprefix("id: ")
        elif line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            frames.append((identifier, name, json.loads(line.removeprefix("data: "))))
        elif line == "":
            identifier = name = None
    return frames


def read_frames(client: TestClient, url: str, headers: dict[str, str]) -> list[Frame]:
    with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200, response.read()
        return parse(list(response.iter_lines()))


def finished_batch(client: TestClient, headers: dict[str, str]) -> int:
    job_id = post_batch(client, headers, [upload(client, headers).json()["id"]], workers=1)
    assert wait_for_job(client, headers, job_id)["status"] == "completed"
    return job_id


def test_events_carry_ids_and_last_event_id_sends_nothing_twice(client, auth_headers) -> None:
    job_id = finished_batch(client, auth_headers)
    url = f"/api/jobs/{job_id}/events"
    frames = read_frames(client, url, auth_headers)
    assert [name for _id, name, _data in frames] == ["progress", "done"]
    seen = frames[0][0]
    assert seen == "completed-1-0-1" and frames[1][0] == seen
    # Reconnecting after that state: no second `progress`, only the end.
    again = read_frames(client, url, {**auth_headers, "Last-Event-ID": seen})
    assert [name for _id, name, _data in again] == ["done"]
    # From an older state (or a garbled id): the current state, then the end.
    for last in ("processing-0-0-1", "x" * 5000):
        resumed = read_frames(client, url, {**auth_headers, "Last-Event-ID": last})
        assert [(i, name) for i, name, _data in resumed] == [(seen, "progress"), (seen, "done")]


@pytest.fixture
def push_client(db_url: str, tmp_path: Path):
    # The production safety poll (5 s): a follower must wake on the change itself.
    settings = make_settings(db_url, tmp_path / "data", sse_poll_seconds=5.0)
    with signed_in_client(settings, "follower@example.com") as client:
        client.app.state.services.jobs.stop()  # this test changes the job itself
        yield client


def test_a_follower_is_woken_by_the_change_not_by_polling(push_client: TestClient) -> None:
    client = push_client
    database = client.app.state.services.database
    owner = client.get("/auth/me").json()["id"]
    with database.session() as session:
        job = Job(owner_id=owner, total=3)
        session.add(job)
        session.commit()
        job_id = job.id
    reads: list[float] = []

    def count(_conn, _cursor, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM jobs" in statement:
            reads.append(time.monotonic())

    event.listen(database.engine, "before_cursor_execute", count)
    lines: queue.Queue[str | None] = queue.Queue()

    def follow() -> None:
        with client.stream("GET", f"/api/jobs/{job_id}/events") as response:
            for line in response.iter_lines():
                lines.put(line)
        lines.put(None)

    def next_frame(timeout: float) -> Frame:
        collected: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
            assert line is not None, "the stream ended"
            if line == "" and any(part.startswith("data: ") for part in collected):
                return parse(collected)[0]
            collected.append(line)

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    try:
        assert next_frame(10)[2]["status"] == "queued"
        opened = time.monotonic()
        time.sleep(2.0)
        idle_reads = [t for t in reads if t >= opened]
        # Polling 4 times a second would have read the job 8 times by now.
        assert len(idle_reads) <= 1, f"{len(idle_reads)} reads of an unchanged job in 2 s"

        with database.session() as session:
            session.get(Job, job_id).done = 1
            session.commit()
        changed = time.monotonic()
        identifier, name, data = next_frame(4)
        assert (name, data["done"], identifier) == ("progress", 1, "queued-1-0-3")
        assert time.monotonic() - changed < 2.5  # the 5 s safety poll would be later

        with database.session() as session:
            row = session.get(Job, job_id)
            row.done, row.failed, row.status = 2, 1, "completed"
            session.commit()
        assert next_frame(4)[:2] == ("completed-2-1-3", "progress")
        assert next_frame(4)[:2] == ("completed-2-1-3", "done")
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
        follower.join(timeout=10)


def test_stream_token_follows_that_job_only(client, auth_headers, make_user) -> None:
    job_id = finished_batch(client, auth_headers)
    other_job = finished_batch(client, auth_headers)
    issued = client.post(f"/api/jobs/{job_id}/stream-token", headers=auth_headers)
    assert issued.status_code == 200, issued.text
    body = issued.json()
    token = body["stream_token"]
    assert body["expires_in"] == 60
    assert body["events_url"] == f"/api/jobs/{job_id}/events?stream_token={token}"

    # With no header at all, as an EventSource sends it.
    frames = read_frames(client, body["events_url"], {})
    assert [name for _id, name, _data in frames] == ["progress", "done"]

    # Another job's events, even the same user's.
    response = client.get(f"/api/jobs/{other_job}/events?stream_token={token}")
    assert "another job" in assert_envelope(response, 401, "INVALID_TOKEN")["message"]
    # Any other endpoint: as a bearer token or in the query string.
    for path in (f"/api/jobs/{job_id}", f"/api/jobs/{job_id}/result", "/auth/me"):
        assert_envelope(client.get(path, headers=bearer(token)), 401, "INVALID_TOKEN")
        assert_envelope(client.get(f"{path}?stream_token={token}"), 401, "INVALID_TOKEN")
    response = client.post(f"/api/jobs/{job_id}/stream-token", headers=bearer(token))
    assert_envelope(response, 401, "INVALID_TOKEN")

    # An access token is no stream token either.
    access = auth_headers["Authorization"].removeprefix("Bearer ")
    response = client.get(f"/api/jobs/{job_id}/events?stream_token={access}")
    assert_envelope(response, 401, "INVALID_TOKEN")

    # Nobody gets a token for a job not theirs.
    intruder = make_user("intruder@example.com")
    response = client.post(f"/api/jobs/{job_id}/stream-token", headers=intruder)
    assert_envelope(response, 404, "JOB_NOT_FOUND")


def test_stream_token_expires_and_cannot_be_forged(client, auth_headers) -> None:
    job_id = finished_batch(client, auth_headers)
    tokens = client.app.state.services.stream_tokens
    claims = jwt.decode(
        tokens.issue(1, job_id), options={"verify_signature": False}, audience=STREAM_AUDIENCE
    )
    assert claims["exp"] - claims["iat"] == pytest.approx(60, abs=1)
    tokens.lifetime = timedelta(seconds=-1)  # issued already past its end
    expired = client.post(f"/api/jobs/{job_id}/stream-token", headers=auth_headers).json()
    response = client.get(expired["events_url"])
    assert "expired" in assert_envelope(response, 401, "INVALID_TOKEN")["message"]
    forged = jwt.encode({**claims, "exp": time.time() + 60}, "k" * 64, algorithm="HS256")
    response = client.get(f"/api/jobs/{job_id}/events?stream_token={forged}")
    assert_envelope(response, 401, "INVALID_TOKEN")


def test_uvicorn_access_log_never_holds_a_stream_token() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/api/jobs/3/events?a=1&stream_token=eyJ.secret.sig&b=2", "1.1",
         200), None,
    )  # fmt: skip
    RedactQuerySecrets().filter(record)
    line = record.getMessage()
    assert "eyJ" not in line and "secret" not in line
    assert "/api/jobs/3/events?a=1&stream_token=[redacted]&b=2" in line
