"""Small shared helpers for the library tests (plain functions, imported by test modules)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from nogilbench.imaging.samples import generate_images

TINY_SIZE = (64, 48)


def tiny_images(directory: Path, count: int = 4) -> list[str]:
    return [str(path) for path in generate_images(directory, count, TINY_SIZE)]


def png_bytes(size: tuple[int, int] = (32, 24), mode: str = "RGB", **save: object) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 128 if mode in ("L", "I;16") else (10, 20, 30)).save(
        buffer, format="PNG", **save
    )
    return buffer.getvalue()
