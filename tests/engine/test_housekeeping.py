"""The Celery engine's workers keep the shared storage clean, as the embedded engine does: at
start, the files a crash left that no row names (older than the orphan grace) go; while they
run, finished jobs' outputs and archives expire after RESULT_TTL_HOURS."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.core.settings import Settings
from api.main import create_app
from tests.support.api import make_settings, post_batch, sign_in, upload_many

pytest.importorskip("celery", reason="the Celery engine's extra is not installed")
pytest.importorskip("redis")

from api.services.engine.runtime import WorkerRuntime

TTL_S = 1.2  # the expiry loop looks every TTL / 4


def _settings(tmp_path: Path, redis_url: str, **overrides: object) -> Settings:
    return make_settings(
        f"sqlite:///{tmp_path / 'api.db'}",
        tmp_path / "data",
        job_engine="celery",
        celery_broker_url=redis_url,
        **overrides,
    )


def _wait(condition, timeout_s: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_worker_expires_finished_jobs_files(tmp_path: Path, redis_url: str) -> None:
    settings = _settings(tmp_path, redis_url, result_ttl_hours=TTL_S / 3600)
    with TestClient(create_app(settings)) as client:
        ada = sign_in(client, "ada@example.com")
        job_id = post_batch(client, ada, upload_many(client, ada, 2), method="sync", workers=1)
        runtime = WorkerRuntime(settings)
        try:
            assert runtime.run(job_id) == "completed"
            assert len(list(settings.outputs_dir.iterdir())) == 2
            assert len(list(settings.results_dir.iterdir())) == 1
            gone = _wait(
                lambda: (
                    not any(settings.outputs_dir.iterdir())
                    and not any(settings.results_dir.iterdir())
                ),
                timeout_s=15,
            )
            assert gone, "the worker did not expire the finished job's files"
            job = client.get(f"/api/jobs/{job_id}", headers=ada).json()
            assert job["status"] == "completed" and job["result_url"] is None
            assert len(list(settings.uploads_dir.iterdir())) == 2  # the uploads are not results
        finally:
            runtime.close()


def test_a_starting_worker_sweeps_what_a_crash_left(tmp_path: Path, redis_url: str) -> None:
    settings = _settings(tmp_path, redis_url, orphan_grace_seconds=60)
    with TestClient(create_app(settings)) as client:
        ada = sign_in(client, "ada@example.com")
        upload_many(client, ada, 1)
    (kept,) = settings.uploads_dir.iterdir()
    old = time.time() - 3600
    os.utime(kept, (old, old))  # referenced by its row: kept however old
    orphan = settings.outputs_dir / f"{'a' * 32}.png"  # written, then killed before its commit
    in_flight = settings.outputs_dir / f"{'b' * 32}.png"  # another host's, not committed yet
    settings.outputs_dir.mkdir(parents=True, exist_ok=True)
    for path in (orphan, in_flight):
        path.write_bytes(b"x")
    os.utime(orphan, (old, old))
    runtime = WorkerRuntime(settings)
    try:
        assert not orphan.exists()
        assert in_flight.exists() and kept.exists()  # within the grace; named by a row
    finally:
        runtime.close()
