"""The limits of free-threaded Python today, drawn from what this report measured: the build's
own single-thread cost (the findings' `build_costs`, not recomputed), the GIL scan of the
installed extension modules and the race demo (stored with the workloads sweep), and threads
on shared objects against the share-nothing baseline (`report.sharing`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from nogilbench.report.conclusions import build_costs
from nogilbench.report.data import SweepData
from nogilbench.report.racing import race_conclusions, race_frame
from nogilbench.report.sharing import contention_lines
from nogilbench.store.hostfacts import GIL_SCAN, RACE, host_fact

NOT_STORED = (
    "not stored with any sweep of this report: the workloads sweep stores it "
    "(`checks: true` in notebooks/params/workloads.yaml)"
)


def stored_fact(sweeps: Sequence[SweepData | None], key: str) -> dict[str, Any] | None:
    """The newest of the given sweeps' stored facts under `key` (race, GIL scan)."""
    for data in reversed([s for s in sweeps if s is not None]):
        fact = host_fact(data.sweep.host, key)
        if fact is not None:
            return fact
    return None


def gil_scan_frame(fact: dict[str, Any] | None) -> pd.DataFrame:
    """One row per scanned module: package, version, module and whether the GIL stayed off."""
    rows = []
    for row in (fact or {}).get("rows") or []:
        enabled = row.get("gil_enabled")
        result = {True: "GIL came back on", False: "GIL stays off", None: "import failed"}[enabled]
        rows.append({
            "package": row.get("distribution"), "version": row.get("version"),
            "module": row.get("module"), "result": result,
            "note": "; ".join([row.get("warning") or "", *(row.get("failed") or [])]).strip("; "),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["package", "version", "module", "result", "note"])


def gil_scan_lines(fact: dict[str, Any] | None) -> list[str]:
    if fact is None:
        return [f"GIL scan: {NOT_STORED}; `nogilbench info --gil-scan` runs it on this machine."]
    if fact.get("error"):
        return [f"GIL scan: not run ({fact['error']})."]
    table = gil_scan_frame(fact)
    back = table[table["result"] == "GIL came back on"]
    failed = table[table["result"] == "import failed"]
    line = (
        f"GIL scan of {fact.get('python')}: {len(table) - len(back) - len(failed)} of "
        f"{len(table)} extension modules kept the GIL off when imported in a fresh process"
    )
    if not back.empty:
        line += "; the GIL came back on with " + ", ".join(back["package"].astype(str))
        line += " (one such import turns it on for the whole process)"
    if not failed.empty:
        line += f"; {len(failed)} failed to import: " + ", ".join(failed["package"].astype(str))
    return [line + "."]


def race_lines(fact: dict[str, Any] | None) -> list[str]:
    if fact is None:
        return [f"Race demo: {NOT_STORED}; `nogilbench race` runs it on this machine."]
    if fact.get("error") or not fact.get("rows"):
        return [f"Race demo: not run ({fact.get('error') or 'no trials'})."]
    head = (
        f"Race demo ({fact['threads']} threads x {fact['increments']:,} increments of one "
        f"shared counter, {fact['trials']} trials per GIL mode):"
    )
    return [f"{head} {' '.join(race_conclusions(race_frame(fact['rows'])))}"]


def limits_lines(main: SweepData | None, workloads: SweepData | None) -> list[str]:
    """The limits, one Markdown line each, each from a stored measurement or saying why not."""
    lines = []
    if main is None:
        lines.append(
            "Single-thread cost of the free-threaded build: no main sweep in this report, so it "
            "cannot state it."
        )
    else:
        lines += build_costs(main.frame()) or [
            "Single-thread cost of the free-threaded build: the main sweep measured no default "
            "build (baseline off), so this report cannot state it."
        ]
    lines += gil_scan_lines(stored_fact([main, workloads], GIL_SCAN))
    lines += race_lines(stored_fact([main, workloads], RACE))
    contention = contention_lines(workloads) if workloads is not None else []
    lines += contention or ["Contention: no shared-state workload was measured in this report."]
    return lines
