"""Helpers shared by the API tests (plain functions; fixtures live in conftest.py)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image

from api.core.settings import Settings

PASSWORD = "correct horse battery"
SECRET = "test-secret-key-" + "0123456789abcdef" * 4  # 80 bytes: long enough for HS512
MAX_UPLOAD = 300_000
MAX_PIXELS = 2_000_000
OPS_TOKEN = "ops-token-" + "fedcba9876543210" * 3  # opens /metrics and /api/system
OPS = {"Authorization": f"Bearer {OPS_TOKEN}"}


def make_settings(db_url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": db_url,
        "data_dir": data_dir,
        "secret_key": SECRET,
        "bcrypt_rounds": 4,
        "max_upload_bytes": MAX_UPLOAD,
        "max_pixels": MAX_PIXELS,
        "cpu_workers": 2,
        "job_concurrency": 2,
        "sse_poll_seconds": 0.05,
        "operations_token": OPS_TOKEN,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def register(client: TestClient, email: str, password: str = PASSWORD) -> dict:
    response = client.post("/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    return response.json()


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict:
    response = client.post("/auth/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def promote(settings: Settings, email: str, action: str = "promote") -> None:
    """Make `email` an operator the way an administrator does (python -m api.admin)."""
    from api.admin import change_user

    change_user(str(settings.database_url), action, email)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def image_bytes(
    size: tuple[int, int] = (64, 48), fmt: str = "PNG", color: tuple = (200, 40, 40), **save
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def upload(
    client: TestClient,
    headers: dict[str, str],
    data: bytes | None = None,
    filename: str = "photo.png",
    content_type: str = "image/png",
):
    return client.post(
        "/api/images/upload",
        files={"file": (filename, data if data is not None else image_bytes(), content_type)},
        headers=headers,
    )


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid-looking PNG of a few hundred bytes whose header declares width x height pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    # One compressed row of zeros is plenty: nothing past the header may ever be decoded.
    body = zlib.compress(b"\x00" * min(1 + width * 3, 65536), 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", body)
        + _chunk(b"IEND", b"")
    )


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= {"error_code", "message", "details"}
    return body
