"""Per-user quotas: images kept, bytes kept, queued + running jobs, open event streams."""

from __future__ import annotations

import asyncio
import threading

import pytest

import api.services.job_runner as job_runner
from tests.support.api import (
    PIPELINE,
    assert_envelope,
    make_settings,
    post_batch,
    signed_in_client,
    upload,
    wait_for_job,
)
from tests.support.images import image_bytes


@pytest.fixture
def quota_client(db_url, tmp_path, request):
    overrides = getattr(request, "param", {})
    settings = make_settings(db_url, tmp_path / "data", **overrides)
    with signed_in_client(settings, "ada@example.com") as client:
        yield client


@pytest.mark.parametrize("quota_client", [{"quota_images": 2}], indirect=True)
def test_image_count_quota(quota_client):
    client = quota_client
    first = upload(client, {}).json()["id"]
    upload(client, {})
    body = assert_envelope(upload(client, {}), 429, "QUOTA_EXCEEDED")
    assert "2 images" in body["message"]
    assert client.delete(f"/api/images/{first}").status_code == 204
    assert upload(client, {}).status_code == 201
    assert len(list((client.app.state.services.uploads.root).iterdir())) == 2  # nothing stored


@pytest.mark.parametrize("quota_client", [{"quota_stored_bytes": 2900}], indirect=True)
def test_stored_bytes_quota(quota_client):
    client = quota_client
    data = image_bytes((200, 200), fmt="BMP")  # 120 KB
    assert len(data) > 2900
    assert_envelope(upload(client, {}, data, "big.bmp", "image/bmp"), 429, "QUOTA_EXCEEDED")
    small = image_bytes((8, 8))
    assert len(small) < 1000
    assert upload(client, {}, small).status_code == 201
    assert upload(client, {}, small).status_code == 201
    rest = image_bytes((30, 30), fmt="BMP")  # 2.8 KB: fits alone, not beside the two
    assert len(rest) + 2 * len(small) > 2900 and len(rest) < 2900
    assert_envelope(upload(client, {}, rest, "rest.bmp", "image/bmp"), 429, "QUOTA_EXCEEDED")


@pytest.mark.parametrize("quota_client", [{"quota_active_jobs": 1}], indirect=True)
def test_active_jobs_quota(quota_client, monkeypatch):
    client = quota_client
    release = threading.Event()
    real = job_runner.process_file

    def held(task):
        release.wait(30)
        return real(task)

    monkeypatch.setattr(job_runner, "process_file", held)
    image_id = upload(client, {}).json()["id"]
    batch = {"image_ids": [image_id], "pipeline": PIPELINE, "workers": 1}
    first = client.post("/api/jobs/batch", json=batch)
    assert first.status_code == 202
    try:
        body = assert_envelope(client.post("/api/jobs/batch", json=batch), 429, "QUOTA_EXCEEDED")
        assert "DELETE /api/jobs/" in body["message"]
    finally:
        release.set()
    assert wait_for_job(client, {}, first.json()["job_id"])["status"] == "completed"
    assert client.post("/api/jobs/batch", json=batch).status_code == 202


@pytest.mark.parametrize("quota_client", [{"quota_event_streams": 1}], indirect=True)
def test_event_stream_quota(quota_client):
    client = quota_client
    job_id = post_batch(client, {}, [upload(client, {}).json()["id"]], workers=1)
    wait_for_job(client, {}, job_id)
    streams = client.app.state.services.streams
    user_id = client.get("/auth/me").json()["id"]
    holder = asyncio.run(streams.take(user_id))  # a stream of this user is open elsewhere
    assert holder is not None
    assert_envelope(client.get(f"/api/jobs/{job_id}/events"), 429, "QUOTA_EXCEEDED")
    asyncio.run(streams.give_back(user_id, holder))
    response = client.get(f"/api/jobs/{job_id}/events")
    assert response.status_code == 200 and "event: done" in response.text
    assert asyncio.run(streams.take(user_id))  # the finished stream gave its slot back


@pytest.mark.parametrize("quota_client", [{"quota_stored_bytes": 20_000}], indirect=True)
def test_processed_outputs_count_against_stored_bytes(quota_client):
    client = quota_client
    image_id = upload(client, {}, image_bytes((8, 8))).json()["id"]
    small = {"operations": [{"op": "grayscale"}], "format": "png"}
    assert client.post(f"/api/images/{image_id}/process", json=small).status_code == 200
    # A noisy 400x400 RGB output is far over 20 KB: refused, the previous output kept.
    large = {
        "operations": [
            {"op": "resize", "width": 400, "height": 400, "keep_aspect": False},
            {"op": "watermark", "text": "quota " * 10, "size": 40},
            {"op": "rotate", "angle": 7},
        ],
        "format": "png",
    }
    response = client.post(f"/api/images/{image_id}/process", json=large)
    assert_envelope(response, 429, "QUOTA_EXCEEDED")
    record = client.get(f"/api/images/{image_id}").json()
    assert record["processed_width"] == 8
    outputs = client.app.state.services.outputs.root
    assert len(list(outputs.iterdir())) == 1
