"""Hygiene: key length, private files, aud/iss, nosniff, a /health that says only up or
down, control characters escaped in the access log, bound parameters never in errors, and
jobs.method wide enough for a benchmark over every method."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from test_api_benchmarks import TINY
from test_api_cancel import _hang_cells, _wait_for_pid
from test_api_errors import Outage

from api.core.models import User
from api.core.security import load_or_create_secret_key
from api.core.settings import Settings
from api.main import create_app
from nogilbench.errors import StoreUnavailable
from tests.support.api import SECRET, assert_envelope, bearer, make_settings, register

ROOT = Path(__file__).resolve().parents[2]


def test_short_secret_key_refuses_to_start(tmp_path):
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(_env_file=None, secret_key="x" * 31)  # type: ignore[call-arg]
    env = {
        **os.environ,
        "SECRET_KEY": "too-short",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "DATA_DIR": str(tmp_path / "data"),
    }
    started = subprocess.run(
        [sys.executable, "-c", "import api.main"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert started.returncode != 0
    assert "Traceback" not in started.stderr
    last = started.stderr.strip().splitlines()[-1]
    assert last.startswith("nogilbench api: refusing to start: SECRET_KEY: ")
    assert "must be at least 32 bytes" in last


def test_short_key_file_is_refused(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("short")
    key_file.chmod(0o600)
    with pytest.raises(ValueError, match="shorter than 32 bytes"):
        load_or_create_secret_key(None, key_file)


def test_key_file_and_sqlite_file_are_private(tmp_path):
    settings = make_settings(
        f"sqlite:///{tmp_path / 'private.db'}", tmp_path / "data", secret_key=None
    )
    old_umask = os.umask(0o022)  # a usual umask: files would be world-readable by default
    try:
        with TestClient(create_app(settings)) as client:
            register(client, "ada@example.com")
    finally:
        os.umask(old_umask)
    for path in (tmp_path / "private.db", settings.secret_key_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    wal = tmp_path / "private.db-wal"
    if wal.exists():
        assert stat.S_IMODE(wal.stat().st_mode) & 0o077 == 0


def _token(**claims: object) -> str:
    now = datetime.now(UTC)
    base = {
        "sub": "1",
        "type": "access",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "iss": "nogilbench-api",
        "aud": "nogilbench-api",
    }
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, SECRET, "HS256")


def test_tokens_carry_and_need_aud_and_iss(client, auth_headers):
    issued = auth_headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(issued, SECRET, algorithms=["HS256"], audience="nogilbench-api")
    assert claims["iss"] == "nogilbench-api" and claims["aud"] == "nogilbench-api"
    user_id = client.get("/auth/me", headers=auth_headers).json()["id"]
    assert client.get("/auth/me", headers=bearer(_token(sub=str(user_id)))).status_code == 200
    for name, token in {
        "no aud": _token(sub=str(user_id), aud=None),
        "no iss": _token(sub=str(user_id), iss=None),
        "other audience": _token(sub=str(user_id), aud="another-service"),
        "other issuer": _token(sub=str(user_id), iss="another-service"),
    }.items():
        response = client.get("/auth/me", headers=bearer(token))
        assert_envelope(response, 401, "INVALID_TOKEN"), name


def test_nosniff_on_every_response(client, auth_headers, uploaded):
    for response in (
        client.get("/health"),
        client.get("/auth/me", headers=auth_headers),
        client.get("/no/such/route"),
        client.get(f"/api/images/{uploaded['id']}", headers=auth_headers),
        client.post("/auth/register", content=b"{", headers={"Content-Type": "application/json"}),
    ):
        assert response.headers["x-content-type-options"] == "nosniff", response.url


def test_health_says_only_up_or_down(client, app, caplog):
    assert client.get("/health").json() == {"status": "ok", "database": "ok"}

    def unreachable() -> None:
        raise StoreUnavailable(
            "cannot reach the database at postgresql+psycopg://app@10.9.8.7:5432/prod: "
            'connection to server at "10.9.8.7", port 5432 failed: Connection refused'
        )

    app.state.services.database.check = unreachable
    with caplog.at_level(logging.WARNING, logger="api.core.errors"):
        response = client.get("/health")
    body = assert_envelope(response, 503, "DATABASE_UNAVAILABLE")
    assert body["message"] == "the database is unavailable; retry later"
    assert "10.9.8.7" in caplog.text  # the reason is kept for the operator, in the log


def test_outage_answers_never_show_the_driver_message(client, app, auth_headers):
    outage = Outage(app)
    outage.start()
    try:
        for response in (client.get("/health"), client.get("/api/jobs/", headers=auth_headers)):
            body = assert_envelope(response, 503, "DATABASE_UNAVAILABLE")
            assert "refused" not in body["message"] and "sqlite" not in body["message"].lower()
    finally:
        outage.end()


@pytest.mark.postgres
def test_real_postgres_outage_health_hides_the_host(postgres_server, tmp_path):
    url = postgres_server.new_database("api_health_leak")
    with TestClient(create_app(make_settings(url, tmp_path / "data"))) as client:
        postgres_server.stop()
        try:
            app_database = client.app.state.services.database  # type: ignore[attr-defined]
            app_database._ready = False  # as after a restart while it is down
            response = client.get("/health")
        finally:
            postgres_server.start()
    body = assert_envelope(response, 503, "DATABASE_UNAVAILABLE")
    assert "127.0.0.1" not in response.text and str(postgres_server.port) not in response.text
    assert body["message"] == "the database is unavailable; retry later"


def test_access_log_escapes_control_characters(client, caplog):
    with caplog.at_level(logging.INFO, logger="api.access"):
        client.get("/api/%0A2026-01-01 INFO api.access: GET /admin -> 200%1B[2J")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "api.access"]
    assert "\n" not in line and "\x1b" not in line
    assert "/api/\\n2026-01-01 INFO api.access: GET /admin -> 200\\x1b[2J" in line


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


def test_benchmark_over_every_method_fits_jobs_method(
    client, operator_headers, tmp_path, monkeypatch
):
    # On PostgreSQL a 69-character method list overflowed VARCHAR(40) (a 500) before 0002.
    _hang_cells(monkeypatch, tmp_path / "cell.pid")
    methods = [
        "sync",
        "asyncio",
        "threading",
        "multiprocessing",
        "free-threaded",
        "subinterpreters",
    ]
    response = client.post(
        "/api/benchmarks/run", json={**TINY, "methods": methods}, headers=operator_headers
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert client.get(f"/api/jobs/{job_id}", headers=operator_headers).json()["method"] == (
        ",".join(methods)
    )
    _wait_for_pid(tmp_path / "cell.pid")
    assert client.delete(f"/api/jobs/{job_id}", headers=operator_headers).status_code == 204
