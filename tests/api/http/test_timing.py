"""Server-Timing (api/http/timing.py): off by default; on, a /process response names where its
time went, and the load harness reads the header back."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from loadtest.load import parse_server_timing
from tests.support.api import bearer, login, make_settings, register, upload

PIPELINE = {"operations": [{"op": "grayscale"}], "format": "png"}


def _process(client: TestClient) -> dict[str, float] | None:
    register(client, "timed@example.com")
    headers = bearer(login(client, "timed@example.com")["access_token"])
    image = upload(client, headers).json()
    response = client.post(f"/api/images/{image['id']}/process", json=PIPELINE, headers=headers)
    assert response.status_code == 200, response.text
    value = response.headers.get("server-timing")
    return None if value is None else parse_server_timing(value)


def test_off_by_default(client: TestClient) -> None:
    assert _process(client) is None


def test_process_phases_are_timed(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, tmp_path / "data", server_timing=True)
    with TestClient(create_app(settings)) as client:
        phases = _process(client)
        health = client.get("/health")
    assert phases is not None
    steps = {"auth", "lookup", "queue", "work"}  # one after another
    in_work = {"read", "render", "write", "commit"}  # the work's thread hop, step by step
    assert set(phases) == steps | in_work | {"app"}, phases
    assert all(ms >= 0 for ms in phases.values())
    assert sum(phases[name] for name in steps) <= phases["app"] * 1.01  # parts of the whole
    assert sum(phases[name] for name in in_work) <= phases["work"] * 1.01
    assert parse_server_timing(health.headers["server-timing"]).keys() == {"app"}


def test_parse_sums_repeated_phases() -> None:
    value = 'auth;dur=1.5, work;desc="x";dur=2, work;dur=0.5, app;dur=10'
    assert parse_server_timing(value) == {"auth": 1.5, "work": 2.5, "app": 10.0}
