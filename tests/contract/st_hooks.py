"""schemathesis hooks for the service: real images for the upload's file part.

The upload sniffs the bytes and accepts only the image formats its OpenAPI document lists in
the part's `encoding.contentType`; random bytes are rightly refused (415). These strategies give
schemathesis a real, small image of each listed media type. Use it with the CLI:
`SCHEMATHESIS_HOOKS=tests/contract/st_hooks.py st run http://127.0.0.1:8000/openapi.json`
"""

from __future__ import annotations

import io

import schemathesis
from hypothesis import strategies as st
from PIL import Image

FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/gif": "GIF",
    "image/tiff": "TIFF",
    "image/bmp": "BMP",
}


def _encode(pillow_format: str, width: int, height: int, color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format=pillow_format)
    return buffer.getvalue()


def _images(pillow_format: str) -> st.SearchStrategy[bytes]:
    side = st.integers(min_value=1, max_value=48)
    channel = st.integers(min_value=0, max_value=255)
    return st.builds(
        _encode, st.just(pillow_format), side, side, st.tuples(channel, channel, channel)
    )


for _media_type, _pillow_format in FORMATS.items():
    schemathesis.openapi.media_type(_media_type, _images(_pillow_format))
