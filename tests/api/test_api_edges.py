"""Edge input and interleavings that once broke the service (found by schemathesis and faults).

Oversized integers, unparsable multipart bodies, passwords bcrypt refuses, two `process` calls
racing on one image, and the files a crash leaves between writing and committing.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

import api.services.images as image_service
from api.core.schemas import MAX_ID, MAX_OFFSET
from api.core.security import PasswordHasher
from api.main import create_app
from tests.support.api import (
    PASSWORD,
    assert_envelope,
    bearer,
    login,
    make_settings,
    register,
    upload,
)

TOO_BIG = 2**64  # SQLite's driver raises OverflowError beyond 2**63 - 1
# MAX_ID + 1 is out of range for PostgreSQL's INTEGER id columns (a DataError, a 500).
PIPELINE = {"operations": [{"op": "grayscale"}], "format": "png"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/images/{id}"),
        ("POST", "/api/images/{id}/process"),
        ("GET", "/api/images/{id}/download"),
        ("DELETE", "/api/images/{id}"),
        ("GET", "/api/jobs/{id}"),
        ("GET", "/api/jobs/{id}/events"),
        ("GET", "/api/jobs/{id}/result"),
        ("GET", "/api/benchmarks/{id}"),
    ],
)
def test_ids_beyond_64_bits_are_422(client, auth_headers, method, path):
    for value in (TOO_BIG, MAX_ID + 1, 0):
        json = PIPELINE if method == "POST" else None
        response = client.request(method, path.format(id=value), json=json, headers=auth_headers)
        assert_envelope(response, 422, "VALIDATION_ERROR")
    response = client.request(
        method,
        path.format(id=MAX_ID),
        json=PIPELINE if method == "POST" else None,
        headers=auth_headers,
    )  # the largest valid id reaches the database and is simply not there
    assert response.status_code == 404, response.text


@pytest.mark.parametrize("path", ["/api/images/", "/api/jobs/"])
def test_offset_and_limit_beyond_64_bits_are_422(client, auth_headers, path):
    for params in ({"offset": TOO_BIG}, {"offset": MAX_OFFSET + 1}, {"limit": TOO_BIG}):
        response = client.get(path, params=params, headers=auth_headers)
        assert_envelope(response, 422, "VALIDATION_ERROR")
    response = client.get(path, params={"offset": MAX_OFFSET}, headers=auth_headers)
    assert response.status_code == 200 and response.json() == []


def test_ids_in_bodies_and_lists_beyond_64_bits(client, auth_headers):
    batch = {"image_ids": [TOO_BIG], "pipeline": PIPELINE}
    response = client.post("/api/jobs/batch", json=batch, headers=auth_headers)
    assert_envelope(response, 422, "VALIDATION_ERROR")
    response = client.get(
        "/api/benchmarks/compare", params={"ids": f"1,{TOO_BIG}"}, headers=auth_headers
    )
    assert_envelope(response, 400, "INVALID_PARAMETER")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"--x\r\nthis is not multipart", "multipart/form-data; boundary=x"),
        (b"garbage--xyz", "multipart/form-data; boundary=xyz"),
        (b"no boundary at all", "multipart/form-data"),
    ],
)
def test_unparsable_multipart_is_422(client, auth_headers, body, content_type):
    response = client.post(
        "/api/images/upload", content=body, headers={**auth_headers, "Content-Type": content_type}
    )
    body = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert "cannot be parsed" in body["message"]


def test_upload_documents_no_400(client):
    responses = client.get("/openapi.json").json()["paths"]["/api/images/upload"]["post"]
    assert "400" not in responses["responses"] and "422" in responses["responses"]


@pytest.mark.parametrize("password", ["abc\x00defghij", "\x00" * 8, "x" * 129])
def test_passwords_registration_refuses(client, password):
    register(client, "ada@example.com")
    for email in ("ada@example.com", "nobody@example.com"):
        response = client.post("/auth/login", data={"username": email, "password": password})
        assert_envelope(response, 401, "INVALID_CREDENTIALS")
    response = client.post(
        "/auth/register", json={"email": "nul@example.com", "password": password}
    )
    assert_envelope(response, 422, "VALIDATION_ERROR")
    login(client, "ada@example.com", PASSWORD)  # the account itself is unharmed


def test_refused_password_costs_one_bcrypt_check_like_a_wrong_one(monkeypatch):
    hasher = PasswordHasher(rounds=4)
    stored = hasher.hash(PASSWORD)
    calls: list[str] = []
    real_verify = hasher._context.verify

    def counting(secret, hash_, *args, **kwargs):
        calls.append(secret)
        return real_verify(secret, hash_, *args, **kwargs)

    monkeypatch.setattr(hasher._context, "verify", counting)
    for stored_hash in (stored, None):
        for password in ("wrong password", "bad\x00password", "x" * 200):
            calls.clear()
            assert hasher.verify(password, stored_hash) is False
            assert len(calls) == 1, (password, calls)


def test_concurrent_process_of_one_image_orphans_no_output(client, app, auth_headers, monkeypatch):
    """Both requests read the record before either stores its output (forced interleaving)."""
    image = upload(client, auth_headers).json()
    assert client.post(
        f"/api/images/{image['id']}/process", json=PIPELINE, headers=auth_headers
    ).is_success
    barrier = threading.Barrier(2, timeout=30)
    real_render = image_service.render

    def render_together(*args):
        barrier.wait()  # both have read processed_name = the first output
        return real_render(*args)

    monkeypatch.setattr(image_service, "render", render_together)
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


def test_start_up_sweeps_files_a_crash_left_unreferenced(db_url, tmp_path):
    settings = make_settings(db_url, tmp_path / "data")
    with TestClient(create_app(settings)) as client:
        register(client, "ada@example.com")
        headers = bearer(login(client, "ada@example.com")["access_token"])
        image = upload(client, headers).json()
        assert client.post(
            f"/api/images/{image['id']}/process", json=PIPELINE, headers=headers
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
