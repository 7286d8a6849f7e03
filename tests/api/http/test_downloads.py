"""Download headers: Content-Length, a SHA-256 ETag, single byte ranges, vanished files."""

from __future__ import annotations

import hashlib

import pytest

from tests.support.api import assert_envelope

PIPELINE = {"operations": [{"op": "grayscale"}], "format": "png"}


@pytest.fixture
def processed(client, auth_headers, uploaded) -> str:
    response = client.post(
        f"/api/images/{uploaded['id']}/process", json=PIPELINE, headers=auth_headers
    )
    assert response.status_code == 200, response.text
    return f"/api/images/{uploaded['id']}/download"


def test_full_download_has_length_and_content_hash(client, auth_headers, processed):
    response = client.get(processed, headers=auth_headers)
    assert response.status_code == 200
    body = response.content
    assert response.headers["content-length"] == str(len(body))
    assert response.headers["etag"] == f'"sha256-{hashlib.sha256(body).hexdigest()}"'
    assert response.headers["accept-ranges"] == "bytes"
    assert "transfer-encoding" not in response.headers


def test_single_ranges(client, auth_headers, processed):
    body = client.get(processed, headers=auth_headers).content
    size = len(body)
    for header, expected, first, last in [
        ("bytes=0-9", body[:10], 0, 9),
        ("bytes=10-", body[10:], 10, size - 1),
        ("bytes=-7", body[-7:], size - 7, size - 1),
        (f"bytes=5-{size + 100}", body[5:], 5, size - 1),
    ]:
        part = client.get(processed, headers={**auth_headers, "Range": header})
        assert part.status_code == 206, header
        assert part.content == expected
        assert part.headers["content-range"] == f"bytes {first}-{last}/{size}"
        assert part.headers["content-length"] == str(len(expected))


def test_range_past_the_end_is_416(client, auth_headers, processed):
    size = len(client.get(processed, headers=auth_headers).content)
    response = client.get(processed, headers={**auth_headers, "Range": f"bytes={size}-"})
    assert_envelope(response, 416, "RANGE_NOT_SATISFIABLE")
    assert response.headers["content-range"] == f"bytes */{size}"


@pytest.mark.parametrize("header", ["bytes=0-1,4-5", "items=0-3", "bytes=5-2x", "bytes=-"])
def test_other_range_headers_get_the_whole_file(client, auth_headers, processed, header):
    whole = client.get(processed, headers=auth_headers).content
    response = client.get(processed, headers={**auth_headers, "Range": header})
    assert response.status_code == 200 and response.content == whole


def test_if_range_with_another_etag_gets_the_whole_file(client, auth_headers, processed):
    whole = client.get(processed, headers=auth_headers)
    stale = {**auth_headers, "Range": "bytes=0-3", "If-Range": '"sha256-0"'}
    assert client.get(processed, headers=stale).status_code == 200
    current = {**auth_headers, "Range": "bytes=0-3", "If-Range": whole.headers["etag"]}
    assert client.get(processed, headers=current).status_code == 206


def test_output_gone_from_disk_is_an_error_not_a_broken_200(
    client, app, auth_headers, uploaded, processed
):
    record = client.get(f"/api/images/{uploaded['id']}", headers=auth_headers).json()
    assert record["status"] == "processed"
    for path in app.state.services.outputs.root.iterdir():
        path.unlink()
    assert_envelope(client.get(processed, headers=auth_headers), 409, "IMAGE_NOT_PROCESSED")
