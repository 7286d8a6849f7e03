"""Work is bounded by what it produces: growing pipelines are refused from their numbers, and
batches share the CPU limiter with single requests, at most one token per worker."""

from __future__ import annotations

import threading

from test_api_jobs import upload_many, wait_for

import api.services.images as image_service
import api.services.job_runner as job_runner
from tests.support.api import assert_envelope, image_bytes, upload

# The attack: a 4x4 PNG resized to 8192x8192, then rotated 45 degrees with expand.
GROWING = {
    "operations": [
        {"op": "resize", "width": 8192, "height": 8192, "keep_aspect": False},
        {"op": "rotate", "angle": 45, "expand": True},
    ],
    "format": "png",
}


def _forbid(monkeypatch, module, name: str) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError(f"{name} ran: pixels were allocated for a refused pipeline")

    monkeypatch.setattr(module, name, refuse)


def test_growing_pipeline_refused_before_any_pixel_is_allocated(client, auth_headers, monkeypatch):
    image_id = upload(client, auth_headers, image_bytes((4, 4))).json()["id"]
    # Neither decoding nor any operation may run: the refusal comes from the stored size.
    _forbid(monkeypatch, image_service, "render")
    _forbid(monkeypatch, image_service, "decode_image")
    response = client.post(f"/api/images/{image_id}/process", json=GROWING, headers=auth_headers)
    body = assert_envelope(response, 400, "INVALID_OPERATION")
    assert body["details"] == [{"field": "operations[0]"}]
    assert "resize" in body["message"] and "8192x8192" in body["message"]
    record = client.get(f"/api/images/{image_id}", headers=auth_headers).json()
    assert record["status"] == "uploaded"


def test_each_step_counts_not_only_the_last(client, auth_headers, monkeypatch):
    # 1200x1200 (1.44 MP) passes the 2 MP test limit; rotating it by 45 degrees (2.9 MP) does not.
    image_id = upload(client, auth_headers, image_bytes((4, 4))).json()["id"]
    _forbid(monkeypatch, image_service, "render")
    pipeline = {
        "operations": [
            {"op": "resize", "width": 1200, "height": 1200, "keep_aspect": False},
            {"op": "rotate", "angle": 45},
            {"op": "thumbnail", "max_size": 64},
        ]
    }
    response = client.post(f"/api/images/{image_id}/process", json=pipeline, headers=auth_headers)
    body = assert_envelope(response, 400, "INVALID_OPERATION")
    assert body["details"] == [{"field": "operations[1]"}]


def test_growing_pipeline_refused_in_a_batch_before_the_job_exists(client, auth_headers):
    ids = [upload(client, auth_headers, image_bytes((4, 4))).json()["id"] for _ in range(3)]
    response = client.post(
        "/api/jobs/batch",
        json={"image_ids": ids, "pipeline": GROWING, "workers": 2},
        headers=auth_headers,
    )
    assert_envelope(response, 400, "INVALID_OPERATION")
    assert client.get("/api/jobs/", headers=auth_headers).json() == []


def test_batch_workers_over_the_cap_are_refused(client, auth_headers):
    ids = upload_many(client, auth_headers, 1)
    response = client.post(
        "/api/jobs/batch",
        json={"image_ids": ids, "pipeline": {"operations": [{"op": "grayscale"}]}, "workers": 9},
        headers=auth_headers,
    )
    body = assert_envelope(response, 400, "INVALID_OPERATION")
    assert "at most 8" in body["message"]


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
    job = wait_for(client, auth_headers, response.json()["job_id"])
    assert job["status"] == "completed" and job["done"] == 6
    assert peak == 2  # not 4: the limiter's size bounds the batch
    assert held and all(tokens == 2 for tokens in held)  # every image ran under the tokens
    assert cpu.borrowed == 0  # all given back
