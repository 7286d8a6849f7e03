"""A Celery worker's own Prometheus metrics (`python -m api.worker --metrics-port`): the jobs it
ran and their images, scraped over HTTP from a real worker process on a real redis-server; and
the option refused, in one line, where one registry cannot count for the process tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from loadtest.server import ServerProcess, free_port
from loadtest.worker import WorkerProcess
from tests.support import ROOT
from tests.support.api import PIPELINE
from tests.support.engine import wait_for
from tests.support.images import noise_bytes

pytest.importorskip("celery", reason="the Celery engine's extra is not installed")

PASSWORD = "metrics-test-password"


def _scrape(port: int) -> str:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return ""


@pytest.mark.slow
def test_a_worker_serves_what_it_ran(redis_url: str, tmp_path: Path) -> None:
    env = {"JOB_ENGINE": "celery", "CELERY_BROKER_URL": redis_url}
    port = free_port()
    with ServerProcess(
        sys.executable, tmp_path / "data", f"sqlite:///{tmp_path / 'api.db'}", env=env
    ) as api:
        worker = WorkerProcess(api, "m", "--concurrency", "1", "--metrics-port", str(port))
        worker.start()
        try:
            with httpx.Client(base_url=api.url, timeout=60) as client:
                body = {"email": "m@example.com", "password": PASSWORD}
                assert client.post("/auth/register", json=body).status_code == 201
                form = {"username": "m@example.com", "password": PASSWORD}
                token = client.post("/auth/login", data=form).json()["access_token"]
                headers = {"Authorization": f"Bearer {token}"}
                ids = []
                for seed in range(2):
                    files = {"file": (f"{seed}.png", noise_bytes((24, 16), seed), "image/png")}
                    answer = client.post("/api/images/upload", files=files, headers=headers)
                    ids.append(answer.json()["id"])
                batch = {"image_ids": ids, "pipeline": PIPELINE, "method": "sync", "workers": 1}
                job_id = client.post("/api/jobs/batch", json=batch, headers=headers).json()[
                    "job_id"
                ]

                def done() -> bool:
                    job = client.get(f"/api/jobs/{job_id}", headers=headers).json()
                    return job["status"] == "completed"

                wait_for(done, 60, "the worker to run the job", 0.2)
            wait_for(lambda: "nogilbench_jobs_total" in _scrape(port), 20, "the metrics port")
            metrics = _scrape(port)
            assert 'nogilbench_jobs_total{kind="batch",status="completed"} 1.0' in metrics
            assert 'nogilbench_images_processed_total{source="batch"} 2.0' in metrics
            assert "nogilbench_jobs_running 0.0" in metrics
        finally:
            worker.stop()
    assert worker.process is not None and worker.process.returncode == 0, worker.log()


def test_prefork_cannot_serve_one_registry() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "api.worker", "--pool", "prefork", "--metrics-port", "9101"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2
    assert (
        run.stderr.strip()
        .splitlines()[-1]
        .endswith("--metrics-port needs --pool threads or solo (one process, one registry)")
    )
