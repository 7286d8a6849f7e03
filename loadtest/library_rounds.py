"""The library's side of the API-vs-library comparison: timed rounds on request, one process.

    python -X gil=0 -m loadtest.library_rounds --workers 2 --image-dir DIR --images 12

Loads the sample images and starts the library's thread runner at `--workers` (the
free-threaded method when the GIL is off, threading otherwise), warms both pipelines up,
prints `ready`, then for every line `pillow` or `pure-python` on stdin runs one round (every
image through that pipeline, `workers` at a time) and prints its seconds as JSON. Kept alive
between rounds so that the measurement (`loadtest.throughput`) can put each library round
right after the API round it is compared with, with no interpreter start in between.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from loadtest.limits import sample_bytes
from loadtest.pipelines import PIPELINES
from nogilbench.concurrency.base import gil_enabled
from nogilbench.concurrency.runners import make_runner
from nogilbench.imaging.pipeline import parse_pipeline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--image-dir", type=Path, required=True)
    parser.add_argument("--images", type=int, required=True)
    args = parser.parse_args(argv)
    images = sample_bytes(args.image_dir, args.images)
    pipelines = {name: parse_pipeline(raw) for name, raw in PIPELINES.items()}
    method = "threading" if gil_enabled() else "free-threaded"
    with make_runner(method, args.workers) as runner:
        for pipeline in pipelines.values():  # warm-up: threads, fonts, codecs
            runner.map(pipeline.run, images[: args.workers])
        print(json.dumps({"ready": True, "method": method, "gil_enabled": gil_enabled()}))
        sys.stdout.flush()
        for line in sys.stdin:
            pipeline = pipelines[line.strip()]
            started = time.perf_counter()
            runner.map(pipeline.run, images)
            print(json.dumps({"seconds": time.perf_counter() - started}))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
