"""What every section of the conclusions shares: the questions of a results frame, the
rounds of its cells, the names of cells and how numbers are printed.

Every sentence is built from a `results.questions.Question` and decided by
`results.decisions` (one procedure, one margin, one multiplicity rule), so two sentences
about the same cells always read the same intervals.
"""

from __future__ import annotations

import math

import pandas as pd

from nogilbench.model import CellKey
from nogilbench.report.data import main_interpreter_of, method_label, ok_rows
from nogilbench.results import stats
from nogilbench.results.decisions import interval_text
from nogilbench.results.questions import Question, cell_rounds, questions

Rounds = dict[int, float]


def main_of(frame: pd.DataFrame) -> str | None:
    return main_interpreter_of(frame)


def default_build_of(frame: pd.DataFrame) -> str | None:
    """The default (GIL) build's interpreter label in the frame, if it holds one."""
    main = main_of(frame)
    rows = frame[(frame["build"] == "default") & (frame["interpreter"] != main)]
    return None if rows.empty else str(rows["interpreter"].iloc[0])


def questions_of(frame: pd.DataFrame, cores: int) -> list[Question]:
    rows = ok_rows(frame).to_dict("records")
    return questions(rows, cores, main_of(frame), default_build_of(frame))


def rounds_of(frame: pd.DataFrame) -> dict[CellKey, Rounds]:
    """round -> wall time of every measured cell of the frame (`questions.cell_rounds`)."""
    return cell_rounds(ok_rows(frame).to_dict("records"))


def row_of(frame: pd.DataFrame, key: CellKey) -> pd.Series | None:
    workload, method, workers, images, interpreter = key
    rows = frame[
        (frame["workload"] == workload) & (frame["method"] == method)
        & (frame["workers"] == workers) & (frame["images"] == images)
        & (frame["interpreter"] == interpreter)
    ]  # fmt: skip
    return None if rows.empty else rows.iloc[0]


def name_of(name: tuple[str, str], main: str | None) -> str:
    """'free-threaded (GIL off)', 'multiprocessing [default build]'."""
    method, interpreter = name
    return method_label(method, interpreter, main)


def workers_text(count: int) -> str:
    return f"{count} worker" if int(count) == 1 else f"{count} workers"


def geometric_time(rounds: Rounds, shared: list[int]) -> float:
    """The geometric mean of a cell's times over `shared` rounds: the time its ratios imply
    (a paired ratio is the ratio of these, not of medians)."""
    values = [rounds[number] for number in shared]
    return math.exp(sum(math.log(value) for value in values) / len(values))


def speedup_text(cell: pd.Series | None) -> str:
    """A cell's speedup over sync of its build, paired by round, with the interval's level."""
    if cell is None or pd.isna(cell.get("speedup")):
        return "no sync baseline"
    low, high = cell.get("speedup_low"), cell.get("speedup_high")
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return f"{cell['speedup']:.2f}x"
    rounds = int(cell.get("repeats") or 0)
    interval = stats.Interval(
        float(cell["speedup"]), float(low), float(high), stats.CONFIDENCE, "paired t", rounds
    )
    return interval_text(interval)


def level_of_wall(cell: pd.Series) -> str:
    level = cell.get("wall_confidence")
    return f"{level:.0%}" if level is not None and pd.notna(level) else "?"


def wall_text(cell: pd.Series) -> str:
    """'1.23 s [1.20, 1.31] (95%)': the median time with its order-statistics interval."""
    low, high = cell.get("wall_low_s"), cell.get("wall_high_s")
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return f"{cell['wall_median_s']:.2f} s"
    return f"{cell['wall_median_s']:.2f} s [{low:.2f}, {high:.2f}] ({level_of_wall(cell)}, median)"
