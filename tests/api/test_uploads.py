"""Upload limits: streamed size (413), sniffed format (415), pixel bombs (413), corrupt data."""

from __future__ import annotations

from PIL import Image

from tests.support.api import MAX_UPLOAD, OPS, assert_envelope, upload
from tests.support.images import bomb_png, image_bytes

BOUNDARY = "nogilbench-test-boundary"


def multipart(payload: bytes, filename: str = "big.png") -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: image/png\r\n\r\n'
        ).encode()
        + payload
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def test_decompression_bomb_png_is_refused_from_its_header(client, app, auth_headers):
    bomb = bomb_png(100_000, 100_000)  # 10 gigapixels declared, a few hundred bytes on disk
    assert len(bomb) < 2048
    response = upload(client, auth_headers, bomb, "bomb.png")
    body = assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    assert "pixels" in body["message"]
    assert not any(app.state.services.settings.uploads_dir.iterdir())


def test_bomb_just_over_the_pixel_limit(client, auth_headers):
    response = upload(client, auth_headers, bomb_png(2000, 1001), "wide.png")
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_non_image_is_415(client, auth_headers):
    response = upload(client, auth_headers, b"#!/bin/sh\nrm -rf /\n" * 20, "script.png")
    assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_disallowed_format_is_415(client, auth_headers, tmp_path):
    path = tmp_path / "image.ico"
    Image.new("RGB", (16, 16)).save(path, format="ICO")
    response = upload(client, auth_headers, path.read_bytes(), "image.png")
    assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_empty_file_is_415(client, auth_headers):
    assert_envelope(upload(client, auth_headers, b"", "empty.png"), 415, "UNSUPPORTED_MEDIA_TYPE")


def test_truncated_image_is_415(client, auth_headers):
    data = image_bytes((200, 200), fmt="JPEG")
    response = upload(client, auth_headers, data[: len(data) // 2], "cut.jpg")
    assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_declared_oversize_body_is_refused_before_reading(client, auth_headers):
    body = multipart(b"\0" * (MAX_UPLOAD + 100_000))
    response = client.post(
        "/api/images/upload",
        content=body,
        headers={**auth_headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_streamed_oversize_body_is_cut_off(client, auth_headers):
    """No Content-Length (chunked): the limit is enforced while the bytes arrive."""
    body = multipart(b"\0" * (MAX_UPLOAD * 4))
    sent = []

    def chunks():
        for start in range(0, len(body), 32_768):
            sent.append(start)
            yield body[start : start + 32_768]

    response = client.post(
        "/api/images/upload",
        content=chunks(),
        headers={**auth_headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_file_over_the_limit_within_multipart_slack(client, auth_headers):
    response = upload(client, auth_headers, b"\0" * (MAX_UPLOAD + 10), "big.png")
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_oversize_json_body_is_413(client, auth_headers):
    response = client.post(
        "/api/images/1/process",
        content=b'{"operations": [' + b" " * 2_000_000 + b"]}",
        headers={**auth_headers, "Content-Type": "application/json"},
    )
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_rejected_uploads_are_counted(client, auth_headers):
    upload(client, auth_headers, b"not an image", "x.png")
    metrics = client.get("/metrics", headers=OPS).text
    assert 'nogilbench_uploads_rejected_total{error_code="UNSUPPORTED_MEDIA_TYPE"} 1.0' in metrics


def test_missing_file_field_is_422(client, auth_headers):
    response = client.post(
        "/api/images/upload", files={"other": ("a.png", image_bytes())}, headers=auth_headers
    )
    assert_envelope(response, 422, "VALIDATION_ERROR")
