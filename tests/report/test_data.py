"""nogilbench.report.data: the results frame, the headline table, the repeats of a cell, the
store's URL."""

from __future__ import annotations

import matplotlib

from nogilbench.report import data, figures
from tests.support.results import METHODS, frame_of, make_rows, scaling

matplotlib.use("Agg")


def test_results_frame_and_headline_table_shape() -> None:
    walls = scaling("pillow", {m: 1.5 for m in METHODS}) | scaling(
        "pure-python", {m: 1.5 for m in METHODS}
    )
    rows = make_rows(walls, baseline={("pillow", 100): 9.0, ("pure-python", 100): 9.0})
    frame = frame_of(rows)
    assert list(frame.columns) == list(data.RESULT_COLUMNS)
    assert len(frame) == 2 * (1 + 3 * 4) + 2  # sync once per group, + the default build's
    assert set(frame["build"]) == {"free-threaded", "default"}
    assert len(data.main_rows(frame)) == 26
    table = data.headline_frame(rows, "pillow", 2)
    assert list(table["method"]) == [
        "sync", "sync [default build]", "threading (GIL on)", "multiprocessing",
        "free-threaded (GIL off)",
    ]  # fmt: skip
    assert list(table.columns) == [
        "method", "100 images (s)", "memory (MB)", "CPU %", "speedup vs sync, same build",
        "speedup vs sync, default build", "note",
    ]  # fmt: skip
    assert data.style_headline(table).to_html().count("<tr>") >= 6
    coverage = data.coverage_frame(frame)
    assert coverage["ok"].sum() == 28


def test_repeats_frame_lists_each_repeat() -> None:
    frame = frame_of(make_rows(scaling("pillow", {"sync": 1, "threading": 1.5})))
    repeats = data.repeats_frame(frame, "pillow", "threading", 2, 100)
    assert list(repeats["repeat"]) == [1, 2, 3, 4]
    assert figures.repeats_figure(repeats, "x") is not None
    assert data.repeats_frame(frame, "pillow", "threading", 3, 100).empty


def test_relative_sqlite_urls_are_taken_from_the_project_root() -> None:
    resolved = data.resolve_database_url("sqlite:///data/x.db")
    assert resolved == f"sqlite:///{data.PROJECT_ROOT / 'data' / 'x.db'}"
    assert data.resolve_database_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert data.resolve_database_url("postgresql+psycopg://u:p@h/db") == (
        "postgresql+psycopg://u:p@h/db"
    )
    assert data.resolve_database_url(None) is None
