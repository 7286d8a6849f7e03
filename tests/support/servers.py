"""A real uvicorn on a free loopback port, and the data a contract test starts from."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "contract test password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY": "contract-test-secret-" + "0123456789abcdef" * 4,
        "BCRYPT_ROUNDS": "4",
        "MAX_UPLOAD_BYTES": "300000",
        "MAX_PIXELS": "2000000",
        "SSE_POLL_SECONDS": "0.05",
        "ACCESS_TOKEN_MINUTES": "60",
        # A fuzzer sends thousands of requests from one address and one account: the rate
        # limits and storage quotas (tested on their own in tests/api) would answer most of
        # them 429. The active-jobs quota stays: it keeps the queue (and the CPU limiter that
        # uploads share with batches) short, and its 429 is a documented answer.
        "AUTH_RATE_LIMIT_ACCOUNT": "1000000/minute",
        "AUTH_RATE_LIMIT_ADDRESS": "1000000/minute",
        "QUOTA_IMAGES": "1000000",
        "QUOTA_STORED_BYTES": str(2**40),
        "QUOTA_EVENT_STREAMS": "100000",
        # Every benchmark the schema allows is within budget (the fuzz server runs no sweep).
        "BENCHMARK_BUDGET_PIXELS": str(10**18),
        **extra,
    }
    env.pop("PYTHON_GIL", None)
    return env


@contextmanager
def live_server(command: list[str], env: dict[str, str], log_path: Path) -> Iterator[str]:
    """Start `command` (which must listen on the port in its last argument); yield its base URL."""
    port = command[-1]
    base = f"http://127.0.0.1:{port}"
    with log_path.open("w+") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"the server did not start:\n{log.read()[-3000:]}")
                time.sleep(0.2)
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def png(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Seed:
    """A logged-in user who owns a processed image, a completed batch job and (an operator)
    a benchmark."""

    access_token: str
    image_id: int
    job_id: int
    sweep_id: int


def wait_for_job(client: httpx.Client, job_id: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def promote(database_url: str, email: str) -> None:
    """Make `email` an operator, as an administrator does: `python -m api.admin promote`."""
    command = [sys.executable, "-m", "api.admin", "promote", email, "--database-url", database_url]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def seed(
    base: str, email: str = "contract@example.com", operator_database_url: str | None = None
) -> Seed:
    """Register `email` and give it a processed image and a completed batch. With
    `operator_database_url` the account is promoted to operator first and also runs a
    benchmark (operators only); otherwise `sweep_id` is 0."""
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
        image = client.post("/api/images/upload", files={"file": ("a.png", png(), "image/png")})
        assert image.status_code == 201, image.text
        image_id = image.json()["id"]
        pipeline = {"operations": [{"op": "grayscale"}], "format": "png"}
        processed = client.post(f"/api/images/{image_id}/process", json=pipeline)
        assert processed.status_code == 200, processed.text
        batch = {"image_ids": [image_id], "pipeline": pipeline, "method": "sync", "workers": 1}
        accepted = client.post("/api/jobs/batch", json=batch)
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        assert wait_for_job(client, job_id)["status"] == "completed"
        sweep_id = 0
        if benchmark:
            request = {"workloads": ["pillow"], "images": [1], "workers": [1],
                       "methods": ["sync"], "repeats": 1, "image_size": [64, 48]}  # fmt: skip
            run = client.post("/api/benchmarks/run", json=request)
            assert run.status_code == 202, run.text
            finished = wait_for_job(client, run.json()["job_id"])
            assert finished["status"] == "completed", finished
            sweep_id = finished["sweep_id"]
    return Seed(token, image_id, job_id, sweep_id)
