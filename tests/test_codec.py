"""Decoding untrusted bytes: allow-list, bombs, corrupt data, odd modes, metadata."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from nogilbench.errors import ImageTooLarge, UnsupportedImage
from nogilbench.imaging.codec import decode_image, encode_image
from tests.support.images import png_bytes


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header declares width x height pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def jpeg_bytes(image: Image.Image, **save: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **save)
    return buffer.getvalue()


def test_bomb_refused_from_header() -> None:
    data = bomb_png()
    assert len(data) < 2000
    with pytest.raises(ImageTooLarge, match="too many pixels"):
        decode_image(data)
    # Below Pillow's own limit but above ours: refused by our check, from the header alone.
    with pytest.raises(ImageTooLarge, match="8000x8000 = 64,000,000 pixels"):
        decode_image(bomb_png(8000, 8000))


@pytest.mark.parametrize("data", [b"", b"hello, I am text pretending to be a png", b"GIF89a\x00"])
def test_not_images(data: bytes) -> None:
    with pytest.raises(UnsupportedImage):
        decode_image(data)


def test_truncated_jpeg() -> None:
    data = jpeg_bytes(Image.new("RGB", (256, 256), (1, 2, 3)))
    with pytest.raises(UnsupportedImage, match="truncated or corrupt"):
        decode_image(data[: len(data) // 2])


def test_disallowed_format_refused() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PPM")
    with pytest.raises(UnsupportedImage, match="allowed format"):
        decode_image(buffer.getvalue())


@pytest.mark.parametrize(
    "image,expected_mode",
    [
        (Image.new("CMYK", (16, 16), (0, 255, 0, 0)), "RGB"),
        (Image.new("I;16", (16, 16), 40000), "L"),
        (Image.new("P", (16, 16), 3), "RGB"),
    ],
)
def test_modes_normalised(image: Image.Image, expected_mode: str) -> None:
    fmt = "JPEG" if image.mode == "CMYK" else "PNG"
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    decoded = decode_image(buffer.getvalue()).image
    assert decoded.mode == expected_mode
    if image.mode == "I;16":
        assert decoded.getpixel((0, 0)) == 40000 // 256  # scaled, not clipped


def test_exif_orientation_applied_and_metadata_stripped() -> None:
    image = Image.new("RGB", (40, 20), (9, 9, 9))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 on display
    exif[0x010F] = "SecretCam"
    data = jpeg_bytes(image, exif=exif.tobytes())
    decoded = decode_image(data).image
    assert decoded.size == (20, 40)
    encoded = encode_image(decoded, "jpeg")
    assert b"SecretCam" not in encoded
    assert not Image.open(io.BytesIO(encoded)).getexif()


def test_animated_gif_first_frame() -> None:
    frames = [Image.new("P", (10, 10), i) for i in range(30)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    assert decode_image(buffer.getvalue()).image.size == (10, 10)


def test_png_roundtrip_small() -> None:
    assert decode_image(png_bytes()).source_format == "PNG"
