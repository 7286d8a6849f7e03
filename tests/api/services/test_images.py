"""ImageService: a growing pipeline is refused from its numbers before any pixel is allocated;
racing `process` calls and a delete leave exactly the current output on disk."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

import api.services.images as image_service
from nogilbench.imaging.pipeline import Pipeline
from tests.support.api import GROWING_PIPELINE, assert_envelope, bearer, login, register, upload
from tests.support.images import image_bytes

PIPELINE = {"operations": [{"op": "grayscale"}], "format": "png"}


def test_concurrent_process_of_one_image_orphans_no_output(client, app, auth_headers, monkeypatch):
    """Both requests read the record before either stores its output (forced interleaving)."""
    image = upload(client, auth_headers).json()
    assert client.post(
        f"/api/images/{image['id']}/process", json=PIPELINE, headers=auth_headers
    ).is_success
    barrier = threading.Barrier(2, timeout=30)
    real_render = Pipeline.render

    def render_together(*args):
        barrier.wait()  # both have read processed_name = the first output
        return real_render(*args)

    monkeypatch.setattr(Pipeline, "render", render_together)
    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(
                client.post,
                f"/api/images/{image['id']}/process",
                json={**PIPELINE, "format": fmt},
                headers=auth_headers,
            )
            for fmt in ("png", "webp")
        ]
        responses = [future.result() for future in futures]
    assert all(response.status_code == 200 for response in responses), responses
    outputs = sorted(path.name for path in app.state.services.outputs.root.iterdir())
    record = client.get(f"/api/images/{image['id']}", headers=auth_headers).json()
    with app.state.services.database.engine.connect() as connection:
        stored = connection.execute(
            text("SELECT processed_name FROM images WHERE id = :id"), {"id": image["id"]}
        ).scalar_one()
    assert outputs == [stored]  # the superseded outputs are gone, the current one is there
    assert client.get(f"/api/images/{image['id']}/download", headers=auth_headers).is_success
    assert record["processed_format"] in ("png", "webp")


def test_delete_removes_the_output_stored_at_delete_time(client, app, auth_headers):
    image = upload(client, auth_headers).json()
    for _ in range(2):
        assert client.post(
            f"/api/images/{image['id']}/process", json=PIPELINE, headers=auth_headers
        ).is_success
    assert client.delete(f"/api/images/{image['id']}", headers=auth_headers).status_code == 204
    services = app.state.services
    assert list(services.outputs.root.iterdir()) == []
    assert list(services.uploads.root.iterdir()) == []
    response = client.delete(f"/api/images/{image['id']}", headers=auth_headers)
    assert_envelope(response, 404, "IMAGE_NOT_FOUND")


def _forbid(monkeypatch, module, name: str) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError(f"{name} ran: pixels were allocated for a refused pipeline")

    monkeypatch.setattr(module, name, refuse)


def test_growing_pipeline_refused_before_any_pixel_is_allocated(client, auth_headers, monkeypatch):
    image_id = upload(client, auth_headers, image_bytes((4, 4))).json()["id"]
    # Neither decoding nor any operation may run: the refusal comes from the stored size.
    _forbid(monkeypatch, Pipeline, "render")
    _forbid(monkeypatch, image_service, "decode_image")
    response = client.post(
        f"/api/images/{image_id}/process", json=GROWING_PIPELINE, headers=auth_headers
    )
    body = assert_envelope(response, 400, "INVALID_OPERATION")
    assert body["details"] == [{"field": "operations[0]"}]
    assert "resize" in body["message"] and "8192x8192" in body["message"]
    record = client.get(f"/api/images/{image_id}", headers=auth_headers).json()
    assert record["status"] == "uploaded"


def test_each_step_counts_not_only_the_last(client, auth_headers, monkeypatch):
    # 1200x1200 (1.44 MP) passes the 2 MP test limit; rotating it by 45 degrees (2.9 MP) does not.
    image_id = upload(client, auth_headers, image_bytes((4, 4))).json()["id"]
    _forbid(monkeypatch, Pipeline, "render")
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


def test_the_process_answer_is_the_row_as_stored(client, auth_headers):
    """The answer is built from what the swap committed, not read back: it must be the row."""
    image_id = upload(client, auth_headers).json()["id"]
    for pipeline in (
        PIPELINE,
        {"operations": [{"op": "thumbnail", "max_size": 16}], "format": "webp"},
    ):
        answer = client.post(f"/api/images/{image_id}/process", json=pipeline, headers=auth_headers)
        assert answer.status_code == 200, answer.text
        stored = client.get(f"/api/images/{image_id}", headers=auth_headers)
        assert answer.json() == stored.json()
        assert stored.json()["processed_format"] == pipeline["format"]


def test_an_image_deleted_while_its_process_waits_is_not_found(
    client, app, auth_headers, monkeypatch
):
    """A DELETE between the lookup and the work (the request waited for a CPU token): 404,
    not a 500, and no output left behind."""
    image_id = upload(client, auth_headers).json()["id"]
    services = app.state.services
    real_lookup = image_service.ImageService._checked_source

    def deleted_meanwhile(self, *args):
        record, pipeline = real_lookup(self, *args)
        with services.database.engine.begin() as connection:
            connection.execute(text("DELETE FROM images WHERE id = :id"), {"id": image_id})
        services.uploads.delete(record.stored_name)
        return record, pipeline

    monkeypatch.setattr(image_service.ImageService, "_checked_source", deleted_meanwhile)
    answer = client.post(f"/api/images/{image_id}/process", json=PIPELINE, headers=auth_headers)
    assert_envelope(answer, 404, "IMAGE_NOT_FOUND")
    assert list(services.outputs.root.iterdir()) == []


def test_process_checks_the_account_in_its_lookup(client, app, auth_headers):
    """/process reads the account in the image's query, not through the user dependency:
    the same answers as every other route, in the same order (account, body, image)."""
    image_id = upload(client, auth_headers).json()["id"]
    engine = app.state.services.database.engine
    url = f"/api/images/{image_id}/process"
    bad_pipeline = {"operations": [{"op": "no-such-op"}], "format": "png"}

    def set_account(sql: str) -> None:
        with engine.begin() as connection:
            connection.execute(text(sql), {"email": "owner@example.com"})

    # Another user's image and a missing one answer alike; the body is checked before either.
    register(client, "eve@example.com")
    eve = bearer(login(client, "eve@example.com")["access_token"])
    assert_envelope(client.post(url, json=PIPELINE, headers=eve), 404, "IMAGE_NOT_FOUND")
    assert_envelope(
        client.post("/api/images/999999/process", json=PIPELINE, headers=auth_headers),
        404,
        "IMAGE_NOT_FOUND",
    )
    assert_envelope(
        client.post("/api/images/999999/process", json=bad_pipeline, headers=auth_headers),
        400,
        "INVALID_OPERATION",
    )
    set_account("UPDATE users SET is_active = false WHERE email = :email")
    for body in (PIPELINE, bad_pipeline):
        assert_envelope(client.post(url, json=body, headers=auth_headers), 403, "FORBIDDEN")
    set_account("UPDATE users SET is_active = true WHERE email = :email")
    assert client.post(url, json=PIPELINE, headers=auth_headers).status_code == 200
    # Logged out everywhere after this token was issued: the token no longer acts.
    set_account("UPDATE users SET sessions_revoked_at = '2999-01-01 00:00:00' WHERE email = :email")
    for body in (PIPELINE, bad_pipeline):
        assert_envelope(client.post(url, json=body, headers=auth_headers), 401, "INVALID_TOKEN")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM user_usage"))
        connection.execute(text("DELETE FROM images"))
        connection.execute(text("DELETE FROM refresh_tokens"))
        connection.execute(text("DELETE FROM users"))
    assert_envelope(client.post(url, json=PIPELINE, headers=auth_headers), 401, "INVALID_TOKEN")
