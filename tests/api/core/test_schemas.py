"""Bounded integers (api.core.schemas): ids and offsets beyond 64 bits, in paths, queries and
bodies, are a 422 or a 400, never a driver's overflow; the largest valid id reaches the
database."""

from __future__ import annotations

import pytest

from api.core.schemas import MAX_ID, MAX_OFFSET
from tests.support.api import assert_envelope

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
