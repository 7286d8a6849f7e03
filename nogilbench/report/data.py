"""pandas DataFrames built from the store, for the report and the exploration notebooks.

Everything here reshapes what `nogilbench.results.tables` computes (`summary_rows`, `final_table`)
into frames; no measurement or derived metric is recomputed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import Session

from nogilbench.errors import InvalidParameter
from nogilbench.model import ROLE_DEFAULT_BUILD
from nogilbench.paths import PROJECT_ROOT, REPORTS_DIR
from nogilbench.results import questions
from nogilbench.results.tables import (
    SUMMARY_COLUMNS,
    UNSTABLE_HALF_WIDTH,
    final_table,
    main_interpreter,
    method_order,
    summary_rows,
    value_of,
)
from nogilbench.store import repository
from nogilbench.store.models import Result, Sweep

FIGURES_DIR = REPORTS_DIR / "figures"

# Stored columns the report needs beyond analysis.SUMMARY_COLUMNS.
EXTRA_COLUMNS = (
    "interpreter_version", "free_threaded_build", "gil_requested", "repeats", "wall_min_s",
    "wall_max_s", "wall_times_s", "wall_rounds", "throughput_ips", "startup_ms", "cores",
    "start_method", "workers_observed",
)  # fmt: skip
RESULT_COLUMNS = ("sweep", *SUMMARY_COLUMNS, *EXTRA_COLUMNS, "build")

METHOD_LABELS = {
    "sync": "sync",
    "asyncio": "asyncio",
    "threading": "threading (GIL on)",
    "multiprocessing": "multiprocessing",
    "free-threaded": "free-threaded (GIL off)",
    "subinterpreters": "subinterpreters",
    "asyncio-loop": "asyncio on the loop",  # the work on the event loop's own thread
}


def resolve_database_url(url: str | None) -> str | None:
    """`url` with a relative SQLite path made relative to the project root (not the cwd).

    Notebooks run with their own folder as working directory (papermill, nbval, JupyterLab),
    so `sqlite:///data/x.db` must mean the project's `data/x.db` wherever they run.
    """
    if not url:
        return None
    try:
        parsed = make_url(url)
    except ArgumentError:
        return url  # open_store reports it as "not a database URL"
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return url
    if database.startswith("file:") or Path(database).is_absolute():
        return url
    return parsed.set(database=str(PROJECT_ROOT / database)).render_as_string(hide_password=False)


def project_path(path: str | Path) -> Path:
    """`path` with a relative path taken from the project root (notebooks run elsewhere)."""
    path = Path(path)
    return path if path.is_absolute() else PROJECT_ROOT / path


def build_of(interpreter_label: str | None) -> str:
    """'free-threaded' or 'default' from a stored interpreter label ('cpython-3.13.5t' -> ft)."""
    return "free-threaded" if (interpreter_label or "").endswith("t") else "default"


@dataclass
class SweepData:
    """One stored sweep and its result rows, read once from the store."""

    sweep: Sweep
    results: list[Result] = field(default_factory=list)
    measurements: list[dict[str, Any]] = field(default_factory=list)  # every round of every cell

    @property
    def name(self) -> str:
        return self.sweep.name

    @property
    def cores(self) -> int:
        """Cores the sweep's cells could use (host affinity), as recorded with the sweep."""
        return repository.usable_cores_of(self.sweep, self.results)

    @property
    def scaling(self) -> str:
        """'strong' (fixed image counts) or 'weak' (images grow with the workers)."""
        return str((self.sweep.parameters or {}).get("scaling", "strong"))

    @property
    def main_interpreter(self) -> str | None:
        """The interpreter that ran the matrix: stored with the sweep (its role), or, for a
        sweep stored without roles, the one with the most cells."""
        for info in self.sweep.interpreters or []:
            if info.get("label") and info.get("role") != ROLE_DEFAULT_BUILD:
                return str(info["label"])
        return main_interpreter(self.results)

    def frame(self) -> pd.DataFrame:
        return results_frame(self.results, self.name)


def load_sweeps(
    database_url: str | None = None, names: Sequence[str] | None = None
) -> list[SweepData]:
    """The named sweeps (default: the newest one) with their results, from the store."""
    engine = repository.open_store(resolve_database_url(database_url))
    try:
        with Session(engine) as session:
            if names:
                sweeps = []
                for name in names:
                    sweep = repository.get_sweep_by_name(session, name)
                    if sweep is None:
                        raise InvalidParameter(f"no sweep named {name!r} in this database")
                    sweeps.append(sweep)
            else:
                stored = repository.list_sweeps(session)
                if not stored:
                    raise InvalidParameter("this database holds no sweep yet; run one first")
                sweeps = [stored[-1]]
            loaded = []
            for sweep in sweeps:
                assert sweep.id is not None
                results = list(repository.results_for(session, [sweep.id]))
                measurements = repository.measurements_of(session, sweep.id)
                session.expunge_all()
                loaded.append(SweepData(sweep, results, measurements))
            return loaded
    finally:
        engine.dispose()


def results_frame(results: Iterable[Any], sweep_name: str | None = None) -> pd.DataFrame:
    """One row per cell: analysis.summary_rows plus the stored extras and the build."""
    items = list(results)
    rows = summary_rows(items)
    for row, result in zip(rows, items, strict=True):
        row.update({name: value_of(result, name) for name in EXTRA_COLUMNS})
        row["sweep"] = sweep_name
        row["build"] = build_of(row["interpreter"])
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    if frame.empty:
        return frame
    frame["_order"] = frame["method"].map(method_order)
    frame = frame.sort_values(["workload", "_order", "interpreter", "images", "workers"])
    return frame.drop(columns="_order").reset_index(drop=True)


def main_interpreter_of(frame: pd.DataFrame) -> str | None:
    """The interpreter that ran the whole matrix (`results.tables.main_interpreter`)."""
    return main_interpreter(frame.to_dict("records"))


def main_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of the interpreter that ran the whole matrix (not the default-build baseline)."""
    if frame.empty:
        return frame
    return frame[frame["interpreter"] == main_interpreter_of(frame)]


def cell_rows(
    frame: pd.DataFrame,
    workload: str,
    method: str,
    workers: int,
    images: int,
    interpreter: str | None = None,
) -> pd.DataFrame:
    """The rows of one cell (of `interpreter`, or of any); `sync` is one cell per group, so
    it is found whatever worker count is asked."""
    rows = frame[
        (frame["workload"] == workload) & (frame["method"] == method) & (frame["images"] == images)
    ]
    if method != "sync":
        rows = rows[rows["workers"] == workers]
    if interpreter is not None:
        rows = rows[rows["interpreter"] == interpreter]
    return rows


def ok_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[(frame["status"] == "ok") & frame["wall_median_s"].notna()]


def headline_workers(workers: Iterable[int], cores: int) -> int:
    """The worker count of the headline table: the largest one that fits the cores (the
    report's questions use the same point: `results.questions.headline_workers`)."""
    try:
        return questions.headline_workers(workers, cores)
    except ValueError:
        raise InvalidParameter("no results to report") from None


def method_label(method: str, interpreter: str | None = None, main: str | None = None) -> str:
    label = METHOD_LABELS.get(method, method)
    if method in ("asyncio", "subinterpreters") and build_of(interpreter) == "free-threaded":
        label += " (GIL off)"  # these run in the free-threaded build's own mode
    if interpreter and main and interpreter != main:
        label += f" [{build_of(interpreter)} build]"
    return label


def headline_frame(results: Sequence[Any], workload: str, workers: int) -> pd.DataFrame:
    """The seed's final table for one workload: methods as rows; wall time per image count,
    peak memory and CPU% (at the largest image count) as columns; problems in `note`."""
    lines = final_table(results, workload, workers)
    main = main_interpreter(results)
    counts = sorted({value_of(r, "images") for r in results if value_of(r, "workload") == workload})
    unstable = _unstable_counts(results, workload, workers, main)
    table = []
    for line in lines:
        row: dict[str, Any] = {"method": method_label(line["method"], line["interpreter"], main)}
        for count in counts:
            row[f"{count} images (s)"] = _interval_cell(line, count)
        row["memory (MiB)"] = line.get("memory_mib")
        row["CPU %"] = line.get("cpu_percent")
        row["speedup vs sync, same build"] = _ratio_text(line, "speedup")
        row["speedup vs sync, default build"] = _ratio_text(line, "speedup_default")
        notes = []
        if line.get("anomaly"):
            notes.append(f"anomaly: {line['anomaly']}")
        flagged = unstable.get((line["method"], line["interpreter"]), [])
        if flagged:
            shown = ", ".join(str(n) for n in flagged)
            notes.append(f"imprecise at {shown} images (interval wider than "
                         f"±{UNSTABLE_HALF_WIDTH:.0%})")  # fmt: skip
        if line.get("note"):
            notes.append(f"{line.get('status')}: {line['note']}")
        row["note"] = "; ".join(notes)
        table.append(row)
    return pd.DataFrame(table)


def _interval_cell(line: dict[str, Any], count: int) -> str | None:
    """'2.931 [2.85, 3.10]': a median wall time with its interval, and the interval's level
    where it is not 95% (fewer than 6 rounds: [min, max], e.g. 75% at 3 rounds)."""
    value = line.get(f"time_{count}_s")
    low, high = line.get(f"time_{count}_low_s"), line.get(f"time_{count}_high_s")
    if value is None:
        return None
    if low is None or high is None:
        return f"{value:.3f}"
    level = line.get(f"time_{count}_confidence")
    shown = f" ({level:.0%})" if level is not None and level < 0.95 - 1e-9 else ""
    return f"{value:.3f} [{low:.3f}, {high:.3f}]{shown}"


def _ratio_text(line: dict[str, Any], name: str) -> str | None:
    """'1.89x [1.71, 2.08]' from a line's estimate and interval columns (95%, paired t)."""
    value, low, high = line.get(name), line.get(f"{name}_low"), line.get(f"{name}_high")
    if value is None:
        return None
    if low is None or high is None:
        return f"{value:.2f}x"
    return f"{value:.2f}x [{low:.2f}, {high:.2f}]"


def _unstable_counts(
    results: Sequence[Any], workload: str, workers: int, main: str | None
) -> dict[tuple[str, str], list[int]]:
    flagged: dict[tuple[str, str], list[int]] = {}
    for row in summary_rows(results):
        if row["workload"] != workload or not row["unstable"]:
            continue
        if row["interpreter"] == main and row["workers"] != workers:
            continue
        flagged.setdefault((row["method"], row["interpreter"]), []).append(row["images"])
    return {key: sorted(set(counts)) for key, counts in flagged.items()}


def style_headline(table: pd.DataFrame) -> Any:
    """The headline table formatted for the report (missing values say so, not NaN)."""
    formats: dict[str, Any] = {"memory (MiB)": "{:.0f}", "CPU %": "{:.0f}"}
    return table.style.format(formats, na_rep="—").hide(axis="index")


def coverage_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """How many cells each workload x method x interpreter has, by status (deterministic)."""
    if frame.empty:
        return pd.DataFrame()
    counts = (
        frame.groupby(["workload", "interpreter", "method", "status"], sort=False)
        .size()
        .unstack("status", fill_value=0)
        .reset_index()
    )
    counts["_order"] = counts["method"].map(method_order)
    counts = counts.sort_values(["workload", "interpreter", "_order"]).drop(columns="_order")
    counts.columns.name = None
    return counts.reset_index(drop=True)


def parameter_lines(sweep: Sweep) -> list[str]:
    """The sweep's stored parameters, one `name: value` line each (deterministic)."""
    return [f"{key}: {value}" for key, value in sorted(sweep.parameters.items())]


def environment_frame(sweeps: Sequence[SweepData]) -> pd.DataFrame:
    """Host, interpreters, builds, library versions and commit: one column per sweep."""
    columns: dict[str, dict[str, Any]] = {}
    for data in sweeps:
        sweep, host = data.sweep, data.sweep.host or {}
        facts: dict[str, Any] = {
            "status": f"{sweep.status}, {len(data.results)}/{sweep.cell_count} cells",
            "started (UTC)": f"{sweep.created_at:%Y-%m-%d %H:%M}",
            "CPU": host.get("cpu_model"),
            "cores (physical / logical / usable)": "{} / {} / {}".format(
                host.get("physical_cores"), host.get("logical_cores"), host.get("usable_cores")
            ),
            "memory (GiB)": host.get("memory_total_gib"),
            "OS": host.get("os") or host.get("platform"),
        }
        for info in sweep.interpreters:
            if info.get("unavailable"):
                facts[f"interpreter: {info.get('role')}"] = f"unavailable: {info['unavailable']}"
                continue
            build = "free-threaded build" if info.get("free_threaded_build") else "default build"
            facts[f"interpreter: {info.get('label') or info.get('role')}"] = (
                f"{info.get('version')} ({build}) {info.get('path')}"
            )
        for name, version in sorted(sweep.library_versions.items()):
            facts[f"library: {name}"] = version or "not installed"
        facts["git commit"] = sweep.git_commit or "unknown"
        columns[sweep.name] = facts
    return pd.DataFrame(columns).fillna("")


def repeats_frame(
    frame: pd.DataFrame, workload: str, method: str, workers: int, images: int
) -> pd.DataFrame:
    """One cell's timed repeats, one row per repeat (for the exploration notebook)."""
    cell = frame[
        (frame["workload"] == workload)
        & (frame["method"] == method)
        & (frame["workers"] == workers)
        & (frame["images"] == images)
    ]
    rows = []
    for _, row in cell.iterrows():
        for index, wall in enumerate(row["wall_times_s"] or [], start=1):
            rows.append({"interpreter": row["interpreter"], "repeat": index, "wall_s": wall})
    return pd.DataFrame(rows, columns=["interpreter", "repeat", "wall_s"])


def export_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write the results frame as CSV (lists as JSON-like text), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    frame.to_csv(partial, index=False)
    partial.replace(path)
    return path


def comparison_frame(
    reference: SweepData, other: SweepData, relative: bool = False
) -> pd.DataFrame:
    """`other` vs `reference`, cell by cell (nogilbench.results.compare), significant cells first;
    `relative`: each cell's time relative to its group's sync (host drift cancels)."""
    from nogilbench.results.compare import compare_sweeps

    compared = compare_sweeps(reference.results, other.results, relative=relative)
    rows = [cell.as_dict() for cell in compared]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["B / A"] = [
        f"{r:.3f}x [{lo:.3f}, {hi:.3f}]"
        for r, lo, hi in zip(frame["ratio"], frame["ratio_low"], frame["ratio_high"], strict=True)
    ]
    frame["_significant"] = frame["verdict"].isin(["B slower", "B faster"])
    frame = frame.sort_values(["_significant", "workload", "images"], ascending=[False, True, True])
    columns = ["workload", "method", "build", "workers", "images", "a_median_s", "b_median_s",
               "B / A", "verdict"]  # fmt: skip
    return (
        frame[columns]
        .rename(columns={"a_median_s": f"{reference.name} (s)", "b_median_s": f"{other.name} (s)"})
        .reset_index(drop=True)
    )


def relative_comparison_lines(reference: SweepData, other: SweepData) -> list[str]:
    """One sentence: how many cells changed relative to their group's sync, and which."""
    ratios = comparison_frame(reference, other, relative=True)
    if ratios.empty:
        return []
    changed = ratios[ratios["verdict"].isin(["B slower", "B faster"])].to_dict("records")
    listed = "; ".join(
        f"{row['workload']} {row['method']} ({row['build']}) at {row['workers']} workers, "
        f"{row['images']} images: {row['B / A']}"
        for row in changed
    )
    return [
        "Relative to each group's sync (`nogilbench compare --relative`; a host uniformly "
        f"faster or slower between the runs cancels out): {len(changed)} of {len(ratios)} "
        "cells are faster or slower (interval clear of 1, estimate beyond 5%)"
        + (f": {listed}." if listed else ".")
    ]
