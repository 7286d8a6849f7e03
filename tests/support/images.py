"""Images for the tests, made here: encoded bytes, noise, a decompression bomb, sample files."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path
from typing import Any

from PIL import Image

from nogilbench.imaging.samples import generate_images

TINY_SIZE = (64, 48)


def encode(image: Image.Image, fmt: str = "PNG", **save: Any) -> bytes:
    """`image` as a file of format `fmt` (Pillow's name: PNG, JPEG, GIF, TIFF, ...)."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def image_bytes(
    size: tuple[int, int] = (64, 48),
    fmt: str = "PNG",
    color: tuple[int, int, int] = (200, 40, 40),
    **save: Any,
) -> bytes:
    """A flat-coloured RGB image."""
    return encode(Image.new("RGB", size, color), fmt, **save)


def noise_bytes(size: tuple[int, int] = (320, 240), sigma: float = 50, fmt: str = "PNG") -> bytes:
    """Pillow's Gaussian noise around grey, as RGB: real work for every operation, and a
    different image for each `sigma`."""
    return encode(Image.effect_noise(size, sigma).convert("RGB"), fmt)


def random_png(width: int = 700, height: int = 500) -> bytes:
    """Random pixels: a PNG that does not compress (about 3 bytes per pixel on disk)."""
    return encode(Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)))


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk: length, type, data and its CRC."""
    crc = struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    return struct.pack(">I", len(payload)) + kind + payload + crc


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid-looking PNG of a few hundred bytes whose header declares width x height RGB
    pixels (a decompression bomb): only one row of data, since nothing past the header may
    ever be decoded."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\x00" * (1 + 3 * min(width, 4096)), 9)
    chunks = png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def tiny_images(directory: Path, count: int = 4) -> list[str]:
    """`count` of the library's sample images at TINY_SIZE in `directory`, as paths."""
    return [str(path) for path in generate_images(directory, count, TINY_SIZE)]
