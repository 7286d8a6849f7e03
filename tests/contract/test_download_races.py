"""Downloads are all or nothing, against a real uvicorn on loopback.

50 parallel downloads of a processed image run while the image is processed again (its output
replaced) and then deleted; 50 more of a batch job's zip run while the archive is replaced and
then removed. Every 200 must carry exactly the bytes of one stored version (its SHA-256 equal to
that version's, to the ETag, and its length to Content-Length); every other answer must be an
error status with the envelope, never a 200 cut short.
"""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.api import seed, wait_for_job
from tests.support.images import random_png
from tests.support.servers import contract_server, live_server

DOWNLOADS = 50
PIPELINES = [
    {"operations": [{"op": "grayscale"}], "format": "png"},
    {"operations": [{"op": "blur", "radius": 2}], "format": "png"},
]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Streaming:
    """Set once a third of the downloads are streaming their bodies."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()
        self.enough = threading.Event()

    def started(self) -> None:
        with self.lock:
            self.count += 1
            if self.count >= DOWNLOADS // 3:
                self.enough.set()


def _download(
    base: str, path: str, headers: dict[str, str], streaming: Streaming, delay: float
) -> tuple[int, dict, bytes]:
    """A slow reader, starting after `delay`: bodies are streaming, and new requests arriving,
    while the file is replaced and deleted."""
    time.sleep(delay)
    with (
        httpx.Client(base_url=base, headers=headers, timeout=60) as client,
        client.stream("GET", path) as response,
    ):
        chunks = []
        for chunk in response.iter_bytes(32 * 1024):
            if not chunks:
                streaming.started()
            chunks.append(chunk)
            time.sleep(0.03)
        return response.status_code, dict(response.headers), b"".join(chunks)


def _race(
    base: str, path: str, headers: dict[str, str], mutate: Callable[[], None]
) -> list[tuple[int, dict, bytes]]:
    """DOWNLOADS parallel GETs of `path`; `mutate` starts while a third of them stream."""
    streaming = Streaming()

    def mutator() -> None:
        streaming.enough.wait(60)
        mutate()

    worker = threading.Thread(target=mutator)
    worker.start()
    with ThreadPoolExecutor(max_workers=DOWNLOADS) as pool:
        futures = [
            pool.submit(_download, base, path, headers, streaming, index * 0.02)
            for index in range(DOWNLOADS)
        ]
        results = [future.result() for future in futures]
    worker.join()
    return results


def _check(results: list[tuple[int, dict, bytes]], versions: set[str], errors: set[int]) -> None:
    statuses: dict[int, int] = {}
    for status, headers, body in results:
        statuses[status] = statuses.get(status, 0) + 1
        if status == 200:
            digest = _sha(body)
            assert digest in versions, "a 200 whose body is no stored version (cut short?)"
            assert headers["etag"] == f'"sha256-{digest}"'
            assert int(headers["content-length"]) == len(body)
        else:
            assert status in errors, (status, body[:200])
            envelope = httpx.Response(status, content=body).json()
            assert set(envelope) >= {"error_code", "message"}, envelope
    assert statuses.get(200), statuses  # the race began while the file was there
    print(f"statuses: {statuses}")


@pytest.mark.slow
def test_downloads_survive_replace_and_delete(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    server = contract_server(sys.executable, tmp_path, url, MAX_UPLOAD_BYTES="4000000")
    with live_server(server) as base:
        start = seed(base)
        headers = {"Authorization": f"Bearer {start.access_token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            image = client.post(
                "/api/images/upload", files={"file": ("noise.png", random_png(), "image/png")}
            ).json()
            image_path = f"/api/images/{image['id']}"
            versions = set()
            for pipeline in PIPELINES:  # each pipeline's output, as stored
                assert client.post(f"{image_path}/process", json=pipeline).status_code == 200
                versions.add(_sha(client.get(f"{image_path}/download").content))
            assert len(versions) == 2

            def replace_then_delete_image() -> None:
                client.post(f"{image_path}/process", json=PIPELINES[0])
                assert client.delete(image_path).status_code == 204

            results = _race(base, f"{image_path}/download", headers, replace_then_delete_image)
            _check(results, versions, errors={404})
            assert client.get(f"{image_path}/download").status_code == 404

            batch = {"image_ids": [start.image_id], "pipeline": PIPELINES[0], "workers": 1}
            job_id = client.post("/api/jobs/batch", json=batch).json()["job_id"]
            assert wait_for_job(client, {}, job_id, timeout=120)["status"] == "completed"
            result_path = f"/api/jobs/{job_id}/result"
            first = client.get(result_path).content
            # This job's own file: the seeded job's zip of the same image and pipeline can
            # have the very same bytes (zip times have a 2-second resolution).
            with sqlite3.connect(tmp_path / "api.db") as connection:
                (name,) = connection.execute(
                    "SELECT result_name FROM jobs WHERE id = ?", (job_id,)
                ).fetchone()
            archive = tmp_path / "data" / "results" / name
            assert archive.read_bytes() == first
            replacement = io.BytesIO()
            with zipfile.ZipFile(replacement, "w") as bundle:
                bundle.writestr("replaced.bin", os.urandom(2_000_000))
            versions = {_sha(first), _sha(replacement.getvalue())}

            def replace_then_delete_result() -> None:
                staged = archive.with_name(".tmp-replacement")
                staged.write_bytes(replacement.getvalue())
                os.replace(staged, archive)  # how the store writes: a rename over the file
                time.sleep(0.2)
                archive.unlink()

            results = _race(base, result_path, headers, replace_then_delete_result)
            _check(results, versions, errors={410})
            gone = client.get(result_path)
            assert gone.status_code == 410 and gone.json()["error_code"] == "RESULT_GONE"
