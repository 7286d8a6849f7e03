"""What a `/process` request costs apart from image work: the server's CPU per request.

    python -m loadtest.overhead [--requests 200] [--repeats 3] [--json PATH]

For each interpreter (stock CPython, the free-threaded build with the GIL off), a fresh server
on loopback, one user, one 16x16 image and a one-step pipeline (grayscale): after a warm-up,
`--repeats` batches of `--requests` sequential calls, each batch's server process CPU time
(user + system, every thread, from the OS) divided by its calls. What is left is
authentication, the rows, the thread hops, the files and the framework: the service's own
cost per request, which the library does not pay. Wall time per request is printed beside it.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from loadtest.client import process_cpu_s, sign_in
from loadtest.server import ServerProcess

PIPELINE = {"operations": [{"op": "grayscale"}], "format": "png"}
PASSWORD = "overhead-password-1"
WARM_UP = 30


def _tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 20, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def measure_overhead(
    python: str, gil: int | None, work: Path, requests: int, repeats: int
) -> dict[str, Any]:
    """CPU ms and wall ms per request, one value per batch."""
    with ServerProcess(python, work / "data", f"sqlite:///{work / 'api.db'}", gil=gil) as server:
        assert server.process is not None
        with httpx.Client(base_url=server.url, timeout=60) as http:
            http.headers.update(sign_in(http, "overhead@example.com", PASSWORD))
            files = {"file": ("tiny.png", _tiny_png(), "image/png")}
            image_id = http.post("/api/images/upload", files=files).json()["id"]
            url = f"/api/images/{image_id}/process"
            for _ in range(WARM_UP):
                http.post(url, json=PIPELINE).raise_for_status()
            cpu_ms, wall_ms = [], []
            for _ in range(repeats):
                cpu_before, started = process_cpu_s(server.process.pid), time.perf_counter()
                for _ in range(requests):
                    http.post(url, json=PIPELINE).raise_for_status()
                wall_ms.append(1000 * (time.perf_counter() - started) / requests)
                cpu_ms.append(1000 * (process_cpu_s(server.process.pid) - cpu_before) / requests)
    return {
        "requests": requests,
        "cpu_ms_per_request": [round(v, 2) for v in cpu_ms],
        "wall_ms_per_request": [round(v, 2) for v in wall_ms],
    }


def main(argv: list[str] | None = None) -> int:
    from loadtest.measure import FT_OFF, SERVERS, STOCK

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.requests < 1 or args.repeats < 1:
        parser.error("--requests and --repeats must be at least 1")
    result = {}
    with tempfile.TemporaryDirectory(prefix="nogilbench-overhead-") as work:
        for number, label in enumerate((STOCK, FT_OFF)):
            python, gil = SERVERS[label]
            result[label] = measure_overhead(
                python, gil, Path(work) / str(number), args.requests, args.repeats
            )
            cpu = " ".join(f"{v:.2f}" for v in result[label]["cpu_ms_per_request"])
            wall = " ".join(f"{v:.2f}" for v in result[label]["wall_ms_per_request"])
            print(f"{label}: server CPU ms/request {cpu}; wall ms/request {wall}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
