"""What the harness costs and how close the library gets to Pillow's own speed.

- `pillow_limit`: the library's benchmark pipeline (`BENCHMARK_PIPELINE.run`: validated
  operations, sniffing decode with limits, metadata-free encode) against the same Pillow
  calls written directly in a loop, one thread, interleaved rounds, best round each.
- `sweep_overhead`: a small real sweep; per cell, the share of the cell's process wall time
  that is not timed work (process start, imports, pool start, warm-up, measurement, JSON),
  and the spread of its repeats.

Each measurement is a plain function; `python -m loadtest.limits <what> --json` runs
one under whichever interpreter runs the module (the report runs it under each).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from nogilbench.concurrency.base import gil_enabled
from nogilbench.imaging.pipeline import BENCHMARK_PIPELINE
from nogilbench.imaging.samples import generate_images

DEFAULT_SIZE = (800, 533)


def sample_bytes(directory: Path, count: int, size: tuple[int, int] = DEFAULT_SIZE) -> list[bytes]:
    size_dir = directory / f"{size[0]}x{size[1]}"
    return [path.read_bytes() for path in generate_images(size_dir, count, size)]


def direct_pillow(data: bytes) -> bytes:
    """BENCHMARK_PIPELINE written by hand: the same Pillow calls, no library in between."""
    image = Image.open(io.BytesIO(data))
    image.load()
    image = ImageOps.exif_transpose(image).convert("RGB")
    image.thumbnail((640, 640), Image.Resampling.LANCZOS)
    image = image.filter(ImageFilter.GaussianBlur(1.0))
    image = image.filter(ImageFilter.UnsharpMask(radius=1.0, percent=150, threshold=3))
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = ImageFont.load_default(size=24)
    left, top, right, bottom = draw.textbbox((0, 0), "nogilbench", font=font)
    x, y = base.width - (right - left) - 12, base.height - (bottom - top) - 12
    draw.text((x - left + 1, y - top + 1), "nogilbench", font=font, fill=(0, 0, 0, 128))
    draw.text((x - left, y - top), "nogilbench", font=font, fill=(255, 255, 255, 128))
    out = io.BytesIO()
    Image.alpha_composite(base, layer).convert("RGB").save(out, format="JPEG", quality=85)
    return out.getvalue()


def _timed_round(func: Callable[[bytes], bytes], images: list[bytes]) -> float:
    started = time.perf_counter()
    for data in images:
        func(data)
    return time.perf_counter() - started


def pillow_limit(images: list[bytes], rounds: int = 5) -> dict[str, Any]:
    """Images/s of the library's pipeline and of direct Pillow, one thread, best of `rounds`."""
    library = BENCHMARK_PIPELINE.run
    library(images[0]), direct_pillow(images[0])  # warm-up (fonts, codecs)
    library_times, direct_times = [], []
    for _ in range(rounds):  # interleaved, so drifting background load hits both alike
        library_times.append(_timed_round(library, images))
        direct_times.append(_timed_round(direct_pillow, images))
    library_ips = len(images) / min(library_times)
    direct_ips = len(images) / min(direct_times)
    return {
        "images": len(images),
        "rounds": rounds,
        "library_ips": round(library_ips, 2),
        "direct_ips": round(direct_ips, 2),
        "library_vs_direct": round(library_ips / direct_ips, 3),
        "library_round_spread": round(_spread(library_times), 3),
        "direct_round_spread": round(_spread(direct_times), 3),
    }


def _spread(times: list[float]) -> float:
    return (max(times) - min(times)) / statistics.median(times) if times else float("nan")


def sweep_overhead(work_dir: Path, *, repeats: int = 3, images: int = 10) -> dict[str, Any]:
    """Run a small sweep (both workloads, 1-2 workers, every matrix method) and analyse it."""
    from sqlmodel import Session

    from nogilbench.store import repository
    from nogilbench.sweep.config import SweepConfig
    from nogilbench.sweep.manager import run_sweep

    engine = repository.open_store(f"sqlite:///{work_dir / 'overhead.db'}")
    config = SweepConfig(
        name="harness-overhead",
        images=[images],
        workers=[1, 2],
        repeats=repeats,
        max_rounds=repeats,
        image_size=(640, 427),
        baseline=False,
    )
    started = time.perf_counter()
    sweep_id = run_sweep(config, engine, image_dir=work_dir / "images")
    total_s = time.perf_counter() - started
    with Session(engine) as session:
        rows = [row.model_dump() for row in repository.results_for(session, [sweep_id])]
    engine.dispose()
    return analyse_cells(rows, total_s, config.parameters())


def analyse_cells(rows: list[dict[str, Any]], total_s: float, parameters: Any) -> dict[str, Any]:
    cells = []
    for row in rows:
        if row["status"] != "ok" or not row.get("cell_wall_s"):
            continue
        timed = sum(row["wall_times_s"])
        cells.append(
            {
                "workload": row["workload"],
                "method": row["method"],
                "workers": row["workers"],
                "interpreter": row["interpreter"],
                "cell_wall_s": round(row["cell_wall_s"], 3),
                "timed_s": round(timed, 3),
                "overhead_share": round(1 - timed / row["cell_wall_s"], 3),
                # startup_ms is the median per round; cell_wall_s sums every round's process
                "startup_share": round(
                    (row["startup_ms"] or 0) * row["repeats"] / 1000 / row["cell_wall_s"], 3
                ),
                "spread": round(row["spread"], 3) if row["spread"] is not None else None,
            }
        )
    overhead = [cell["overhead_share"] for cell in cells]
    spreads = [cell["spread"] for cell in cells if cell["spread"] is not None]
    return {
        "parameters": parameters,
        "sweep_wall_s": round(total_s, 2),
        "cells_ok": len(cells),
        "cells_total": len(rows),
        "overhead_share_median": round(statistics.median(overhead), 3) if overhead else None,
        "overhead_share_max": round(max(overhead), 3) if overhead else None,
        "startup_share_median": (
            round(statistics.median(c["startup_share"] for c in cells), 3) if cells else None
        ),
        "spread_median": round(statistics.median(spreads), 3) if spreads else None,
        "spread_max": round(max(spreads), 3) if spreads else None,
        "cells": cells,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="harness and library limits")
    parser.add_argument("what", choices=("pillow-limit", "sweep-overhead"))
    parser.add_argument("--image-dir", type=Path, required=True)
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.what == "sweep-overhead":
        result = sweep_overhead(args.image_dir, repeats=args.rounds, images=args.images)
    else:
        images = sample_bytes(args.image_dir, args.images)
        result = pillow_limit(images, args.rounds)
    result["python"] = sys.version.split()[0]
    result["gil_enabled"] = gil_enabled()
    output = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(output + "\n")
    print(output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
