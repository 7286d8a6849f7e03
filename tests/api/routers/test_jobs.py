"""Batch jobs end to end: 202, status, SSE progress, zip result, ownership, recovery."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.core.models import Image, Job, JobItem, utcnow
from api.main import create_app
from nogilbench.concurrency.base import gil_enabled
from nogilbench.store.db import make_engine
from tests.support.api import (
    OPS,
    PIPELINE,
    assert_envelope,
    bearer,
    login,
    make_settings,
    read_events,
    register,
    upload,
    upload_many,
    wait_for_job,
)


def test_batch_end_to_end_with_sse(client, auth_headers):
    ids = upload_many(client, auth_headers, 4)
    response = client.post(
        "/api/jobs/batch",
        json={"image_ids": ids, "pipeline": PIPELINE, "method": "threading", "workers": 2},
        headers=auth_headers,
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    job_id = accepted["job_id"]
    assert accepted["status"] == "queued"
    assert accepted["events_url"] == f"/api/jobs/{job_id}/events"

    events = read_events(client, auth_headers, job_id)
    names = [name for name, _ in events]
    assert names[-1] == "done" and set(names[:-1]) == {"progress"}
    done_counts = [data["done"] for name, data in events if name == "progress"]
    assert done_counts == sorted(done_counts)
    final = events[-1][1]
    assert final["status"] == "completed" and final["done"] == 4 and final["progress"] == 1.0

    job = client.get(f"/api/jobs/{job_id}", headers=auth_headers).json()
    assert job["status"] == "completed" and (job["total"], job["done"], job["failed"]) == (4, 4, 0)
    assert job["method"] == "threading" and job["workers"] == 2
    assert job["elapsed_s"] is not None and job["started_at"] and job["finished_at"]

    result = client.get(job["result_url"], headers=auth_headers)
    assert result.status_code == 200 and result.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(result.content)) as archive:
        names = sorted(archive.namelist())
        assert names == [f"{n:03d}-photo.png" for n in range(1, 5)]
        from PIL import Image

        first = Image.open(io.BytesIO(archive.read(names[0])))
        assert max(first.size) == 32

    listing = client.get("/api/jobs/", headers=auth_headers).json()
    assert [item["id"] for item in listing] == [job_id]
    metrics = client.get("/metrics", headers=OPS).text
    assert 'nogilbench_jobs_total{kind="batch",status="completed"} 1.0' in metrics
    assert 'nogilbench_images_processed_total{source="batch"} 4.0' in metrics


def test_default_method_follows_the_gil(client, auth_headers):
    ids = upload_many(client, auth_headers, 1)
    job_id = client.post(
        "/api/jobs/batch", json={"image_ids": ids, "pipeline": PIPELINE}, headers=auth_headers
    ).json()["job_id"]
    job = wait_for_job(client, auth_headers, job_id)
    assert job["method"] == ("threading" if gil_enabled() else "free-threaded")


def test_sync_and_asyncio_runners(client, auth_headers):
    ids = upload_many(client, auth_headers, 2)
    for method in ("sync", "asyncio"):
        job_id = client.post(
            "/api/jobs/batch",
            json={"image_ids": ids, "pipeline": PIPELINE, "method": method, "workers": 2},
            headers=auth_headers,
        ).json()["job_id"]
        assert wait_for_job(client, auth_headers, job_id)["status"] == "completed"


def test_free_threaded_method_needs_the_gil_off(client, auth_headers):
    ids = upload_many(client, auth_headers, 1)
    response = client.post(
        "/api/jobs/batch",
        json={"image_ids": ids, "pipeline": PIPELINE, "method": "free-threaded"},
        headers=auth_headers,
    )
    if gil_enabled():
        assert_envelope(response, 400, "METHOD_UNAVAILABLE")
    else:
        assert response.status_code == 202


def test_batch_validation(client, auth_headers, other_headers):
    ids = upload_many(client, auth_headers, 1)
    cases = [
        ({"image_ids": [], "pipeline": PIPELINE}, 422, "VALIDATION_ERROR"),
        ({"image_ids": ids, "pipeline": {"operations": []}}, 400, "INVALID_OPERATION"),
        ({"image_ids": ids + ids, "pipeline": PIPELINE}, 422, "VALIDATION_ERROR"),
        ({"image_ids": [999999], "pipeline": PIPELINE}, 404, "IMAGE_NOT_FOUND"),
        ({"image_ids": ids, "pipeline": PIPELINE, "method": "gpu"}, 422, "VALIDATION_ERROR"),
        ({"image_ids": ids, "pipeline": PIPELINE, "workers": 0}, 422, "VALIDATION_ERROR"),
        ({"image_ids": ids, "pipeline": PIPELINE, "extra": 1}, 422, "VALIDATION_ERROR"),
    ]
    for body, status, code in cases:
        assert_envelope(
            client.post("/api/jobs/batch", json=body, headers=auth_headers), status, code
        )
    response = client.post(
        "/api/jobs/batch", json={"image_ids": ids, "pipeline": PIPELINE}, headers=other_headers
    )
    assert_envelope(response, 404, "IMAGE_NOT_FOUND")  # another user's image: as if missing


def test_jobs_are_private(client, auth_headers, other_headers):
    ids = upload_many(client, auth_headers, 1)
    job_id = client.post(
        "/api/jobs/batch", json={"image_ids": ids, "pipeline": PIPELINE}, headers=auth_headers
    ).json()["job_id"]
    wait_for_job(client, auth_headers, job_id)
    for path in ("", "/result", "/events"):
        assert_envelope(
            client.get(f"/api/jobs/{job_id}{path}", headers=other_headers), 404, "JOB_NOT_FOUND"
        )
    assert client.get("/api/jobs/", headers=other_headers).json() == []
    assert_envelope(client.get("/api/jobs/", headers={}), 401, "INVALID_TOKEN")
    assert_envelope(
        client.get("/api/jobs/99999/events", headers=auth_headers), 404, "JOB_NOT_FOUND"
    )


def test_failed_items_are_reported_not_fatal(client, app, auth_headers):
    ids = upload_many(client, auth_headers, 2)
    # Corrupt one stored upload behind the service's back.
    with Session(app.state.services.database.engine) as session:
        from api.core.models import Image

        stored = session.get(Image, ids[1]).stored_name
    (app.state.services.settings.uploads_dir / stored).write_bytes(b"garbage")
    job_id = client.post(
        "/api/jobs/batch", json={"image_ids": ids, "pipeline": PIPELINE}, headers=auth_headers
    ).json()["job_id"]
    job = wait_for_job(client, auth_headers, job_id)
    assert job["status"] == "completed" and (job["done"], job["failed"]) == (1, 1)
    archive = zipfile.ZipFile(
        io.BytesIO(client.get(job["result_url"], headers=auth_headers).content)
    )
    assert sorted(archive.namelist()) == ["001-photo.png", "FAILED.txt"]
    assert "002 photo.png" in archive.read("FAILED.txt").decode()


def test_result_before_completion_is_409(client, app, auth_headers):
    # A job another (live) worker holds: this app's workers never claim it.
    with Session(app.state.services.database.engine) as session:
        user_id = client.get("/auth/me", headers=auth_headers).json()["id"]
        job = Job(
            owner_id=user_id,
            total=1,
            parameters={"pipeline": PIPELINE},
            status="processing",
            claimed_by="another-worker",
            lease_expires_at=utcnow() + timedelta(hours=1),
            attempts=1,
        )
        session.add(job)
        session.commit()
        job_id = job.id
    assert_envelope(
        client.get(f"/api/jobs/{job_id}/result", headers=auth_headers), 409, "JOB_NOT_READY"
    )
    assert client.get(f"/api/jobs/{job_id}", headers=auth_headers).json()["status"] == "processing"


def test_jobs_of_a_dead_worker_are_resumed_once(db_url, tmp_path):
    """A worker died holding two jobs (their leases expired): one ran once and is resumed,
    keeping the item its dead worker finished; one had already been resumed and is failed."""
    settings = make_settings(db_url, tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        register(client, "ada@example.com")
        headers = bearer(login(client, "ada@example.com")["access_token"])
        first, second = (upload(client, headers).json() for _ in range(2))
        user_id = client.get("/auth/me", headers=headers).json()["id"]
        engine = client.app.state.services.database.engine
        finished_output = f"{'1' * 32}.png"
        (client.app.state.services.settings.outputs_dir / finished_output).write_bytes(b"x")
        expired = utcnow() - timedelta(minutes=5)
        with Session(engine) as session:
            dead = {"status": "processing", "claimed_by": "dead-host:1:x", "done": 0}
            parameters = {"image_ids": [first["id"]], "pipeline": PIPELINE}
            resumable = Job(
                owner_id=user_id, total=2, attempts=1, lease_expires_at=expired, **dead,
                parameters=parameters,
            )  # fmt: skip
            exhausted = Job(
                owner_id=user_id, total=1, attempts=2, lease_expires_at=expired, **dead,
                parameters=parameters,
            )  # fmt: skip
            session.add(resumable)
            session.add(exhausted)
            session.flush()
            resumable.done = 1
            session.add(
                JobItem(
                    job_id=resumable.id, position=0, image_id=first["id"], filename="a.png",
                    source_name=session.get(Image, first["id"]).stored_name, status="completed",
                    output_name=finished_output,
                )
            )  # fmt: skip
            session.add(
                JobItem(
                    job_id=resumable.id, position=1, image_id=second["id"], filename="b.png",
                    source_name=session.get(Image, second["id"]).stored_name,
                )
            )  # fmt: skip
            session.commit()
            resumable_id, exhausted_id = resumable.id, exhausted.id
        client.app.state.services.jobs.submit(resumable_id)
        resumed = wait_for_job(client, headers, resumable_id)
        assert resumed["status"] == "completed" and resumed["done"] == 2, resumed
        failed = wait_for_job(client, headers, exhausted_id)
        assert failed["status"] == "failed" and "server stopped" in failed["error"]
        with Session(engine) as session:
            row = session.get(Job, resumable_id)
            assert (row.attempts, row.lease_expires_at) == (2, None)
            assert row.claimed_by == client.app.state.services.jobs.worker_id
            assert session.get(Job, exhausted_id).attempts == 2  # never run a third time
            items = session.exec(select(JobItem).where(JobItem.job_id == resumable_id)).all()
            names = {item.position: item.output_name for item in items}
        assert names[0] == finished_output  # the dead worker's finished item was kept
        archive = client.get(f"/api/jobs/{resumable_id}/result", headers=headers).content
        assert len(zipfile.ZipFile(io.BytesIO(archive)).namelist()) == 2


def test_graceful_shutdown_requeues_a_running_batch(db_url, tmp_path, monkeypatch):
    import threading

    import api.services.job_runner as job_runner

    real = job_runner.process_file
    gate = threading.Event()
    calls = []

    def gated(task):
        calls.append(task)
        if len(calls) > 1:
            gate.wait(10)  # later images wait until shutdown has been requested
        return real(task)

    monkeypatch.setattr(job_runner, "process_file", gated)
    settings = make_settings(db_url, tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        register(client, "ada@example.com")
        headers = bearer(login(client, "ada@example.com")["access_token"])
        ids = upload_many(client, headers, 4)
        job_id = client.post(
            "/api/jobs/batch",
            json={"image_ids": ids, "pipeline": PIPELINE, "method": "threading", "workers": 1},
            headers=headers,
        ).json()["job_id"]
        deadline = time.monotonic() + 30
        while client.get(f"/api/jobs/{job_id}", headers=headers).json()["done"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        threading.Timer(0.3, gate.set).start()
    # Shut down mid-job: the job went back to the queue, its partial progress undone.
    engine = make_engine(db_url)
    with Session(engine) as session:
        stored = session.get(Job, job_id)
        assert (stored.status, stored.done, stored.started_at) == ("queued", 0, None)
    engine.dispose()
    monkeypatch.setattr(job_runner, "process_file", real)
    with TestClient(create_app(settings)) as client:
        job = wait_for_job(client, headers, job_id)
        assert job["status"] == "completed" and job["done"] == 4 and job["failed"] == 0


def test_a_job_deleted_while_its_result_is_opened_is_not_found(
    client, app, auth_headers, monkeypatch
):
    """A DELETE between reading the job's row and opening its archive: 404 JOB_NOT_FOUND,
    what the job is by then (410 RESULT_GONE stays for an archive lost under a live row)."""
    import api.services.jobs as job_service

    job_id = client.post(
        "/api/jobs/batch",
        json={"image_ids": upload_many(client, auth_headers, 1), "pipeline": PIPELINE},
        headers=auth_headers,
    ).json()["job_id"]
    assert wait_for_job(client, auth_headers, job_id)["status"] == "completed"
    real_open = job_service.open_stored

    def deleted_meanwhile(path):
        assert client.delete(f"/api/jobs/{job_id}", headers=auth_headers).status_code == 204
        return real_open(path)

    monkeypatch.setattr(job_service, "open_stored", deleted_meanwhile)
    answer = client.get(f"/api/jobs/{job_id}/result", headers=auth_headers)
    assert_envelope(answer, 404, "JOB_NOT_FOUND")
