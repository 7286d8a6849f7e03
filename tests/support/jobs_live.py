"""A live uvicorn with the review's lowered quotas, and the hostile user's tools against it.

One server per database (SQLite, PostgreSQL) per test module, on 127.0.0.1, with the quotas
the review used to make its attacks observable (12 images, 16 MiB, 2 active jobs). Every test
registers accounts of its own, so the per-user quotas of one test never meet another's.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from loadtest.server import ServerProcess
from nogilbench.paths import PROJECT_ROOT

PASSWORD = "hostile jobs password"
OPERATIONS_TOKEN = "hostile-jobs-operations-" + "0123456789abcdef" * 2
QUOTA_IMAGES = 12
QUOTA_STORED_BYTES = 16 * 1024 * 1024
QUOTA_ACTIVE_JOBS = 2
SETTINGS = {
    "QUOTA_IMAGES": str(QUOTA_IMAGES),
    "QUOTA_STORED_BYTES": str(QUOTA_STORED_BYTES),
    "QUOTA_ACTIVE_JOBS": str(QUOTA_ACTIVE_JOBS),
    "QUOTA_EVENT_STREAMS": "8",
    "CPU_WORKERS": "2",
    "JOB_CONCURRENCY": "2",
    "MAX_UPLOAD_BYTES": str(4 * 1024 * 1024),
    "SSE_POLL_SECONDS": "0.05",
    "ACCESS_TOKEN_MINUTES": "60",
    "PUBLIC_OPERATIONS": "false",
    "OPERATIONS_TOKEN": OPERATIONS_TOKEN,  # the tests read /api/system to see the server idle
    # Many accounts from one loopback address: the login limits are not under test here.
    "AUTH_RATE_LIMIT_ACCOUNT": "100000/minute",
    "AUTH_RATE_LIMIT_ADDRESS": "100000/minute",
}
# One slow batch item (about 0.3 s): a 1200x1200 gradient enlarged, blurred, PNG.
SLOW_PIPELINE = {
    "operations": [
        {"op": "resize", "width": 2000, "height": 2000, "keep_aspect": False},
        {"op": "blur", "radius": 8},
    ],
    "format": "png",
}
SMALL_PIPELINE = {"operations": [{"op": "grayscale"}], "format": "png"}
_emails = itertools.count(1)


@dataclass
class Live:
    url: str
    database_url: str
    data_dir: Path
    server: ServerProcess


def _database_url(request: pytest.FixtureRequest, tmp: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp / 'api.db'}"
    server = request.getfixturevalue("postgres_server")
    if not server.is_running():
        server.start()
    return str(server.new_database(request.module.__name__.rsplit(".", 1)[-1]))


DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def start_live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    """The body of a module-scoped fixture parametrized with DATABASES."""
    tmp = tmp_path_factory.mktemp(f"live-{request.param}")
    database_url = _database_url(request, tmp)
    server = ServerProcess(sys.executable, tmp / "data", database_url, env=dict(SETTINGS))
    with server:
        yield Live(server.url, database_url, tmp / "data", server)


def account(live: Live, timeout: float = 60) -> tuple[httpx.Client, str]:
    """A new user, logged in: (a client sending their access token, their e-mail)."""
    email = f"hostile-{os.getpid()}-{next(_emails)}@example.com"
    client = httpx.Client(base_url=live.url, timeout=timeout)
    registered = client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    login(client, email)
    return client, email


def login(client: httpx.Client, email: str, password: str = PASSWORD) -> None:
    tokens = client.post("/auth/login", data={"username": email, "password": password})
    assert tokens.status_code == 200, tokens.text
    client.headers["Authorization"] = f"Bearer {tokens.json()['access_token']}"


def image(size: tuple[int, int] = (64, 48), fmt: str = "PNG", **options: Any) -> bytes:
    """A smooth gradient (small when compressed, whatever its size)."""
    picture = Image.linear_gradient("L").resize(size).convert("RGB")
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def noise(size: tuple[int, int], fmt: str = "PNG") -> bytes:
    """Colour noise: its outputs do not compress."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buffer, format=fmt)
    return buffer.getvalue()


def upload(client: httpx.Client, data: bytes, name: str = "a.png") -> httpx.Response:
    return client.post("/api/images/upload", files={"file": (name, data, "image/png")})


def upload_ids(client: httpx.Client, count: int, data: bytes | None = None) -> list[int]:
    payload = data if data is not None else image((1200, 1200), "JPEG", quality=80)
    ids = []
    for index in range(count):
        response = upload(client, payload, f"{index}.jpg")
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def batch(
    client: httpx.Client, ids: list[int], pipeline: dict[str, Any] = SLOW_PIPELINE, **extra: Any
) -> httpx.Response:
    body = {"image_ids": ids, "pipeline": pipeline, "method": "sync", "workers": 1, **extra}
    return client.post("/api/jobs/batch", json=body)


def wait_job(
    client: httpx.Client, job_id: int, until: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()
        if until(job):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.02)


def finished(job: dict[str, Any]) -> bool:
    return job.get("status") in ("completed", "failed")


def series_seconds(call: Callable[[], httpx.Response], calls: int, expect: int = 200) -> float:
    """The wall time of `calls` sequential calls, each checked for its status. A series, not
    one call: a few milliseconds of scheduling noise spread over it instead of doubling it."""
    started = time.perf_counter()
    for _ in range(calls):
        response = call()
        assert response.status_code == expect, response.text
    return time.perf_counter() - started


def service(live: Live) -> dict[str, Any]:
    """The server's own account of its work: jobs running, CPU tokens held (/api/system)."""
    headers = {"Authorization": f"Bearer {OPERATIONS_TOKEN}"}
    answer = httpx.get(f"{live.url}/api/system", headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["service"])


def wait_idle(live: Live, timeout: float = 60) -> None:
    """Until no job runs and no CPU token is held (what earlier tests started has ended)."""
    deadline = time.monotonic() + timeout
    while True:
        now = service(live)
        if now["jobs_running"] == 0 and now["cpu_limiter_busy"] == 0:
            return
        assert time.monotonic() < deadline, now
        time.sleep(0.05)


def admin(live: Live, action: str, email: str) -> None:
    """`python -m api.admin ACTION EMAIL`, as an administrator runs it beside the server."""
    command = [sys.executable, "-m", "api.admin", action, email]
    command += ["--database-url", live.database_url]
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code and body["message"], body
    return body


class EventStream:
    """A job's SSE stream read in a thread of its own: the frames as they come, and its end."""

    def __init__(self, client: httpx.Client, job_id: int) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.status: int | None = None
        self.ended = threading.Event()
        self.opened = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(client, job_id), daemon=True)
        self._thread.start()

    def _read(self, client: httpx.Client, job_id: int) -> None:
        try:
            with client.stream("GET", f"/api/jobs/{job_id}/events", timeout=60) as response:
                self.status = response.status_code
                name = "message"
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        name = line[len("event: ") :]
                    elif line.startswith("data: "):
                        self.events.append((name, json.loads(line[len("data: ") :])))
                        self.opened.set()
        except httpx.HTTPError as exc:
            self.events.append(("transport-error", {"message": str(exc)}))
        finally:
            self.opened.set()
            self.ended.set()

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def wait_ended(self, timeout: float) -> bool:
        return self.ended.wait(timeout)
