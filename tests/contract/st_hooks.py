"""schemathesis hooks for the service: real images for the upload's file part.

The upload sniffs the bytes and accepts only the image formats its OpenAPI document lists in
the part's `encoding.contentType`; random bytes are rightly refused (415). These strategies give
schemathesis a real, small image of each listed media type. Use it with the CLI:
`SCHEMATHESIS_HOOKS=tests/contract/st_hooks.py st run http://127.0.0.1:8000/openapi.json`
"""

from __future__ import annotations

import io
from typing import Any

import schemathesis
from hypothesis import strategies as st
from PIL import Image
from schemathesis.transport.serialization import Binary

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
# The file part is the only `format: binary` the service takes; the stateful phase draws it from
# the format's strategy rather than from the part's media types.
schemathesis.openapi.format(
    "binary", st.one_of(*(_images(name) for name in FORMATS.values())).map(Binary)
)
_FALLBACK = _encode("PNG", 8, 8, (10, 120, 200))


def _is_image(data: bytes) -> bool:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format in FORMATS.values()
    except Exception:
        return False


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    """Some phases still draw plain random bytes for the part; a non-empty file that is not an
    image becomes one (an empty or mistyped part stays as it is: that is invalid data)."""
    operation = getattr(context, "operation", None)
    if getattr(operation, "path", None) != "/api/images/upload" or not isinstance(body, dict):
        return body
    value = body.get("file")
    data = value.data if isinstance(value, Binary) else value
    if isinstance(data, bytes) and data and not _is_image(data):
        body = {**body, "file": Binary(_FALLBACK)}
    return body
