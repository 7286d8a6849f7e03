"""The pros and cons of each concurrency model, one row per model, every cell read from a
stored measurement: speed at the headline point (speedup over sync, paired interval), peak
memory (PSS of the process tree), start-up, moving an image to a worker, and safety (the race
demo's lost updates). A figure this report did not measure says so."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from nogilbench.report.conclusions.common import main_of, name_of, row_of, speedup_text
from nogilbench.report.data import SweepData, build_of
from nogilbench.report.limits import stored_fact
from nogilbench.report.racing import race_frame
from nogilbench.report.sharing import PATH, SYNC_MOVES_NOTHING, image_size_text, transfer_frame
from nogilbench.report.workloads import KINDS, KindAnswer
from nogilbench.store.hostfacts import RACE

MISSING = "not measured"
THREAD_METHODS = ("threading", "free-threaded", "asyncio")  # workers share the process's objects
CPU, WAITING = KINDS[0].title, KINDS[1].title


def _model(name: tuple[str, str], main: str | None) -> str:
    return name_of(name, main)


def _per_workload(values: dict[str, str]) -> str:
    return "; ".join(f"{workload}: {value}" for workload, value in values.items()) or MISSING


def _memory(cell: pd.Series) -> str:
    value = cell.get("peak_rss_mb")
    if value is None or pd.isna(value):
        return MISSING
    kind = str(cell.get("memory_kind") or "rss").upper()
    return f"{value:.0f}" + ("" if kind == "PSS" else f" ({kind})")


def _startup(cell: pd.Series) -> str:
    value = cell.get("startup_ms")
    return MISSING if value is None or pd.isna(value) else f"{value:.0f} ms"


def _gil_off(method: str, interpreter: str | None) -> bool:
    """Threads with the GIL off: free-threaded; asyncio's pool on the free-threaded build."""
    return method == "free-threaded" or (method == "asyncio" and build_of(interpreter) != "default")


def _safety(method: str, interpreter: str | None, race: dict[str, Any] | None) -> str:
    if method not in THREAD_METHODS:
        return "workers share no Python object: the race demo does not apply"
    if race is None or not race.get("rows"):
        return f"{MISSING} (no race demo stored)"
    frame = race_frame(race["rows"])
    mode = "GIL off" if _gil_off(method, interpreter) else "GIL on"
    unsafe = frame[(frame["variant"] == "unsafe") & (frame["gil"] == mode)]
    if unsafe.empty:
        return f"{MISSING} ({mode} not run)"
    lost = int((unsafe["lost"] > 0).sum())
    worst = float(unsafe["lost_percent"].max())
    return (
        f"{mode}, unlocked shared counter: lost updates in {lost} of {len(unsafe)} trials "
        f"(up to {worst:.1f}%); a lock or per-thread counters lost none"
        if lost
        else f"{mode}, unlocked shared counter: no update lost in {len(unsafe)} trials"
    )


def _moved(transfers: pd.DataFrame, label: str) -> str:
    """'pickle +3.90; shm +0.41': a model's extra ms per item over a path (its most workers)."""
    if transfers.empty:
        return MISSING
    mine = transfers[(transfers["method"] == label) & (transfers["workload"] != PATH)]
    mine = mine[mine["workers"] == mine["workers"].max()]
    extra = "over a path (ms per item)"
    shown = [
        f"{row['workload'].removeprefix('transfer-')} {row[extra]:+.2f}"
        for _, row in mine.iterrows()
        if pd.notna(row[extra])
    ]
    return "; ".join(shown) or MISSING


def pros_cons_frame(
    found: Sequence[KindAnswer], workloads: SweepData | None, sweeps: Sequence[SweepData]
) -> pd.DataFrame:
    """One row per model (method and build) that was a candidate anywhere in `found`."""
    rows: dict[str, dict[str, Any]] = {}
    speed_cpu: dict[str, dict[str, str]] = {}
    speed_io: dict[str, dict[str, str]] = {}
    memory: dict[str, dict[str, str]] = {}
    startup: dict[str, dict[str, str]] = {}
    for answer in found:
        main = main_of(answer.frame)
        for name in answer.found.order:
            label = _model(name, main)
            rows.setdefault(label, {"model": label, "_name": name})
            cell = row_of(answer.frame, answer.question.cells[name])
            if cell is None:
                continue
            workload = answer.question.workload
            if answer.kind.title == CPU:
                speed_cpu.setdefault(label, {})[workload] = speedup_text(cell)
                memory.setdefault(label, {})[workload] = _memory(cell)
                startup.setdefault(label, {})[workload] = _startup(cell)
            elif answer.kind.title == WAITING:
                speed_io.setdefault(label, {})[workload] = speedup_text(cell)
    transfers = transfer_frame(workloads) if workloads is not None else pd.DataFrame()
    race = stored_fact([*sweeps, workloads], RACE)
    size = image_size_text(workloads) if workloads is not None else "?"
    table = []
    for label, row in rows.items():
        method, interpreter = row["_name"]
        moved = SYNC_MOVES_NOTHING if method == "sync" else _moved(transfers, label)
        table.append({
            "model": label,
            "speed, CPU-bound (x sync)": _per_workload(speed_cpu.get(label, {})),
            "speed, waiting on I/O (x sync)": _per_workload(speed_io.get(label, {})),
            "peak memory (PSS, MiB)": _per_workload(memory.get(label, {})),
            "start-up": _per_workload(startup.get(label, {})),
            f"moving a {size} image (ms per item over a path)": moved,
            "safety (race demo)": _safety(method, interpreter, race),
        })  # fmt: skip
    return pd.DataFrame(table)


def pros_cons_note() -> str:
    return (
        "Speed: the speedup over sync of the same build at each workload's headline point "
        "(95% paired interval). Memory: peak PSS of the whole process tree there (RSS where PSS "
        "was not available). Start-up: process start, imports and pool start, outside the "
        "timing. Moving an image: extra wall time per item over sending its path (no interval: "
        "different groups). Safety: the race demo stored with the workloads sweep. "
        f"'{MISSING}': this report holds no measurement for that cell."
    )
