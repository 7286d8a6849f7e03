"""Decoding untrusted bytes into a normalised image, and encoding without metadata.

Decoding checks the format (sniffed from the bytes, not the file name) against an
allow-list and the declared pixel count before any pixel is decoded, so a
decompression bomb is refused from its header alone.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from nogilbench.errors import ImageTooLarge, UnsupportedImage

ALLOWED_INPUT_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP"})
OUTPUT_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
DEFAULT_MAX_PIXELS = 40_000_000  # ~ 7700 x 5200; larger uploads are refused, not decoded


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
    try:
        image.seek(0)
        image.load()
        image = ImageOps.exif_transpose(image) or image
        image = _normalise_mode(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise UnsupportedImage(f"the {source_format} data is truncated or corrupt: {exc}") from exc
    return DecodedImage(image, source_format)


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
