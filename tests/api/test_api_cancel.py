"""DELETE /api/jobs/{id}: the job, its outputs and its archive are gone at once, and the job
stops by itself (a queued job never starts, a running sweep's cell process is killed);
shutdown stops a running sweep too; finished jobs' outputs expire."""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

import psutil
from api_helpers import assert_envelope, bearer, login, make_settings, promote, register
from fastapi.testclient import TestClient
from sqlmodel import Session
from test_api_benchmarks import TINY
from test_api_jobs import PIPELINE, upload_many, wait_for

import nogilbench.launcher as launcher
from api.main import create_app
from api.models import Job, utcnow
from nogilbench.store import repository
from nogilbench.store.db import make_engine


def _hang_cells(monkeypatch, pid_file: Path) -> None:
    """Every benchmark cell becomes a process that records its pid and sleeps for minutes."""
    code = (
        "import os, sys, time; "
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
        "sys.stdin.read(); time.sleep(600)"
    )
    monkeypatch.setattr(launcher, "cell_command", lambda *_args: [sys.executable, "-c", code])


def _wait_for_pid(pid_file: Path) -> int:
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()):
        assert time.monotonic() < deadline, "the cell process never started"
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    assert psutil.pid_exists(pid)
    return pid


def _gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def _job_row(database_url: str, job_id: int) -> Job | None:
    engine = make_engine(database_url, check=False)
    try:
        with Session(engine) as session:
            return session.get(Job, job_id)
    finally:
        engine.dispose()


def test_delete_finished_batch_removes_rows_and_files(
    client, auth_headers, other_headers, settings
):
    ids = upload_many(client, auth_headers, 2)
    job_id = client.post(
        "/api/jobs/batch", json={"image_ids": ids, "pipeline": PIPELINE}, headers=auth_headers
    ).json()["job_id"]
    assert wait_for(client, auth_headers, job_id)["status"] == "completed"
    outputs = list((settings.outputs_dir).iterdir())
    results = list((settings.results_dir).iterdir())
    assert len(outputs) == 2 and len(results) == 1
    assert_envelope(client.delete(f"/api/jobs/{job_id}", headers=other_headers), 403, "FORBIDDEN")
    response = client.delete(f"/api/jobs/{job_id}", headers=auth_headers)
    assert response.status_code == 204, response.text
    assert_envelope(client.get(f"/api/jobs/{job_id}", headers=auth_headers), 404, "JOB_NOT_FOUND")
    assert not any(path.exists() for path in outputs + results)
    assert_envelope(
        client.delete(f"/api/jobs/{job_id}", headers=auth_headers), 404, "JOB_NOT_FOUND"
    )
    # The images themselves are not the job's: they stay.
    assert len(client.get("/api/images/", headers=auth_headers).json()) == 2


def test_delete_cancels_a_running_sweep(client, operator_headers, settings, tmp_path, monkeypatch):
    pid_file = tmp_path / "cell.pid"
    _hang_cells(monkeypatch, pid_file)
    response = client.post("/api/benchmarks/run", json=TINY, headers=operator_headers)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    pid = _wait_for_pid(pid_file)
    assert client.get(f"/api/jobs/{job_id}", headers=operator_headers).json()["status"] == (
        "processing"
    )
    deleted = client.delete(f"/api/jobs/{job_id}", headers=operator_headers)
    assert deleted.status_code == 204, deleted.text
    assert_envelope(
        client.get(f"/api/jobs/{job_id}", headers=operator_headers), 404, "JOB_NOT_FOUND"
    )
    # The DELETE did not wait: the job stops by itself, its cell's process killed.
    _wait_until(lambda: _gone(pid) and app_jobs_running(client) == 0)
    engine = make_engine(str(settings.database_url), check=False)
    with Session(engine) as session:
        (sweep,) = repository.list_sweeps(session)
        assert sweep.status == "interrupted"
    engine.dispose()


def _wait_until(done, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the deleted job did not stop"
        time.sleep(0.02)


def app_jobs_running(client: TestClient) -> int:
    return client.app.state.services.jobs.running  # type: ignore[attr-defined]


def test_a_cancelled_queued_job_never_runs(db_url, tmp_path, monkeypatch):
    pid_file = tmp_path / "cell.pid"
    _hang_cells(monkeypatch, pid_file)
    settings = make_settings(db_url, tmp_path / "data", job_concurrency=1)
    with TestClient(create_app(settings)) as client:
        register(client, "op@example.com")
        promote(settings, "op@example.com")
        headers = bearer(login(client, "op@example.com")["access_token"])
        sweep_job = client.post("/api/benchmarks/run", json=TINY, headers=headers).json()["job_id"]
        _wait_for_pid(pid_file)  # the only job slot is taken
        ids = upload_many(client, headers, 1)
        queued = client.post(
            "/api/jobs/batch", json={"image_ids": ids, "pipeline": PIPELINE}, headers=headers
        ).json()["job_id"]
        assert client.get(f"/api/jobs/{queued}", headers=headers).json()["status"] == "queued"
        assert client.delete(f"/api/jobs/{queued}", headers=headers).status_code == 204
        assert client.delete(f"/api/jobs/{sweep_job}", headers=headers).status_code == 204
        time.sleep(0.5)  # the freed slot would have picked the batch up by now
        assert client.get("/api/jobs/", headers=headers).json() == []
        assert list(settings.outputs_dir.iterdir()) == []


def test_shutdown_stops_a_running_sweep_and_requeues_it(db_url, tmp_path, monkeypatch):
    pid_file = tmp_path / "cell.pid"
    _hang_cells(monkeypatch, pid_file)
    settings = make_settings(db_url, tmp_path / "data")
    client = TestClient(create_app(settings))
    with client:
        register(client, "op@example.com")
        promote(settings, "op@example.com")
        headers = bearer(login(client, "op@example.com")["access_token"])
        job_id = client.post("/api/benchmarks/run", json=TINY, headers=headers).json()["job_id"]
        pid = _wait_for_pid(pid_file)
    # Leaving the block ran the lifespan's shutdown: it returned, so the sweep stopped.
    assert _gone(pid)
    job = _job_row(str(settings.database_url), job_id)
    assert job is not None and job.status == "queued"  # runs again (resumes) at the next start


def test_finished_outputs_expire(client, app, auth_headers, settings):
    ids = upload_many(client, auth_headers, 2)
    job_id = client.post(
        "/api/jobs/batch", json={"image_ids": ids, "pipeline": PIPELINE}, headers=auth_headers
    ).json()["job_id"]
    assert wait_for(client, auth_headers, job_id)["status"] == "completed"
    manager = app.state.services.jobs
    assert manager.expire_results() == 0  # younger than RESULT_TTL_HOURS
    later = utcnow() + timedelta(hours=settings.result_ttl_hours, minutes=1)
    assert manager.expire_results(now=later) == 1
    assert list(settings.outputs_dir.iterdir()) == [] and list(settings.results_dir.iterdir()) == []
    assert_envelope(
        client.get(f"/api/jobs/{job_id}/result", headers=auth_headers), 410, "RESULT_EXPIRED"
    )
    job = client.get(f"/api/jobs/{job_id}", headers=auth_headers).json()
    assert job["status"] == "completed" and job["result_url"] is None  # history kept
    assert manager.expire_results(now=later) == 0


def test_delete_cancels_a_running_batch_between_images(client, auth_headers, settings, monkeypatch):
    import threading

    import api.services.job_runner as job_runner

    entered, release = threading.Event(), threading.Event()
    seen: list[str] = []
    real = job_runner.process_file

    def held(task):
        seen.append(task[0])
        entered.set()
        release.wait(30)
        return real(task)

    monkeypatch.setattr(job_runner, "process_file", held)
    ids = upload_many(client, auth_headers, 4)
    batch = {"image_ids": ids, "pipeline": PIPELINE, "method": "sync", "workers": 1}
    job_id = client.post("/api/jobs/batch", json=batch, headers=auth_headers).json()["job_id"]
    assert entered.wait(30)  # the first image is being processed
    # The DELETE answers while that image is still held: it waits for nothing.
    response = client.delete(f"/api/jobs/{job_id}", headers=auth_headers)
    assert response.status_code == 204, response.text
    assert_envelope(client.get(f"/api/jobs/{job_id}", headers=auth_headers), 404, "JOB_NOT_FOUND")
    release.set()
    _wait_until(lambda: app_jobs_running(client) == 0)
    assert len(seen) == 1  # stopped after the image in progress: the other three never ran
    assert list(settings.outputs_dir.iterdir()) == []  # its output found its job gone
    assert list(settings.results_dir.iterdir()) == []
