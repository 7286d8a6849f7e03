"""Pool exhaustion is a 503 with Retry-After (never a 500); SSE streams have a lifetime and
hold no connection between polls."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.core.models import Job, User, utcnow
from tests.support.api import assert_envelope, make_settings, read_events, signed_in_client


@pytest.fixture
def tiny_pool_client(db_url, tmp_path):
    settings = make_settings(
        db_url,
        tmp_path / "data",
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout=0.5,
        retry_after_seconds=7,
        sse_max_seconds=0.5,
    )
    with signed_in_client(settings, "ada@example.com") as client:
        yield client


def test_an_exhausted_pool_is_503_with_retry_after(tiny_pool_client):
    client = tiny_pool_client
    engine = client.app.state.services.database.engine
    held = engine.connect()  # the pool's only connection
    try:
        response = client.get("/auth/me")
        assert_envelope(response, 503, "DATABASE_UNAVAILABLE")
        assert response.headers["retry-after"] == "7"
    finally:
        held.close()
    assert client.get("/auth/me").status_code == 200  # the connection is back: served again


def test_a_stream_ends_after_its_lifetime_and_holds_no_connection(tiny_pool_client):
    client = tiny_pool_client
    user_id = client.get("/auth/me").json()["id"]
    with Session(client.app.state.services.database.engine) as session:
        # Held by a live worker elsewhere: it never finishes while the stream watches it.
        job = Job(
            owner_id=user_id,
            parameters={},
            status="processing",
            claimed_by="elsewhere",
            attempts=1,
            lease_expires_at=utcnow() + timedelta(hours=1),
        )
        session.add(job)
        session.commit()
        job_id = job.id
    events = read_events(client, {}, job_id)
    assert [name for name, _ in events] == ["progress", "expired"]
    assert "reconnect" in events[-1][1]["message"]
    # A pool of one connection served the stream's polls and is free again.
    assert client.get(f"/api/jobs/{job_id}").json()["status"] == "processing"


def test_bound_parameters_never_appear_in_database_errors(app, client):
    database = app.state.services.database
    with database.session() as session:
        session.add(User(email="dup@example.com", password_hash="HASH-ONE-" + "a" * 40))
        session.commit()
    with database.session() as session:
        session.add(User(email="dup@example.com", password_hash="HASH-TWO-" + "b" * 40))
        with pytest.raises(IntegrityError) as failed:
            session.commit()
    text = str(failed.value)
    assert "HASH-TWO" not in text  # (PostgreSQL's own DETAIL names the duplicate key)
    assert "hidden due to hide_parameters" in text
