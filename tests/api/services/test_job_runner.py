"""DELETE /api/jobs/{id}: the job, its outputs and its archive are gone at once, and the job
stops by itself (a queued job never starts, a running sweep's cell process is killed);
shutdown stops a running sweep too; finished jobs' outputs expire."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

import psutil
from fastapi.testclient import TestClient
from sqlmodel import Session

import api.services.job_runner as job_runner
from api.core.models import Job, utcnow
from api.main import create_app
from nogilbench.store import repository
from nogilbench.store.db import make_engine
from tests.support.api import (
    PIPELINE,
    TINY_BENCHMARK,
    assert_envelope,
    hang_cells,
    make_settings,
    sign_in,
    upload,
    upload_many,
    wait_for_job,
    wait_for_pid,
)


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
    assert wait_for_job(client, auth_headers, job_id)["status"] == "completed"
    outputs = list((settings.outputs_dir).iterdir())
    results = list((settings.results_dir).iterdir())
    assert len(outputs) == 2 and len(results) == 1
    other = client.delete(f"/api/jobs/{job_id}", headers=other_headers)
    assert_envelope(other, 404, "JOB_NOT_FOUND")
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
    hang_cells(monkeypatch, pid_file)
    response = client.post("/api/benchmarks/run", json=TINY_BENCHMARK, headers=operator_headers)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    pid = wait_for_pid(pid_file)
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
    hang_cells(monkeypatch, pid_file)
    settings = make_settings(db_url, tmp_path / "data", job_concurrency=1)
    with TestClient(create_app(settings)) as client:
        headers = sign_in(client, "op@example.com", operator_in=settings)
        sweep_job = client.post("/api/benchmarks/run", json=TINY_BENCHMARK, headers=headers).json()[
            "job_id"
        ]
        wait_for_pid(pid_file)  # the only job slot is taken
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
    hang_cells(monkeypatch, pid_file)
    settings = make_settings(db_url, tmp_path / "data")
    client = TestClient(create_app(settings))
    with client:
        headers = sign_in(client, "op@example.com", operator_in=settings)
        job_id = client.post("/api/benchmarks/run", json=TINY_BENCHMARK, headers=headers).json()[
            "job_id"
        ]
        pid = wait_for_pid(pid_file)
    # Leaving the block ran the lifespan's shutdown: it returned, so the sweep stopped.
    assert _gone(pid)
    job = _job_row(str(settings.database_url), job_id)
    assert job is not None and job.status == "queued"  # runs again (resumes) at the next start


def test_finished_outputs_expire(client, app, auth_headers, settings):
    ids = upload_many(client, auth_headers, 2)
    job_id = client.post(
        "/api/jobs/batch", json={"image_ids": ids, "pipeline": PIPELINE}, headers=auth_headers
    ).json()["job_id"]
    assert wait_for_job(client, auth_headers, job_id)["status"] == "completed"
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


GRAYSCALE = {"operations": [{"op": "grayscale"}], "format": "png"}


def test_start_up_sweeps_files_a_crash_left_unreferenced(db_url, tmp_path):
    settings = make_settings(db_url, tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        headers = sign_in(client, "ada@example.com")
        image = upload(client, headers).json()
        assert client.post(
            f"/api/images/{image['id']}/process", json=GRAYSCALE, headers=headers
        ).is_success
    past = time.time() - 3600
    future = time.time() + 3600
    kept, swept = [], []
    for folder in (settings.uploads_dir, settings.outputs_dir, settings.results_dir):
        for path in folder.iterdir():  # referenced files, made old: kept
            os.utime(path, (past, past))
            kept.append(path)
        orphan = folder / f"{'a' * 32}.png"  # written, then killed before its row committed
        temp = folder / ".tmp-k1ll3d"  # killed while writing
        fresh = folder / f"{'b' * 32}.png"  # newer than the process: maybe still in flight
        foreign = folder / "README.txt"  # not a name the service generates
        for path, when in ((orphan, past), (temp, past), (fresh, future), (foreign, past)):
            path.write_bytes(b"x")
            os.utime(path, (when, when))
        swept += [orphan, temp]
        kept += [fresh, foreign]
    outside = settings.data_dir / f"{'c' * 32}.png"  # not in one of the service's folders
    outside.write_bytes(b"x")
    os.utime(outside, (past, past))
    kept.append(outside)

    with TestClient(create_app(settings)) as client:
        assert not [path for path in swept if path.exists()]
        assert all(path.exists() for path in kept)
        download = client.get(f"/api/images/{image['id']}/download", headers=headers)
        assert download.status_code == 200


def test_batch_goes_through_the_cpu_limiter(client, app, auth_headers, monkeypatch):
    """A batch asking for 4 workers on a 2-token limiter runs at most 2 images at once, each
    while holding a token of the limiter single requests use."""
    cpu = app.state.services.cpu
    assert cpu.size == 2
    active = peak = 0
    held: list[int] = []
    lock = threading.Lock()
    real = job_runner.process_file

    def observed(task):
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
            held.append(cpu.borrowed)
        try:
            threading.Event().wait(0.05)
            return real(task)
        finally:
            with lock:
                active -= 1

    monkeypatch.setattr(job_runner, "process_file", observed)
    ids = upload_many(client, auth_headers, 6)
    response = client.post(
        "/api/jobs/batch",
        json={
            "image_ids": ids,
            "pipeline": {"operations": [{"op": "grayscale"}]},
            "method": "threading",
            "workers": 4,
        },
        headers=auth_headers,
    )
    assert response.status_code == 202, response.text
    job = wait_for_job(client, auth_headers, response.json()["job_id"])
    assert job["status"] == "completed" and job["done"] == 6
    assert peak == 2  # not 4: the limiter's size bounds the batch
    assert held and all(tokens == 2 for tokens in held)  # every image ran under the tokens
    assert cpu.borrowed == 0  # all given back
