"""The two benchmark workloads, applied to one image file each call.

- `pillow`: read -> decode -> resize/blur/sharpen/watermark -> JPEG encode. Pillow's C code
  releases the GIL for most of this, so threads can overlap even with the GIL.
- `pure-python`: read, decode and downscale with Pillow (a small share), then a 3x3
  convolution written in pure Python over the grey pixel bytes. The GIL serialises this
  part, which is what free-threading changes.

Every function returns a short digest of its output, so runners can be checked to compute
exactly what `sync` computes. Workers share no mutable object: each call builds its own
lists, and kernels are tuples of ints (immutable), so free-threaded threads do not contend
on reference counts or locks of shared containers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from nogilbench.concurrency.staged import Staged
from nogilbench.imaging.codec import decode_image
from nogilbench.imaging.kernels import convolve_digest
from nogilbench.imaging.pipeline import BENCHMARK_PIPELINE

# Downscaled width for the pure-Python kernel and number of passes: sized so one image costs
# tens of milliseconds on a current x86-64 core (the sweep records the real per-image time).
PURE_PYTHON_WIDTH = 192
PURE_PYTHON_PASSES = 1


def load_file(path: str) -> bytes:
    """The I/O half of every workload (the asyncio runner awaits it off the event loop)."""
    return Path(path).read_bytes()


def pillow_compute(data: bytes) -> str:
    output = BENCHMARK_PIPELINE.run(data)
    return hashlib.sha1(output).hexdigest()[:16]


def grey_pixels(data: bytes, width: int = PURE_PYTHON_WIDTH) -> tuple[bytes, int, int]:
    image = decode_image(data).image.convert("L")
    height = max(3, round(image.height * width / image.width))
    small = image.resize((width, height), Image.Resampling.BILINEAR)
    return small.tobytes(), width, height


def pure_python_prepare(data: bytes) -> tuple[bytes, int, int, int]:
    """Decode and downscale (Pillow): the kernel's arguments."""
    return (*grey_pixels(data), PURE_PYTHON_PASSES)


# Decode with Pillow, then the pure-Python kernel (stdlib only, so it also runs inside a
# sub-interpreter, where Pillow cannot load).
pure_python_compute = Staged(pure_python_prepare, convolve_digest)


# Workload name -> compute(bytes) -> digest; the input is always `load_file(path)`.
WORKLOADS: dict[str, Callable[[bytes], str]] = {
    "pillow": pillow_compute,
    "pure-python": pure_python_compute,
}


def run_workload(name: str, path: str) -> str:
    """One image through one workload, start to end (read included)."""
    return WORKLOADS[name](load_file(path))
