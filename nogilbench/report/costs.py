"""What sub-interpreters cost, measured apart from the kernel
(nogilbench.concurrency.subinterpreters).

Per workload, build and worker count: starting the interpreters, importing the kernel's
module in each, preparing (read + decode in the main interpreter), crossing into and out of
the sub-interpreters, and the kernel itself, as medians over the cell's rounds.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from nogilbench.concurrency.subinterpreters import cost_summary
from nogilbench.report.data import build_of

COLUMNS = (
    "workload", "build", "workers", "images", "rounds", "interpreters_start_ms", "imports_ms",
    "prepare_ms_per_image", "transfer_ms_per_image", "kernel_ms_per_image", "transfer_share",
)  # fmt: skip


def subinterpreter_costs(measurements: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per measured subinterpreters cell (ok rounds only)."""
    cells: dict[tuple[str, str, int, int], list[dict[str, Any]]] = {}
    for row in measurements:
        if row.get("method") != "subinterpreters" or row.get("status") != "ok":
            continue
        key = (row["workload"], str(row["interpreter"]), int(row["workers"]), int(row["images"]))
        cells.setdefault(key, []).append(row.get("details") or {})
    found = [
        {"workload": workload, "build": build_of(interpreter), "workers": workers,
         "images": images, "rounds": len(details), **cost_summary(details)}
        for (workload, interpreter, workers, images), details in sorted(cells.items())
    ]  # fmt: skip
    return pd.DataFrame(found, columns=list(COLUMNS))


def unavailable_reasons(measurements: list[dict[str, Any]]) -> list[str]:
    """Why a subinterpreters cell did not run, once per workload and build."""
    reasons: dict[tuple[str, str], str] = {}
    for row in measurements:
        if row.get("method") == "subinterpreters" and row.get("status") == "unavailable":
            key = (row["workload"], build_of(str(row["interpreter"])))
            reasons.setdefault(key, str(row.get("error") or "no reason recorded"))
    return [
        f"{workload} on the {build} build: sub-interpreters did not run: {reason}"
        for (workload, build), reason in sorted(reasons.items())
    ]


def cost_sentences(costs: pd.DataFrame) -> list[str]:
    """How much of the time inside the sub-interpreters went to crossing into them."""
    lines = []
    for _, cell in costs.iterrows():
        if pd.isna(cell["transfer_share"]) or pd.isna(cell["kernel_ms_per_image"]):
            continue
        lines.append(
            f"{cell['workload']} on the {cell['build']} build, {cell['workers']} worker"
            f"{'' if cell['workers'] == 1 else 's'}: "
            f"starting the interpreters took {cell['interpreters_start_ms']:.1f} ms and imports "
            f"{cell['imports_ms']:.1f} ms (outside the timing); per image, crossing in and out "
            f"took {cell['transfer_ms_per_image']:.2f} ms against "
            f"{cell['kernel_ms_per_image']:.1f} ms of kernel ({cell['transfer_share']:.1%} "
            "of the time inside sub-interpreters; "
            f"medians of {cell['rounds']} rounds)."
        )
    return lines
