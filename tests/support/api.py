"""The service's side of the tests: settings, accounts, uploads, jobs and their event streams
(plain functions over a TestClient or an httpx client; fixtures live in tests/api/conftest.py),
and the data a test against a live server starts from (`seed`)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
from fastapi.testclient import TestClient

import nogilbench.sweep.launch as launcher
from api.core.settings import Settings
from api.main import create_app
from tests.support.images import image_bytes

PASSWORD = "correct horse battery"
SECRET = "test-secret-key-" + "0123456789abcdef" * 4  # 80 bytes: long enough for HS512
MAX_UPLOAD = 300_000
MAX_PIXELS = 2_000_000
OPS_TOKEN = "ops-token-" + "fedcba9876543210" * 3  # opens /metrics and /api/system
OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}
# A batch's pipeline: a small output per image.
PIPELINE = {"operations": [{"op": "thumbnail", "max_size": 32}], "format": "png"}
# A benchmark as small as the service allows: one cell, one round.
TINY_BENCHMARK = {
    "workloads": ["pillow"],
    "images": [2],
    "workers": [1],
    "methods": ["sync"],
    "repeats": 1,
    "image_size": [64, 48],
}
# The attack: a 4x4 PNG resized to 8192x8192, then rotated 45 degrees with expand.
GROWING_PIPELINE = {
    "operations": [
        {"op": "resize", "width": 8192, "height": 8192, "keep_aspect": False},
        {"op": "rotate", "angle": 45, "expand": True},
    ],
    "format": "png",
}


def make_settings(db_url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": db_url,
        "data_dir": data_dir,
        "secret_key": SECRET,
        "bcrypt_rounds": 4,
        "max_upload_bytes": MAX_UPLOAD,
        "max_pixels": MAX_PIXELS,
        "cpu_workers": 2,
        "job_concurrency": 2,
        "sse_poll_seconds": 0.05,
        "operations_token": OPS_TOKEN,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def register(client: httpx.Client, email: str, password: str = PASSWORD) -> dict:
    response = client.post("/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    return response.json()


def login(client: httpx.Client, email: str, password: str = PASSWORD) -> dict:
    response = client.post("/auth/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def promote(settings: Settings | str, email: str, action: str = "promote") -> None:
    """Make `email` an operator the way an administrator does (python -m api.admin), in the
    database of `settings` or at a database URL."""
    from api.admin import change_user

    url = settings if isinstance(settings, str) else str(settings.database_url)
    change_user(url, action, email)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(
    client: httpx.Client, email: str, operator_in: Settings | None = None
) -> dict[str, str]:
    """Register `email` and log in: its Authorization headers. With `operator_in`, the account
    is promoted to operator in that database first (its token then carries the role)."""
    register(client, email)
    if operator_in is not None:
        promote(operator_in, email)
    return bearer(login(client, email)["access_token"])


@contextmanager
def signed_in_client(
    settings: Settings, email: str, operator: bool = False
) -> Iterator[TestClient]:
    """A TestClient over a new app of `settings` (its lifespan running) whose requests all carry
    the token of `email`, registered there (an operator with `operator`)."""
    with TestClient(create_app(settings)) as client:
        client.headers.update(sign_in(client, email, settings if operator else None))
        yield client


def post_batch(
    client: httpx.Client,
    headers: dict[str, str],
    image_ids: list[int],
    pipeline: dict = PIPELINE,
    **fields: object,
) -> int:
    """The id of an accepted (202) batch job over `image_ids`; `fields` are the request's
    other fields (method, workers)."""
    body = {"image_ids": image_ids, "pipeline": pipeline, **fields}
    response = client.post("/api/jobs/batch", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return int(response.json()["job_id"])


def upload(
    client: httpx.Client,
    headers: dict[str, str],
    data: bytes | None = None,
    filename: str = "photo.png",
    content_type: str = "image/png",
):
    return client.post(
        "/api/images/upload",
        files={"file": (filename, data if data is not None else image_bytes(), content_type)},
        headers=headers,
    )


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= {"error_code", "message", "details"}
    return body


def upload_many(client: httpx.Client, headers: dict[str, str], count: int) -> list[int]:
    """`count` uploads of distinct small images; their ids."""
    return [
        upload(client, headers, image_bytes((64, 48), color=(i * 40, 80, 120))).json()["id"]
        for i in range(count)
    ]


def wait_for_job(
    client: httpx.Client, headers: dict[str, str], job_id: int, timeout: float = 60.0
) -> dict:
    """The job once it is completed or failed (polled); an AssertionError past `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}", headers=headers).json()
        if job["status"] in ("completed", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def read_events(
    client: httpx.Client, headers: dict[str, str], job_id: int
) -> list[tuple[str, dict]]:
    """A job's Server-Sent Events to the end of the stream, as (event name, data) pairs."""
    events = []
    with client.stream("GET", f"/api/jobs/{job_id}/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
    return events


def hang_cells(monkeypatch: pytest.MonkeyPatch, pid_file: Path) -> None:
    """Every benchmark cell becomes a process that records its pid and sleeps for minutes."""
    code = (
        "import os, sys, time; "
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
        "sys.stdin.read(); time.sleep(600)"
    )
    monkeypatch.setattr(launcher, "cell_command", lambda *_args: [sys.executable, "-c", code])


def wait_for_pid(pid_file: Path) -> int:
    """The pid a hung cell (`hang_cells`) wrote, once it is there."""
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.monotonic() < deadline, "the cell process never started"
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    assert psutil.pid_exists(pid)
    return pid


@dataclass(frozen=True)
class Seed:
    """A logged-in user who owns a processed image, a completed batch job and (an operator)
    a benchmark."""

    access_token: str
    image_id: int
    job_id: int
    sweep_id: int


def seed(
    base: str, email: str = "contract@example.com", operator_database_url: str | None = None
) -> Seed:
    """Register `email` on the live server at `base` and give it a processed image and a
    completed batch. With `operator_database_url` the account is promoted to operator first
    and also runs a benchmark (operators only); otherwise `sweep_id` is 0."""
    benchmark = operator_database_url is not None
    with httpx.Client(base_url=base, timeout=60) as client:
        registered = client.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        if operator_database_url is not None:
            promote(operator_database_url, email)
        tokens = client.post("/auth/login", data={"username": email, "password": PASSWORD})
        assert tokens.status_code == 200, tokens.text
        token = tokens.json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        image = client.post(
            "/api/images/upload", files={"file": ("a.png", image_bytes(), "image/png")}
        )
        assert image.status_code == 201, image.text
        image_id = image.json()["id"]
        pipeline = {"operations": [{"op": "grayscale"}], "format": "png"}
        processed = client.post(f"/api/images/{image_id}/process", json=pipeline)
        assert processed.status_code == 200, processed.text
        batch = {"image_ids": [image_id], "pipeline": pipeline, "method": "sync", "workers": 1}
        accepted = client.post("/api/jobs/batch", json=batch)
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        assert wait_for_job(client, {}, job_id, timeout=120)["status"] == "completed"
        sweep_id = 0
        if benchmark:
            request = {"workloads": ["pillow"], "images": [1], "workers": [1],
                       "methods": ["sync"], "repeats": 1, "image_size": [64, 48]}  # fmt: skip
            run = client.post("/api/benchmarks/run", json=request)
            assert run.status_code == 202, run.text
            finished = wait_for_job(client, {}, run.json()["job_id"], timeout=120)
            assert finished["status"] == "completed", finished
            sweep_id = finished["sweep_id"]
    return Seed(token, image_id, job_id, sweep_id)
