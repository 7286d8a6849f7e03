"""The per-user usage counters (what quotas are enforced on) never drift from the rows they
count: after uploads, processing, batches, archives, a batch stopped by the quota, expiry
and deletes, each counter equals what `usage.recount` derives from the rows."""

from __future__ import annotations

import io
from datetime import timedelta

from fastapi.testclient import TestClient
from PIL import Image

from api.core.models import utcnow
from api.main import create_app
from api.repositories import usage
from tests.support.api import (
    PIPELINE,
    assert_envelope,
    bearer,
    login,
    make_settings,
    register,
    upload,
)
from tests.support.api import wait_for_job as wait_for


def _consistent(client: TestClient, user_id: int) -> usage.Usage:
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.database.session() as session:
        counted, derived = usage.get(session, user_id), usage.recount(session, user_id)
    assert counted == derived
    return counted


def test_counters_follow_every_change(db_url, tmp_path):
    settings = make_settings(db_url, tmp_path / "data", quota_stored_bytes=400_000)
    with TestClient(create_app(settings)) as client:
        register(client, "ada@example.com")
        headers = bearer(login(client, "ada@example.com")["access_token"])
        user_id = client.get("/auth/me", headers=headers).json()["id"]
        ids = [upload(client, headers).json()["id"] for _ in range(3)]
        assert _consistent(client, user_id).images == 3
        for fmt in ("png", "webp"):  # an output, then its replacement
            answer = client.post(
                f"/api/images/{ids[0]}/process", json={**PIPELINE, "format": fmt}, headers=headers
            )
            assert answer.status_code == 200, answer.text
            _consistent(client, user_id)
        batch = {"image_ids": ids, "pipeline": PIPELINE, "method": "sync"}
        job_id = client.post("/api/jobs/batch", json=batch, headers=headers).json()["job_id"]
        assert wait_for(client, headers, job_id)["status"] == "completed"
        kept = _consistent(client, user_id)
        assert kept.active_jobs == 0
        outputs = sum(path.stat().st_size for path in settings.outputs_dir.iterdir())
        archive = sum(path.stat().st_size for path in settings.results_dir.iterdir())
        uploads = sum(path.stat().st_size for path in settings.uploads_dir.iterdir())
        assert kept.stored_bytes == uploads + outputs + archive  # exactly what is on disk

        # Outputs too large for the quota: the batch stops, failed, and gives its bytes back.
        noisy = io.BytesIO()
        Image.effect_noise((200, 200), 90).convert("RGB").save(noisy, format="PNG")
        big = upload(client, headers, noisy.getvalue()).json()["id"]
        grow = {
            "operations": [{"op": "resize", "width": 1000, "height": 1000, "keep_aspect": False}],
            "format": "png",
        }  # the small images' outputs fit; the noise's (megabytes) does not
        body = {"image_ids": [*ids, big], "pipeline": grow, "method": "sync"}
        answer = client.post("/api/jobs/batch", json=body, headers=headers)
        assert answer.status_code == 202, answer.text
        job = answer.json()["job_id"]
        failed = wait_for(client, headers, job)
        assert failed["status"] == "failed" and "quota" in failed["error"], failed
        assert_envelope(
            client.get(f"/api/jobs/{job}/result", headers=headers), 409, "JOB_NOT_READY"
        )
        assert _consistent(client, user_id).active_jobs == 0

        manager = client.app.state.services.jobs  # type: ignore[attr-defined]
        later = utcnow() + timedelta(hours=settings.result_ttl_hours, minutes=1)
        assert manager.expire_results(now=later) >= 1
        _consistent(client, user_id)
        assert client.delete(f"/api/jobs/{job_id}", headers=headers).status_code == 204
        assert client.delete(f"/api/images/{ids[0]}", headers=headers).status_code == 204
        left = _consistent(client, user_id)
        assert left.images == 3
        assert left.stored_bytes == sum(p.stat().st_size for p in settings.uploads_dir.iterdir())
