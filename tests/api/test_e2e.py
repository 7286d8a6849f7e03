"""The whole story: register -> login -> upload -> process -> download -> batch -> status
-> result -> benchmark -> compare."""

from __future__ import annotations

import io
import zipfile

from PIL import Image

from tests.support.api import PASSWORD, TINY_BENCHMARK, promote, read_events, wait_for_job
from tests.support.images import image_bytes


def test_e2e_flow(client, settings):
    assert (
        client.post(
            "/auth/register", json={"email": "e2e@example.com", "password": PASSWORD}
        ).status_code
        == 201
    )
    promote(settings, "e2e@example.com")  # benchmarks are for operators
    tokens = client.post(
        "/auth/login", data={"username": "e2e@example.com", "password": PASSWORD}
    ).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    ids = []
    for index in range(3):
        response = client.post(
            "/api/images/upload",
            files={"file": (f"img{index}.jpg", image_bytes((120, 80), fmt="JPEG"), "image/jpeg")},
            headers=headers,
        )
        assert response.status_code == 201
        ids.append(response.json()["id"])

    processed = client.post(
        f"/api/images/{ids[0]}/process",
        json={
            "operations": [{"op": "resize", "width": 60, "height": 40}, {"op": "sharpen"}],
            "format": "png",
        },
        headers=headers,
    )
    assert processed.status_code == 200
    download = client.get(f"/api/images/{ids[0]}/download", headers=headers)
    assert Image.open(io.BytesIO(download.content)).size == (60, 40)

    batch = client.post(
        "/api/jobs/batch",
        json={"image_ids": ids, "pipeline": {"operations": [{"op": "grayscale"}]}, "workers": 2},
        headers=headers,
    )
    assert batch.status_code == 202
    job_id = batch.json()["job_id"]
    events = read_events(client, headers, job_id)
    assert events[-1][0] == "done"
    status = client.get(f"/api/jobs/{job_id}", headers=headers).json()
    assert status["status"] == "completed" and status["done"] == 3
    archive = zipfile.ZipFile(io.BytesIO(client.get(status["result_url"], headers=headers).content))
    assert len(archive.namelist()) == 3

    sweeps = []
    for images in ([2], [3]):
        response = client.post(
            "/api/benchmarks/run", json={**TINY_BENCHMARK, "images": images}, headers=headers
        )
        assert response.status_code == 202
        sweeps.append(wait_for_job(client, headers, response.json()["job_id"], 120)["sweep_id"])
    comparison = client.get(
        f"/api/benchmarks/compare?ids={sweeps[0]},{sweeps[1]}", headers=headers
    ).json()
    assert {row["sweep_id"] for row in comparison["rows"]} == set(sweeps)

    refreshed = client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    jobs = client.get("/api/jobs/", headers=headers).json()
    assert [job["kind"] for job in jobs] == ["benchmark", "benchmark", "batch"]
