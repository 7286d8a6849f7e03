"""nogilbench.report.figures: every figure draws from synthetic data."""

from __future__ import annotations

from pathlib import Path

import matplotlib

from nogilbench.report import figures
from tests.support.results import METHODS, frame_of, make_rows, scaling

matplotlib.use("Agg")


def test_every_figure_draws_from_synthetic_data(tmp_path: Path) -> None:
    walls = scaling("pillow", {m: 1.5 for m in METHODS}) | scaling(
        "pure-python", {m: 1.8 for m in METHODS}
    )
    frame = frame_of(make_rows(walls, baseline={("pillow", 100): 9.0, ("pure-python", 100): 9.0}))
    for name, draw in figures.FIGURES.items():
        fig = draw(frame, 2)
        assert fig is not None, name
        path = figures.save_figure(fig, name, tmp_path)
        assert path.stat().st_size > 10_000
    empty = frame_of(make_rows(walls))
    assert figures.build_cost_figure(empty, 2) is None
