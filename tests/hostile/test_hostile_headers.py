"""Hostile headers and methods against a live uvicorn (SQLite and PostgreSQL): every header is
parsed within a bound, `/metrics` label values stay a fixed set, and a one-byte Range request
costs the same on a large file as on a small one."""

from __future__ import annotations

import io
import os
import socket
import statistics
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from tests.support.auth_server import (
    DATABASES,
    OPS_TOKEN,
    Shared,
    assert_envelope,
    bearer,
    client,
    database_for,
    live_server,
    png,
    shared_server,
    user,
)

DIGITS = "9" * 5000
HUGE_RANGES = [
    f"bytes=0-{DIGITS}",  # last byte
    f"bytes={DIGITS}-",  # first byte
    f"bytes=-{DIGITS}",  # suffix
    f"bytes={DIGITS}-{DIGITS}",
    f"bytes=0-{'0' * 5000}1",
    "bytes=" + ",".join(["0-1"] * 2000),
]
GREY = {"operations": [{"op": "grayscale"}], "format": "png"}


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """For the tests that need settings of their own (and so a server of their own)."""
    return database_for(request, tmp_path)


@pytest.fixture(scope="module", params=DATABASES)
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    with shared_server(request, tmp_path_factory.mktemp("shared")) as running:
        yield running


def _processed(http: httpx.Client, headers: dict[str, str], data: bytes, pipeline=GREY) -> int:
    files = {"file": ("a.png", data, "image/png")}
    uploaded = http.post("/api/images/upload", files=files, headers=headers)
    assert uploaded.status_code == 201, uploaded.text
    image_id = uploaded.json()["id"]
    processed = http.post(f"/api/images/{image_id}/process", json=pipeline, headers=headers)
    assert processed.status_code == 200, processed.text
    return int(image_id)


def _open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_huge_range_headers_get_an_answer_not_a_500(shared: Shared) -> None:
    server = shared.server
    with client(server) as http:
        headers = user(http, "range@example.com")
        image_id = _processed(http, headers, png())
        url = f"/api/images/{image_id}/download"
        whole = http.get(url, headers=headers)
        assert whole.status_code == 200
        assert server.process is not None
        for _ in range(3):  # the server's own first-request allocations
            http.get(url, headers={**headers, "Range": HUGE_RANGES[0]})
        files_before = _open_files(server.process.pid)
        for _ in range(5):
            for value in HUGE_RANGES:
                response = http.get(url, headers={**headers, "Range": value})
                if response.status_code == 416:
                    assert_envelope(response, 416, "RANGE_NOT_SATISFIABLE")
                    assert response.headers["content-range"] == f"bytes */{len(whole.content)}"
                else:  # ignored, as RFC 9110 allows: the whole file
                    assert response.status_code == 200, (value[:20], response.text[:300])
                    assert response.content == whole.content
        # Every opened file was closed again, on every path: 15 requests that each leaked a
        # file would add 15; the slack is the server's own lazily opened descriptors (its
        # database pool grows by a connection under load).
        assert _open_files(server.process.pid) <= files_before + 2
        assert "Traceback" not in server.log(200_000)


def _raw_request(port: int, head: str, body: bytes = b"") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        return reply


def test_other_huge_headers_are_bounded(shared: Shared) -> None:
    server = shared.server
    with client(server) as http:
        headers = user(http, "headers@example.com")
        image_id = _processed(http, headers, png())
        url = f"/api/images/{image_id}/download"
        # If-Range that is not this version's ETag: the whole file.
        response = http.get(url, headers={**headers, "Range": "bytes=0-0", "If-Range": DIGITS})
        assert response.status_code == 200
        # A request id the server does not accept is replaced by its own.
        response = http.get("/auth/me", headers={**headers, "X-Request-ID": "a" * 5000})
        assert response.status_code == 200 and len(response.headers["x-request-id"]) <= 64
        assert_envelope(http.get("/auth/me", headers=bearer("a" * 5000)), 401, "INVALID_TOKEN")
        # A multipart boundary of 5000 characters.
        boundary = "b" * 5000
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"'
                f"\r\nContent-Type: image/png\r\n\r\n"
            ).encode()
            + png()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        response = http.post(
            "/api/images/upload",
            content=body,
            headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert response.status_code in (201, 413, 422), response.text
        if response.status_code != 201:
            assert set(response.json()) <= {"error_code", "message", "details"}
        # A Content-Length of 5000 digits: refused before the body is read, never a 500.
        reply = _raw_request(
            server.port,
            "\r\n".join([
                "POST /auth/login HTTP/1.1",
                f"Host: 127.0.0.1:{server.port}",
                "Content-Type: application/x-www-form-urlencoded",
                f"Content-Length: {DIGITS}",
                "Connection: close",
            ]),
            b"username=a&password=b",
        )  # fmt: skip
        status = int(reply.split(b" ", 2)[1])
        assert 400 <= status < 500, reply[:300]
        assert "Traceback" not in server.log(200_000)


# -- 8: /metrics label values are a fixed set ----------------------------------------------

KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}


def _labels(text: str, label: str) -> set[str]:
    values = set()
    for family in text_string_to_metric_families(text):
        if family.name.startswith("nogilbench_http_request"):
            values |= {sample.labels[label] for sample in family.samples if label in sample.labels}
    return values


def test_invented_methods_and_paths_do_not_grow_metrics(shared: Shared) -> None:
    server = shared.server
    with client(server) as http:
        ops = bearer(OPS_TOKEN)
        for _ in range(3):
            http.get("/health")
            http.get("/no/such/path")
        before = http.get("/metrics", headers=ops).text
        for n in range(60):
            response = http.request(f"INVENTED{n}", "/health")
            assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
            assert_envelope(http.get(f"/no/such/path/{n}"), 404, "NOT_FOUND")
            http.request(f"X{n}", f"/nowhere/{n}")
        after = http.get("/metrics", headers=ops).text
        assert _labels(after, "method") <= KNOWN_METHODS, _labels(after, "method")
        routes = _labels(after, "route")
        assert not [route for route in routes if "/no/such" in route or "/nowhere" in route]
        print(f"/metrics: {len(before)} bytes before 180 hostile requests, {len(after)} after")
        assert len(after) < len(before) + 8_000  # a few new series, not one per request


# -- suspected: every download hashes the whole file -----------------------------------------


def _random_jpeg(size: tuple[int, int]) -> bytes:
    """Random pixels: JPEG cannot shrink them much, so the file is large for its pixels."""
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


@pytest.mark.slow
def test_a_range_request_does_not_cost_the_whole_file(database_url: str, tmp_path: Path) -> None:
    env = {"MAX_UPLOAD_BYTES": str(40 * 2**20), "MAX_PIXELS": str(25_000_000)}
    with live_server(tmp_path, database_url, **env) as server, client(server) as http:
        headers = user(http, "ada@example.com")
        rotate = {"operations": [{"op": "rotate", "angle": 180}], "format": "jpeg", "quality": 95}
        large = _processed(http, headers, _random_jpeg((6000, 4000)), rotate)  # ~26 MiB out
        small = _processed(http, headers, png((8, 8)), rotate)
        probe = http.get(f"/api/images/{large}/download", headers={**headers, "Range": "bytes=0-0"})
        size = int(probe.headers["content-range"].rsplit("/", 1)[1])
        assert size > 20 * 2**20, size

        def one_byte(image_id: int) -> float:
            started = time.perf_counter()
            response = http.get(
                f"/api/images/{image_id}/download", headers={**headers, "Range": "bytes=0-0"}
            )
            assert response.status_code == 206 and len(response.content) == 1
            return time.perf_counter() - started

        for _ in range(3):
            one_byte(large), one_byte(small)
        large_times, small_times = [], []
        for _ in range(15):  # interleaved: both see the same background load
            large_times.append(one_byte(large))
            small_times.append(one_byte(small))
    ratio = statistics.median(large_times) / statistics.median(small_times)
    print(f"one byte of a {size / 2**20:.0f} MiB file vs of a tiny one: x{ratio:.2f} "
          f"({statistics.median(large_times) * 1000:.1f} ms vs "
          f"{statistics.median(small_times) * 1000:.1f} ms)")  # fmt: skip
    assert ratio < 2
