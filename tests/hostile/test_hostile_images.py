"""A corpus of bad and unusual images, generated here, through upload -> process -> download.

Each file gets its documented error (413 PAYLOAD_TOO_LARGE, 415 UNSUPPORTED_MEDIA_TYPE) or a
correct result, never a 500; afterwards the database and the storage folders agree exactly:
one row per acknowledged upload, one file per row, no temp or orphaned file.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import text

from api.core.settings import Settings
from api.main import create_app
from tests.support.images import bomb_png, encode, png_chunk

MAX_PIXELS = 2_000_000
PASSWORD = "hostile-images-password"
PIPELINE = {"operations": [{"op": "thumbnail", "max_size": 96}], "format": "png"}


def decompression_bomb() -> bytes:
    """A complete, valid PNG: 12 megapixels of zeros that compress to a few kilobytes."""
    return encode(Image.new("L", (4000, 3000)), "PNG", optimize=True)


def truncated_jpeg() -> bytes:
    data = encode(Image.effect_noise((256, 256), 60).convert("RGB"), "JPEG", quality=90)
    return data[: len(data) // 2]


def corrupt_png() -> bytes:
    """A PNG whose pixel data chunk is garbage (CRC fixed, so only the zlib stream is bad)."""
    data = encode(Image.new("RGB", (64, 64), (1, 2, 3)), "PNG")
    start = data.index(b"IDAT") - 4
    length = struct.unpack(">I", data[start : start + 4])[0]
    end = start + 12 + length
    return data[:start] + png_chunk(b"IDAT", b"\x78\x9c" + b"\xff" * 40) + data[end:]


def animated_gif(frames: int = 120) -> bytes:
    images = [Image.new("P", (64, 48), color=index % 256) for index in range(frames)]
    return encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=20, loop=0)


def cmyk_jpeg() -> bytes:
    return encode(Image.new("CMYK", (80, 60), (0, 255, 255, 0)), "JPEG", quality=90)


def sixteen_bit_png() -> bytes:
    image = Image.new("I;16", (70, 50))
    image.putdata([(x * 900) % 65536 for x in range(70 * 50)])
    return encode(image, "PNG")


def sixteen_bit_tiff() -> bytes:
    return encode(Image.new("I;16", (40, 30), 40000), "TIFF")


def exif_rotated_jpeg() -> bytes:
    """Stored 120 x 60, EXIF orientation 6 (rotate 90 clockwise to display): upright 60 x 120."""
    image = Image.new("RGB", (120, 60), (200, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(image, "JPEG", exif=exif.tobytes(), quality=90)


def palette_png_with_transparency() -> bytes:
    image = Image.new("P", (32, 32), 0)
    return encode(image, "PNG", transparency=0)


def jpeg_named_png() -> bytes:
    return encode(Image.new("RGB", (50, 40), (9, 9, 9)), "JPEG")


# name -> (file name, bytes factory, expected upload status, error code or upright size)
CORPUS: dict[str, tuple[str, Callable[[], bytes], int, str | tuple[int, int]]] = {
    "truncated-jpeg": ("cut.jpg", truncated_jpeg, 415, "UNSUPPORTED_MEDIA_TYPE"),
    "corrupt-png-data": ("corrupt.png", corrupt_png, 415, "UNSUPPORTED_MEDIA_TYPE"),
    "png-huge-declared-size": (
        "huge.png",
        lambda: bomb_png(60_000, 60_000),
        413,
        "PAYLOAD_TOO_LARGE",
    ),
    "decompression-bomb": ("bomb.png", decompression_bomb, 413, "PAYLOAD_TOO_LARGE"),
    "zero-bytes": ("empty.png", lambda: b"", 415, "UNSUPPORTED_MEDIA_TYPE"),
    "text-named-png": (
        "notes.png",
        lambda: b"just some text, not an image\n" * 40,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    ),
    "animated-gif-120-frames": ("anim.gif", animated_gif, 201, (64, 48)),
    "cmyk-jpeg": ("cmyk.jpg", cmyk_jpeg, 201, (80, 60)),
    "16-bit-png": ("deep.png", sixteen_bit_png, 201, (70, 50)),
    "16-bit-tiff": ("deep.tif", sixteen_bit_tiff, 201, (40, 30)),
    "exif-rotated-jpeg": ("rotated.jpg", exif_rotated_jpeg, 201, (60, 120)),
    "palette-png-transparent": ("pal.png", palette_png_with_transparency, 201, (32, 32)),
    "jpeg-named-png": ("lies.png", jpeg_named_png, 201, (50, 40)),
}


@pytest.fixture
def hostile_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=f"sqlite:///{tmp_path / 'api.db'}",
        data_dir=tmp_path / "data",
        secret_key="hostile-images-secret-" + "0123456789abcdef" * 4,
        bcrypt_rounds=4,
        max_upload_bytes=2_000_000,
        max_pixels=MAX_PIXELS,
        cpu_workers=2,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        email = "corpus@example.com"
        client.post("/auth/register", json={"email": email, "password": PASSWORD})
        token = client.post("/auth/login", data={"username": email, "password": PASSWORD})
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield client


def assert_storage_consistent(client: TestClient, uploaded: int, processed: int) -> None:
    """Exactly one file per reference and one reference per file: no orphan, no temp file."""
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.database.engine.connect() as connection:
        rows = connection.execute(text("SELECT stored_name, processed_name FROM images")).all()
        job_outputs = connection.execute(
            text("SELECT output_name FROM job_items WHERE output_name IS NOT NULL")
        ).all()
        results = connection.execute(
            text("SELECT result_name FROM jobs WHERE result_name IS NOT NULL")
        ).all()
    uploads = sorted(path.name for path in services.uploads.root.iterdir())
    outputs = sorted(path.name for path in services.outputs.root.iterdir())
    archives = sorted(path.name for path in services.results.root.iterdir())
    assert len(rows) == uploaded
    assert uploads == sorted(row.stored_name for row in rows)  # no temp file, no orphan
    assert outputs == sorted(
        [row.processed_name for row in rows if row.processed_name]
        + [row.output_name for row in job_outputs]
    )
    assert archives == sorted(row.result_name for row in results)
    assert len(outputs) - len(job_outputs) == processed


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_bad_image_gets_documented_answer(hostile_client: TestClient, case: str) -> None:
    filename, make, expected, outcome = CORPUS[case]
    data = make()
    response = hostile_client.post(
        "/api/images/upload", files={"file": (filename, data, "application/octet-stream")}
    )
    assert response.status_code == expected, response.text
    if expected != 201:
        body = response.json()
        assert body["error_code"] == outcome and body["message"], body
        assert_storage_consistent(hostile_client, uploaded=0, processed=0)
        return
    record = response.json()
    assert (record["width"], record["height"]) == outcome  # upright, first frame
    processed = hostile_client.post(f"/api/images/{record['id']}/process", json=PIPELINE)
    assert processed.status_code == 200, processed.text
    download = hostile_client.get(f"/api/images/{record['id']}/download")
    assert download.status_code == 200 and download.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(download.content)) as result:
        assert result.format == "PNG"
        assert getattr(result, "n_frames", 1) == 1
        assert result.mode in ("RGB", "RGBA", "L")
        width, height = outcome
        scale = min(1.0, 96 / max(width, height))
        assert result.size == (max(1, round(width * scale)), max(1, round(height * scale)))
        assert not result.getexif()  # no metadata survives (orientation applied, then dropped)
    assert_storage_consistent(hostile_client, uploaded=1, processed=1)


def test_whole_corpus_leaves_exactly_the_accepted_images(hostile_client: TestClient) -> None:
    accepted = 0
    for filename, make, expected, _ in CORPUS.values():
        response = hostile_client.post(
            "/api/images/upload", files={"file": (filename, make(), "image/png")}
        )
        assert response.status_code == expected, (filename, response.text)
        accepted += expected == 201
    listing = hostile_client.get("/api/images/", params={"limit": 200}).json()
    assert len(listing) == accepted
    assert_storage_consistent(hostile_client, uploaded=accepted, processed=0)


def test_concurrent_processing_of_one_image_leaves_one_output(
    hostile_client: TestClient,
) -> None:
    """Racing `process` calls (and a delete after them): every superseded output is removed."""
    response = hostile_client.post(
        "/api/images/upload", files={"file": ("a.png", CORPUS["16-bit-png"][1](), "image/png")}
    )
    assert response.status_code == 201, response.text
    image_id = response.json()["id"]
    url = f"/api/images/{image_id}/process"
    formats = ["png", "webp", "jpeg"] * 4

    def process(fmt: str) -> Any:
        return hostile_client.post(url, json={**PIPELINE, "format": fmt})

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(process, formats))
    assert [answer.status_code for answer in answers] == [200] * len(formats)
    assert_storage_consistent(hostile_client, uploaded=1, processed=1)
    assert hostile_client.get(f"/api/images/{image_id}/download").status_code == 200
    assert hostile_client.delete(f"/api/images/{image_id}").status_code == 204
    assert_storage_consistent(hostile_client, uploaded=0, processed=0)
