"""JobService: a batch is refused before its job exists (a growing pipeline, workers over the
cap)."""

from __future__ import annotations

from tests.support.api import GROWING_PIPELINE, assert_envelope, upload, upload_many
from tests.support.images import image_bytes


def test_growing_pipeline_refused_in_a_batch_before_the_job_exists(client, auth_headers):
    ids = [upload(client, auth_headers, image_bytes((4, 4))).json()["id"] for _ in range(3)]
    response = client.post(
        "/api/jobs/batch",
        json={"image_ids": ids, "pipeline": GROWING_PIPELINE, "workers": 2},
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
