"""What sharing and moving data cost, from the workloads sweep: threads on shared objects
against the share-nothing baseline (decided by `results.decisions.compare_family`), and the
per-item cost of handing an image to a worker by path, pickled bytes or shared memory (the
workers' own receive and work times, stored with each measurement)."""

from __future__ import annotations

import statistics
from typing import Any

import pandas as pd

from nogilbench.report.conclusions.common import main_of, name_of, rounds_of, workers_text
from nogilbench.report.data import SweepData, ok_rows
from nogilbench.results.decisions import Decision, compare_family
from nogilbench.results.questions import headline_workers

SHARED = ("shared-dict", "shared-lock", "shared-list")
BASELINE = "share-nothing"
THREADS = ("free-threaded", "threading")  # threads with the GIL off, then on (same binary)
TRANSFERS = ("transfer-path", "transfer-pickle", "transfer-shm")
PATH = "transfer-path"
# sync runs every item in the calling thread: no item crosses to another thread or process.
SYNC_MOVES_NOTHING = "nothing moves: sync runs each item in the calling thread"


def contention_decisions(data: SweepData) -> dict[tuple[str, str], tuple[int, Decision]]:
    """(workload, method) -> (workers, threads vs sync of the main build): one Holm family over
    every shared-state workload and the share-nothing baseline. The ratio is time(sync) /
    time(threads), a speedup; "slower" means the threads lost to one thread."""
    frame = ok_rows(data.frame())
    main = main_of(frame)
    rounds = rounds_of(frame)
    pairs, workers_of = {}, {}
    for workload in (*SHARED, BASELINE):
        mine = frame[(frame["workload"] == workload) & (frame["interpreter"] == main)]
        parallel = mine[mine["method"] != "sync"]
        if parallel.empty:
            continue
        workers = headline_workers(parallel["workers"], data.cores)
        images = int(mine["images"].max())
        sync = rounds.get((workload, "sync", 1, images, main))
        for method in THREADS:
            cell = rounds.get((workload, method, workers, images, main))
            if sync is not None and cell is not None and set(sync) & set(cell):
                pairs[(workload, method)] = (cell, sync)
                workers_of[(workload, method)] = workers
    decided = compare_family(pairs)
    return {key: (workers_of[key], decision) for key, decision in decided.items()}


def contention_lines(data: SweepData) -> list[str]:
    """'shared-dict: free-threaded (GIL off) at 2 workers was 5.1x [...] (99%) slower than
    sync', each shared-state workload beside the share-nothing baseline."""
    main = main_of(data.frame())
    found = contention_decisions(data)
    lines = []
    for (workload, method), (workers, decision) in found.items():
        label = f"{name_of((method, main), main)} at {workers_text(workers)}"
        lines.append(f"{workload}: {decision.sentence(label, 'sync (one thread)')}")
    if lines:
        lines.append(
            f"Read each shared-state line against {BASELINE} (the same work on private objects): "
            "the gap between them is what sharing costs the threads (one Holm family over "
            f"these {len(found)} comparisons, each paired by round with sync of its workload)."
        )
    return lines


def _workload_medians(
    measurements: list[dict[str, Any]], key: tuple[str, str, int, str], name: str
) -> float:
    """The median of one stored per-item figure over a cell's measurements (nan if none)."""
    values = [
        (m.get("details") or {}).get("workload", {}).get(name)
        for m in measurements
        if (m["workload"], m["method"], m["workers"], m["interpreter"]) == key
        and m["status"] == "ok"
    ]
    values = [float(v) for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def transfer_frame(data: SweepData) -> pd.DataFrame:
    """Per transfer workload and method (main build, 1 worker and more): wall time per item
    (median), the worker's receive step and work per item (medians of the stored per-item
    medians), and the extra wall time per item over sending a path with the same method."""
    frame = ok_rows(data.frame())
    main = main_of(frame)
    rows = frame[frame["workload"].isin(TRANSFERS) & (frame["interpreter"] == main)]
    found = []
    for _, row in rows.iterrows():
        key = (row["workload"], row["method"], int(row["workers"]), row["interpreter"])
        stored = data.measurements
        found.append({
            "workload": row["workload"], "method": name_of((row["method"], main), main),
            "_method": row["method"], "workers": int(row["workers"]), "items": int(row["images"]),
            "wall per item (ms)": 1000 * row["wall_median_s"] / row["images"],
            "receive per item (ms)": _workload_medians(stored, key, "receive_ms_per_item"),
            "work per item (ms)": _workload_medians(stored, key, "work_ms_per_item"),
        })  # fmt: skip
    table = pd.DataFrame(found)
    if table.empty:
        return table
    path = table[table["workload"] == PATH].set_index(["_method", "workers"])["wall per item (ms)"]
    table["over a path (ms per item)"] = [
        row["wall per item (ms)"] - path.get((row["_method"], row["workers"]), float("nan"))
        for _, row in table.iterrows()
    ]
    return table.drop(columns="_method").sort_values(["method", "workers", "workload"])


def image_size_text(data: SweepData) -> str:
    size = (data.sweep.parameters or {}).get("image_size") or ["?", "?"]
    return f"{size[0]}x{size[1]}"


def _receive_text(row: pd.Series) -> str:
    receive = row["receive per item (ms)"]
    if pd.isna(receive):
        return "the worker's own receive step not stored"
    if receive == 0:  # pickled bytes: the pool unpickles them before the call (threads: a ref)
        return "no receive step in the worker: the bytes come with the call"
    if receive < 0.01:
        return "the worker's own receive step under 0.01 ms"
    return f"the worker's own receive step {receive:.2f} ms"


def transfer_lines(data: SweepData) -> list[str]:
    """What handing one image to a worker cost per item, beyond sending its path."""
    table = transfer_frame(data)
    if table.empty:
        return []
    lines = []
    moving = table[(table["workload"] != PATH) & (table["method"] != "sync")]
    for _, row in moving.iterrows():
        extra = row["over a path (ms per item)"]
        if pd.isna(extra):
            continue
        lines.append(
            f"{row['workload']} with {row['method']} at {workers_text(row['workers'])}: "
            f"{extra:+.2f} ms per item over sending the path ({row['wall per item (ms)']:.2f} ms "
            f"against {row['wall per item (ms)'] - extra:.2f} ms; {_receive_text(row)})"
        )
    lines.append(
        f"Each item is one {image_size_text(data)} RGB image's pixels. The extra time is a "
        "difference of median wall times per item of two workloads, which are measured in "
        "different groups (not paired by round), so it has no interval: read it as a size, "
        "not a decision."
    )
    if (table["method"] == "sync").any():
        lines[-1] += f" sync is left out: {SYNC_MOVES_NOTHING}."
    return lines
