"""The server SIGKILLed in the middle of a batch job, then restarted on the same data.

The job must end visibly (failed, or re-queued and completed), never stay `processing`; the
outputs of the images it finished before the kill must still be there, on disk and in its
items, and no file is left that no row refers to. Real uvicorn processes on loopback, real
signals; SQLite and PostgreSQL.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from nogilbench.store.db import make_engine
from tests.support.images import noise_bytes
from tests.support.servers import ServerProcess

PASSWORD = "fault-test-password"
IMAGES = 10
# Pure-Python work, a few hundred milliseconds per image: the kill lands mid-job.
SLOW_PIPELINE = {
    "operations": [{"op": "python_convolve", "max_side": 256, "passes": 4}],
    "format": "png",
}


def _image(seed: int) -> bytes:
    return noise_bytes((320, 240), 40 + seed, "JPEG")


def _login(client: httpx.Client) -> None:
    email = "crash@example.com"
    assert client.post("/auth/register", json={"email": email, "password": PASSWORD}).is_success
    token = client.post("/auth/login", data={"username": email, "password": PASSWORD}).json()
    client.headers["Authorization"] = f"Bearer {token['access_token']}"


def _items(database_url: str, job_id: int) -> list:
    engine = make_engine(database_url, check=False)
    try:
        with engine.connect() as connection:
            return connection.execute(
                text("SELECT status, output_name FROM job_items WHERE job_id = :id"),
                {"id": job_id},
            ).all()
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def crash_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crash.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.mark.slow
def test_sigkill_mid_batch_then_restart(tmp_path: Path, crash_db_url: str) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(
        sys.executable,
        data_dir,
        crash_db_url,
        env={"JOB_CONCURRENCY": "1", "JOB_LEASE_SECONDS": "3"},
    )
    with server, httpx.Client(base_url=server.url, timeout=30) as client:
        _login(client)
        ids = []
        for seed in range(IMAGES):
            files = {"file": (f"img{seed}.jpg", _image(seed), "image/jpeg")}
            ids.append(client.post("/api/images/upload", files=files).json()["id"])
        batch = {"image_ids": ids, "pipeline": SLOW_PIPELINE, "method": "sync", "workers": 1}
        response = client.post("/api/jobs/batch", json=batch)
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        deadline = time.monotonic() + 120
        job = client.get(f"/api/jobs/{job_id}").json()
        while job["done"] < 2 and job["status"] != "completed" and time.monotonic() < deadline:
            time.sleep(0.02)
            job = client.get(f"/api/jobs/{job_id}").json()
        assert job["status"] == "processing" and 2 <= job["done"] < IMAGES, job
        server.kill()  # SIGKILL: no shutdown hook, no re-queue, the row says `processing`

        before = _items(crash_db_url, job_id)
        finished = {row.output_name for row in before if row.status == "completed"}
        assert len(finished) >= 2
        outputs = data_dir / "outputs"
        assert all((outputs / name).is_file() for name in finished)

        headers = dict(client.headers)
    server.process, server.port = None, 0  # the next `with` starts it again: same data, new port
    with server, httpx.Client(base_url=server.url, timeout=30, headers=headers) as client:
        job = client.get(f"/api/jobs/{job_id}").json()
        deadline = time.monotonic() + 120
        while job["status"] in ("queued", "processing") and time.monotonic() < deadline:
            time.sleep(0.05)  # re-queued jobs run again; interrupted ones are failed at start-up
            job = client.get(f"/api/jobs/{job_id}").json()
        assert job["status"] in ("failed", "completed"), job
        if job["status"] == "failed":
            assert job["error"] and "stopped" in job["error"], job
            assert job["done"] >= len(finished)
            result = client.get(f"/api/jobs/{job_id}/result")
            assert result.status_code == 409 and result.json()["error_code"] == "JOB_NOT_READY"
        listing = {row["id"]: row["status"] for row in client.get("/api/jobs/").json()}
        assert listing[job_id] == job["status"]  # visible in the list as well

        after = _items(crash_db_url, job_id)
        kept = {row.output_name for row in after if row.status == "completed"}
        assert finished <= kept  # the outputs finished before the kill are still recorded
        assert all((outputs / name).is_file() for name in kept)
        unreferenced = {path.name for path in outputs.iterdir()} - kept
        # An output written in the instant between its file and its row commit (or a temp file
        # cut off mid-write) is swept at start-up: none is left.
        assert unreferenced == set(), unreferenced
        assert client.get("/health").status_code == 200
