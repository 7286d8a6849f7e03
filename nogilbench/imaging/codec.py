"""Decoding untrusted bytes into a normalised image, and encoding without metadata.

Decoding checks the format (sniffed from the bytes, not the file name) against an
allow-list and the declared pixel count before any pixel is decoded, so a
decompression bomb is refused from its header alone. A JPEG's scans are counted from its
markers first too: each scan makes libjpeg walk the whole image again, so a small file of
thousands of empty scans would hold a CPU for minutes (Pillow has no setting for this;
libjpeg-turbo's own tools stop at a scan limit for the same reason).
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from nogilbench.errors import ImageTooLarge, UnsupportedImage

ALLOWED_INPUT_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP"})
OUTPUT_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
DEFAULT_MAX_PIXELS = 40_000_000  # ~ 7700 x 5200; larger uploads are refused, not decoded
# Encoders write 1 scan (baseline) to about 10 (libjpeg's progressive script; mozjpeg a few
# more); libjpeg-turbo's tools suggest refusing past a few hundred. 100 leaves room for
# unusual scripts and bounds the work to 100 passes over the image.
MAX_JPEG_SCANS = 100
_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RSTn: no length field
# In entropy-coded data 0xFF is followed by 0x00 (a stuffed byte) or RSTn; anything else
# (fill bytes 0xFF aside) is the next marker.
_NEXT_MARKER = re.compile(rb"\xff(?!\x00)(?!\xff)(?![\xd0-\xd7])")


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image
    source_format: str


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Decode bytes to an RGB/RGBA/L image, upright (EXIF orientation applied), first frame."""
    if not data:
        raise UnsupportedImage("the file is empty")
    try:
        with warnings.catch_warnings():
            # Pillow warns (and past 2x its own limit raises) on huge images; we check ourselves.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=sorted(ALLOWED_INPUT_FORMATS))
    except Image.DecompressionBombError as exc:  # so large that Pillow refuses it outright
        raise ImageTooLarge(f"image declares too many pixels; the limit is {max_pixels:,}") from exc
    except UnidentifiedImageError as exc:
        raise UnsupportedImage(
            f"not an image in an allowed format ({', '.join(sorted(ALLOWED_INPUT_FORMATS))})"
        ) from exc
    source_format = image.format or "unknown"
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"image declares {width}x{height} = {width * height:,} pixels; "
            f"the limit is {max_pixels:,}"
        )
    if source_format in ("JPEG", "MPO"):
        scans = jpeg_scan_count(data, MAX_JPEG_SCANS + 1)
        if scans > MAX_JPEG_SCANS:
            raise ImageTooLarge(
                f"the JPEG has more than {MAX_JPEG_SCANS} scans; at most {MAX_JPEG_SCANS} are "
                "decoded (each one is a pass over the whole image)"
            )
    try:
        image.seek(0)
        image.load()
        image = ImageOps.exif_transpose(image) or image
        image = _normalise_mode(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise UnsupportedImage(f"the {source_format} data is truncated or corrupt: {exc}") from exc
    return DecodedImage(image, source_format)


def jpeg_scan_count(data: bytes, stop_at: int) -> int:
    """Scans (SOS markers) of the JPEG's first image, counted from its markers without
    decoding; counting stops at `stop_at`. Segments are skipped by their lengths and
    entropy-coded data up to the next marker, so bytes inside them never count."""
    position, scans = 2, 0  # past SOI
    end = len(data)
    while position + 1 < end and scans < stop_at:
        if data[position] != 0xFF:
            position += 1  # junk between segments: libjpeg skips it too
            continue
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        position += 2
        if marker == _EOI:
            break
        if marker in _STANDALONE or marker == _SOI:
            continue
        if position + 2 > end:
            break
        (length,) = struct.unpack_from(">H", data, position)
        position += length
        if marker == _SOS:
            scans += 1
            found = _NEXT_MARKER.search(data, position)
            position = end if found is None else found.start()
    return scans


def _normalise_mode(image: Image.Image) -> Image.Image:
    """CMYK, 16-bit, palette and other modes become RGB/RGBA/L so every operation works."""
    if image.mode in ("RGB", "RGBA", "L"):
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # Scale 16-bit samples to 8-bit rather than clipping them.
        return image.point(lambda value: value / 256).convert("L")
    if image.mode in ("P", "PA", "LA"):
        return image.convert("RGBA" if "transparency" in image.info or "A" in image.mode else "RGB")
    return image.convert("RGB")


def encode_image(image: Image.Image, fmt: str = "jpeg", quality: int = 85) -> bytes:
    """Encode to JPEG/PNG/WebP with no metadata (EXIF, ICC, XMP, comments are dropped)."""
    pil_format = OUTPUT_FORMATS[fmt]
    if pil_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    clean = image.copy()
    clean.info = {}  # Pillow re-emits some info keys (icc_profile, exif) on save otherwise
    buffer = io.BytesIO()
    options: dict[str, object] = (
        {"quality": quality} if pil_format != "PNG" else {"optimize": False}
    )
    clean.save(buffer, format=pil_format, **options)
    return buffer.getvalue()
