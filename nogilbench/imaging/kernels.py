"""Image kernels written in pure Python: the work the GIL serialises.

Everything here runs in the interpreter loop over plain `bytes`/`bytearray`, with kernels
held in immutable tuples, so threads share no mutable object and contend on nothing but
the GIL itself (when there is one).
"""

from __future__ import annotations

import hashlib

KERNELS: dict[str, tuple[int, ...]] = {
    "sharpen": (0, -1, 0, -1, 5, -1, 0, -1, 0),
    "edge": (-1, -1, -1, -1, 8, -1, -1, -1, -1),
    "emboss": (-2, -1, 0, -1, 1, 1, 0, 1, 2),
}
SHARPEN_KERNEL = KERNELS["sharpen"]


def convolve3x3(
    pixels: bytes | bytearray, width: int, height: int, kernel: tuple[int, ...] = SHARPEN_KERNEL
) -> bytearray:
    """Pure-Python 3x3 convolution of 8-bit grey pixels, edges copied, results clamped 0..255."""
    k0, k1, k2, k3, k4, k5, k6, k7, k8 = kernel
    out = bytearray(pixels)
    for y in range(1, height - 1):
        above, row, below = (y - 1) * width, y * width, (y + 1) * width
        for x in range(1, width - 1):
            total = (
                k0 * pixels[above + x - 1] + k1 * pixels[above + x] + k2 * pixels[above + x + 1]
                + k3 * pixels[row + x - 1] + k4 * pixels[row + x] + k5 * pixels[row + x + 1]
                + k6 * pixels[below + x - 1] + k7 * pixels[below + x] + k8 * pixels[below + x + 1]
            )  # fmt: skip
            out[row + x] = 0 if total < 0 else 255 if total > 255 else total
    return out


def convolve_digest(pixels: bytes, width: int, height: int, passes: int) -> str:
    """`passes` sharpen convolutions of grey pixels; a short digest of the result."""
    result: bytes | bytearray = pixels
    for _ in range(passes):
        result = convolve3x3(result, width, height)
    return hashlib.sha1(result).hexdigest()[:16]
