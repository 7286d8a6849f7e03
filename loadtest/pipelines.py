"""The two pipelines every load measurement sends: Pillow's (the GIL released in C) and a
pure-Python operation (the GIL held), as the API's JSON body and the library's input."""

from __future__ import annotations

from typing import Any

from nogilbench.imaging.pipeline import BENCHMARK_PIPELINE

PURE_PYTHON_PIPELINE: dict[str, Any] = {
    "operations": [{"op": "python_convolve", "max_side": 192, "passes": 2}],
    "format": "png",
}
PIPELINES: dict[str, dict[str, Any]] = {
    "pillow": BENCHMARK_PIPELINE.to_dict(),
    "pure-python": PURE_PYTHON_PIPELINE,
}
