"""nogilbench.notebook.explore: the helpers behind explore.ipynb (store listing, one cell's
timed values and interval, the pivot, the two-sweep overlay, the widget panels)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure
from sqlmodel import Session

from nogilbench.errors import InvalidParameter
from nogilbench.notebook import explore
from nogilbench.store import repository

MAIN = "cpython-3.13.5t"


def _row(method: str, workers: int, times: list[float], **extra: object) -> dict:
    return {
        "workload": "pure-python", "method": method, "workers": workers, "images": 4,
        "interpreter": MAIN, "status": "ok", "wall_times_s": times,
        "wall_median_s": sorted(times)[len(times) // 2] if times else None, **extra,
    }  # fmt: skip


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        [
            _row("sync", 1, [1.0, 1.1, 0.9]),
            _row("sync", 2, [1.0, 1.0, 1.0]),
            _row("free-threaded", 1, [1.0, 1.2, 1.1]),
            _row("free-threaded", 2, [0.5, 0.6, 0.55]),
            _row("sync", 1, [0.8, 0.8, 0.8], interpreter="cpython-3.13.5"),
            _row("threading", 2, [], status="error", wall_median_s=None),
        ]
    )


def test_cell_values_picks_the_main_interpreter_and_summarises(frame: pd.DataFrame) -> None:
    cell = explore.cell_values(frame, "pure-python", "sync", 1, 4)
    assert cell.interpreter == MAIN and cell.values == (1.0, 1.1, 0.9)
    assert cell.median == pytest.approx(1.0)
    assert cell.interval is not None and cell.interval.low <= 1.0 <= cell.interval.high
    # three rounds: the min-max, whose level (75%) is said, never passed off as 95%
    assert "3 timed values, median 1.000 s, 75% interval 0.900–1.100 s" in cell.summary()
    baseline = explore.cell_values(frame, "pure-python", "sync", 1, 4, "cpython-3.13.5")
    assert baseline.values == (0.8, 0.8, 0.8)
    assert list(cell.table()["wall time (s)"]) == [1.0, 1.1, 0.9]
    assert isinstance(explore.cell_figure(cell), Figure)


def test_cell_values_of_a_missing_cell_is_one_clear_error(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidParameter, match="no cell pure-python / free-threaded / 8 workers"):
        explore.cell_values(frame, "pure-python", "free-threaded", 8, 4)


def test_a_single_value_has_no_interval_and_says_why(frame: pd.DataFrame) -> None:
    one = pd.DataFrame([_row("sync", 1, [2.0])])
    cell = explore.cell_values(one, "pure-python", "sync", 1, 4)
    assert cell.interval is None and "gives no interval" in cell.summary()


def test_pivot_is_methods_by_workers_of_cells_that_ran(frame: pd.DataFrame) -> None:
    table = explore.wall_time_pivot(frame, "pure-python")
    assert list(table.columns) == [1, 2]
    assert "threading (GIL on)" not in table.index  # the error row is left out
    assert table.loc["free-threaded (GIL off)", 2] == pytest.approx(0.55)
    assert any("default build" in label for label in table.index)


def test_overlay_draws_both_sweeps_in_their_own_line_style(frame: pd.DataFrame) -> None:
    other = frame.assign(wall_median_s=frame["wall_median_s"] * 2)
    fig = explore.overlay_figure([("a", frame), ("b", other)], "pure-python")
    assert isinstance(fig, Figure)
    styles = {line.get_linestyle() for line in fig.axes[0].get_lines() if len(line.get_xdata())}
    assert {"-", "--"} <= styles
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)  # opaque white: readable on dark themes
    elsewhere = frame.assign(images=8)
    assert explore.overlay_figure([("a", frame), ("b", elsewhere)], "pure-python") is None


def test_other_sweep_choice() -> None:
    names = ["first", "second", "third"]
    assert explore.other_sweep(names, "third") == "second"
    assert explore.other_sweep(names, "second") == "third"
    assert explore.other_sweep(["only"], "only") is None
    assert explore.other_sweep(names, "third", "first") == "first"
    with pytest.raises(InvalidParameter, match="no sweep named 'nope'"):
        explore.other_sweep(names, "third", "nope")


def test_widget_panels_build_without_a_frontend(frame: pd.DataFrame) -> None:
    panel = explore.cell_picker(frame, workload="pure-python", method="sync", workers=2)
    controls = panel.children[0].children
    assert [c.description for c in controls] == ["workload", "method", "workers", "images"]
    assert controls[1].value == "sync" and controls[2].value == 2
    assert "one sweep" in explore.overlay_picker(None, ["only"], "only").value


def test_sweeps_frame_lists_the_stored_sweeps(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine = repository.open_store(url)
    with Session(engine) as session:
        for name in ("older", "newer"):
            repository.start_or_resume_sweep(
                session, name, {"workloads": ["pillow"]}, cell_count=3, host={"cpu_model": "X"}
            )
    engine.dispose()
    listed = explore.sweeps_frame(url)
    assert list(listed["sweep"]) == ["older", "newer"]
    assert list(listed["cells"]) == ["0/3", "0/3"]
    assert list(listed["workloads"]) == ["pillow", "pillow"]
    assert explore.newest_sweep(listed, url) == "newer"


def test_an_empty_store_says_to_run_the_report_first(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(InvalidParameter, match=r"no sweep stored in sqlite:///.*empty\.db yet"):
        explore.newest_sweep(explore.sweeps_frame(url), url)
