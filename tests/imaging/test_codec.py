"""Decoding untrusted bytes: allow-list, bombs, corrupt data, odd modes, metadata."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from nogilbench.errors import ImageTooLarge, UnsupportedImage
from nogilbench.imaging.codec import decode_image, encode_image
from tests.support.images import bomb_png, encode, image_bytes


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
    data = encode(Image.new("RGB", (256, 256), (1, 2, 3)), "JPEG")
    with pytest.raises(UnsupportedImage, match="truncated or corrupt"):
        decode_image(data[: len(data) // 2])


def test_disallowed_format_refused() -> None:
    with pytest.raises(UnsupportedImage, match="allowed format"):
        decode_image(encode(Image.new("RGB", (8, 8)), "PPM"))


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
    decoded = decode_image(encode(image, fmt)).image
    assert decoded.mode == expected_mode
    if image.mode == "I;16":
        assert decoded.getpixel((0, 0)) == 40000 // 256  # scaled, not clipped


def test_exif_orientation_applied_and_metadata_stripped() -> None:
    image = Image.new("RGB", (40, 20), (9, 9, 9))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 on display
    exif[0x010F] = "SecretCam"
    data = encode(image, "JPEG", exif=exif.tobytes())
    decoded = decode_image(data).image
    assert decoded.size == (20, 40)
    encoded = encode_image(decoded, "jpeg")
    assert b"SecretCam" not in encoded
    assert not Image.open(io.BytesIO(encoded)).getexif()


def test_animated_gif_first_frame() -> None:
    frames = [Image.new("P", (10, 10), i) for i in range(30)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert decode_image(data).image.size == (10, 10)


def test_png_roundtrip_small() -> None:
    assert decode_image(image_bytes((32, 24), color=(10, 20, 30))).source_format == "PNG"
