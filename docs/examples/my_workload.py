"""A worked example of a user's own workload (docs/workloads.md), outside the package.

    cd docs/examples
    nogilbench sweep --workloads my_workload:make_workload --images 20 --workers 1,2,4 \
        --methods sync,threading,free-threaded,multiprocessing,subinterpreters,asyncio-loop

What it measures: parsing one JSON log line per item and tallying its fields, the kind of
pure-Python work a service does per request. Everything here is stdlib and module-level, so
every method can run it: processes pickle `tally` by reference, sub-interpreters import this
module by name (it imports only the stdlib-only protocol module of nogilbench).
"""

from __future__ import annotations

import json

from nogilbench.concurrency.protocol import Workload

LINES_PER_ITEM = 2000  # about 10 ms of work per item on a current core


def make_records(index: int) -> str:
    """One item's input, made from its number: deterministic, so every method sees the same."""
    return "\n".join(
        json.dumps({"user": f"u{(index * 31 + i) % 97}", "status": 200 + (i % 3) * 100,
                    "path": f"/api/{i % 11}", "ms": (index + i) % 250})
        for i in range(LINES_PER_ITEM)
    )  # fmt: skip


def tally(text: str) -> list[tuple[str, int]]:
    """One item's work: parse every line, count statuses and sum latencies per path."""
    counts: dict[str, int] = {}
    for line in text.splitlines():
        record = json.loads(line)
        counts[f"status:{record['status']}"] = counts.get(f"status:{record['status']}", 0) + 1
        counts[record["path"]] = counts.get(record["path"], 0) + record["ms"]
    return sorted(counts.items())  # a plain list: the default digest checks it


def numbered(paths: list[str]) -> list[int]:
    """Items from the sweep's sample images: only how many there are (`--images`)."""
    return list(range(len(paths)))


def make_workload() -> Workload:
    return Workload(
        name="my_workload:make_workload",
        compute=tally,
        load=make_records,  # runs in the worker too, timed with the work
        items=numbered,
        suggested_workers=(1, 2, 4),
        description="parse JSON log lines, tally statuses and latencies",
    )
