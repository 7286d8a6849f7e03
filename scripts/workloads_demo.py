"""Small real sweeps of the issue-18 workloads, printed as tables (not a test: timings).

    .venv/bin/python scripts/workloads_demo.py [--only io,cpu,contention,transfer]
        [--database-url sqlite:///data/workloads-demo.db] [--rounds 3]

Each part is a sweep through `run_sweep` (fresh processes, interleaved rounds, paired
intervals, digests checked against sync) on the free-threaded build (the default build too
where said):

- io:         `io` (GET one image from the loopback upstream, 20 ms each) with sync, asyncio,
              asyncio-loop, threading and free-threaded at 1, 8 and 32 workers;
- cpu:        `pure-python` with sync, asyncio-loop, asyncio and free-threaded at 1 and 2;
- contention: `shared-dict`, `shared-lock`, `shared-list`, `share-nothing` with sync,
              threading (GIL on) and free-threaded at 1 and 2 workers, and sync and
              threading on the default (GIL) build of the same version;
- transfer:   `transfer-path`, `transfer-pickle`, `transfer-shm` of 960x640 images with sync,
              threading and multiprocessing at 1 worker, and the per-item split (worker's
              receive step, work, the rest of the wall time).

`run(parts, url)` is the function the lead can call from elsewhere.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nogilbench.concurrency.upstream import LATENCY_S  # noqa: E402
from nogilbench.store import repository  # noqa: E402
from nogilbench.sweep.config import SweepConfig  # noqa: E402
from nogilbench.sweep.manager import run_sweep  # noqa: E402
from nogilbench.sweep.plan import Interpreters  # noqa: E402

PARTS: dict[str, dict[str, Any]] = {
    "io": {"workloads": ["io"], "images": [32], "workers": [1, 8, 32],
           "methods": ["sync", "asyncio", "asyncio-loop", "threading", "free-threaded"],
           "past_cores": "all", "image_size": (320, 213)},
    "cpu": {"workloads": ["pure-python"], "images": [16], "workers": [1, 2],
            "methods": ["sync", "asyncio-loop", "asyncio", "free-threaded"],
            "image_size": (960, 640)},
    "contention": {"workloads": ["shared-dict", "shared-lock", "shared-list", "share-nothing"],
                   "images": [16], "workers": [1, 2], "baseline": True,
                   "methods": ["sync", "threading", "free-threaded"], "image_size": (64, 48)},
    "transfer": {"workloads": ["transfer-path", "transfer-pickle", "transfer-shm"],
                 "images": [32], "workers": [1],
                 "methods": ["sync", "threading", "multiprocessing"], "image_size": (960, 640)},
}  # fmt: skip


def _interval(low: float | None, value: float | None, high: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if low is None or high is None:
        return f"{value:.3f}{unit}"
    return f"{value:.3f}{unit} [{low:.3f}, {high:.3f}]"


def sweep(part: str, url: str, rounds: int, image_dir: Path) -> int:
    parameters = {"baseline": False, **PARTS[part]}
    config = SweepConfig(name=f"workloads-demo-{part}", repeats=rounds, max_rounds=rounds,
                         budget_s=0, **parameters)  # fmt: skip
    return run_sweep(
        config, repository.open_store(url), image_dir=image_dir,
        interpreters=Interpreters.discover(want_baseline=config.baseline),
    )  # fmt: skip


def table(url: str, sweep_id: int) -> list[Any]:
    with Session(repository.open_store(url)) as session:
        rows = list(repository.results_for(session, [sweep_id]))
        measured = repository.measurements_of(session, sweep_id)
    print(f"{'workload':15} {'build':6} {'method':15} {'w':>3} {'wall s [interval]':>28} "
          f"{'speedup vs sync [interval]':>28} {'cpu %':>6}")  # fmt: skip
    for r in sorted(rows, key=lambda r: (r.workload, r.interpreter, r.workers, r.method)):
        build = "ft" if r.free_threaded_build else "gil"
        head = f"{r.workload:15} {build:6} {r.method:15} {r.workers:>3}"
        if r.status != "ok":
            print(f"{head} {r.status}: {r.error}")
            continue
        wall = _interval(r.wall_low_s, r.wall_median_s, r.wall_high_s)
        speedup = _interval(r.speedup_low, r.speedup, r.speedup_high, "x")
        cpu = f"{r.cpu_percent:.0f}" if r.cpu_percent is not None else "-"
        print(f"{head} {wall:>28} {speedup:>28} {cpu:>6}")
    _transfer_split(rows, measured)
    return rows


def _transfer_split(rows: list[Any], measured: list[dict[str, Any]]) -> None:
    """Per item: wall, the worker's receive step, the work, and the rest (the pool's part)."""
    split = [r for r in rows if r.workload.startswith("transfer-") and r.status == "ok"]
    if not split:
        return
    print(f"\n{'per item (ms)':31} {'wall':>8} {'receive':>8} {'work':>8} {'rest':>8}")
    for r in sorted(split, key=lambda r: (r.method, r.workload)):
        own = [m["details"].get("workload") or {} for m in measured
               if (m["workload"], m["method"], m["workers"]) == (r.workload, r.method, r.workers)
               and m["status"] == "ok"]  # fmt: skip
        receive = statistics.median(o["receive_ms_per_item"] for o in own)
        work = statistics.median(o["work_ms_per_item"] for o in own)
        wall = 1000 * r.wall_median_s / r.images
        print(f"{r.workload + ' ' + r.method:31} {wall:8.2f} {receive:8.2f} {work:8.2f} "
              f"{wall - receive - work:8.2f}")  # fmt: skip


def pickle_round_trip_ms(size: tuple[int, int] = (960, 640), times: int = 50) -> float:
    """The pickling alone, without a pipe or a pool: the floor of the pickled transfer."""
    pixels = bytes(range(256)) * (size[0] * size[1] * 3 // 256)
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        pickle.loads(pickle.dumps(pixels, protocol=pickle.HIGHEST_PROTOCOL))
        spent.append(time.perf_counter() - started)
    return 1000 * statistics.median(spent)


def run(parts: list[str], url: str, rounds: int = 3) -> dict[str, list[Any]]:
    image_dir = Path(tempfile.gettempdir()) / "nogilbench-workloads-demo"
    tables = {}
    for part in parts:
        print(f"\n== {part} ({rounds} rounds)")
        if part == "io":
            images = PARTS["io"]["images"][0]
            print(f"sum of the latencies: {images} x {LATENCY_S * 1000:g} ms = "
                  f"{images * LATENCY_S:.2f} s")  # fmt: skip
        tables[part] = table(url, sweep(part, url, rounds, image_dir))
        if part == "transfer":
            print(f"\npickle.dumps + loads of one 960x640 RGB image in this process: "
                  f"{pickle_round_trip_ms():.3f} ms (median of 50)")  # fmt: skip
    return tables


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma list of {', '.join(PARTS)}")
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file in /tmp")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    parts = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='workloads-demo-')}/demo.db"
    run(parts, url, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
