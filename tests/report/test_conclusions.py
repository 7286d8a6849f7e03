"""nogilbench.report on synthetic measurements: the sentences follow the data and its
significance, ties and impossible speedups are never findings, imprecise cells are flagged,
oversubscription and unavailable methods are noted, figures are drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd
import pytest
from sqlmodel import Session

from nogilbench.cli import main
from nogilbench.concurrency.runners import MATRIX_METHODS
from nogilbench.concurrency.runners import METHODS as ALL_METHODS
from nogilbench.errors import InvalidParameter
from nogilbench.notebook import matrix
from nogilbench.report import conclusions, data, figures, racing
from nogilbench.report.render import matrix_parameters_for, read_parameters
from nogilbench.results import summarize
from nogilbench.store import repository
from nogilbench.store.models import Result, Sweep
from nogilbench.sweep.parameters import SWEEP_PARAMETERS

matplotlib.use("Agg")

FT = "cpython-3.13.5t"
DEFAULT = "cpython-3.13.5"
METHODS = ("sync", "threading", "multiprocessing", "free-threaded")
# speedups at >= 2 workers: the GIL binds pure Python; Pillow's C code releases it
PURE_PYTHON = {"sync": 1, "threading": 1.0, "multiprocessing": 1.7, "free-threaded": 1.8}
PILLOW = {"sync": 1, "threading": 1.9, "multiprocessing": 1.5, "free-threaded": 1.6}


DRIFT = (1.0, 1.04, 0.97, 1.02)  # the host's speed per round: pairing by round cancels it


def make_rows(
    walls: dict[tuple[str, str, int, int], float],
    *,
    cores: int = 2,
    spreads: dict[tuple[str, str, int, int], float] | None = None,
    baseline: dict[tuple[str, int], float] | None = None,
    unavailable: dict[str, str] | None = None,
    rounds: int = 4,
) -> list[Result]:
    """Result rows derived as a sweep derives them: per-round measurements (with a drifting
    host and a little jitter per cell) summarised by nogilbench.results.stats."""
    spreads = spreads or {}
    measurements: list[dict[str, Any]] = []

    def measure(workload: str, method: str, workers: int, images: int, wall: float,
                interpreter: str, gil: bool) -> None:  # fmt: skip
        jitter = spreads.get((workload, method, workers, images), 0.01)
        for number in range(rounds):
            wobble = 1 + jitter * ((number * 7 + workers + len(method)) % 3 - 1)
            measurements.append({
                "workload": workload, "method": method, "workers": workers, "images": images,
                "interpreter": interpreter, "round": number, "status": "ok",
                "wall_s": wall * DRIFT[number % len(DRIFT)] * wobble, "digest": "same",
                "cpu_s": wall * (min(workers, cores) if method != "sync" else 1),
                "peak_memory_mb": 150.0 * workers if method == "multiprocessing" else 40.0,
                "memory_kind": "pss", "gil_enabled": gil, "cpu_per_core": [50.0],
                "workers_observed": 1 if method == "sync" else workers,
                "details": {"cores": cores, "gil_requested": gil},
            })  # fmt: skip

    for (workload, method, workers, images), wall in walls.items():
        if method == "sync" and workers != 1:
            continue  # sync is one cell per group
        measure(workload, method, workers, images, wall, FT, method != "free-threaded")
    for (workload, images), wall in (baseline or {}).items():
        measure(workload, "sync", 1, images, wall, DEFAULT, True)
    for method, reason in (unavailable or {}).items():
        for workload in {key[0] for key in walls}:
            for workers in sorted({key[2] for key in walls}):
                measurements.append({
                    "workload": workload, "method": method, "workers": workers, "images": 100,
                    "interpreter": FT, "round": 0, "status": "unavailable", "error": reason,
                    "wall_s": None, "details": {},
                })  # fmt: skip
    default = DEFAULT if baseline else None
    rows = []
    for summary in summarize.summarize_sweep(measurements, cores, default):
        ft = summary["interpreter"] == FT
        rows.append(Result(
            sweep_id=1, interpreter_version="3.13.5", free_threaded_build=ft,
            **{k: v for k, v in summary.items() if k in Result.model_fields},
        ))  # fmt: skip
    return rows


def scaling(
    workload: str, per_method: dict[str, float], workers: tuple[int, ...] = (1, 2, 4, 8)
) -> dict[tuple[str, str, int, int], float]:
    """Wall times: sync fixed at 10 s; each method divides it by its speedup at >= 2 workers."""
    walls = {}
    for method, speedup in per_method.items():
        for count in workers:
            factor = 1.0 if method == "sync" or count == 1 else speedup
            walls[(workload, method, count, 100)] = round(10.0 / factor, 4)
    return walls


def frame_of(rows: list[Result]) -> pd.DataFrame:
    return data.results_frame(rows, "synthetic")


# --- conclusions follow the data and their significance ------------------------------------


def test_free_threaded_vs_threading_sentence_is_computed() -> None:
    rows = make_rows(scaling("pure-python", PURE_PYTHON))
    text = "\n".join(conclusions.conclusions(frame_of(rows), cores=2))
    assert "threads with the GIL reached 1.00x [" in text
    assert "removing the GIL made the threads 1.81x [1.7" in text
    assert "so the GIL serialised this work" in text
    assert "free-threaded (GIL off) was 1.06x [1.0" in text  # vs multiprocessing, paired
    assert text.count("faster than multiprocessing") == 1  # no default build: one comparison


def test_other_data_gives_other_sentences() -> None:
    rows = make_rows(scaling("pillow", PILLOW))
    text = "\n".join(conclusions.conclusions(frame_of(rows), cores=2))
    assert "the threads were slower without the GIL" in text
    assert "the fastest was threading (GIL on) at 5.37 s [" in text
    assert "GIL serialised" not in text


def test_a_tie_is_never_called_a_win() -> None:
    # free-threaded and multiprocessing 1% apart on a host whose rounds wobble by +-4%
    walls = scaling("pure-python", {"sync": 1, "multiprocessing": 1.79, "free-threaded": 1.8})
    noisy = {
        ("pure-python", method, 2, 100): 0.04 for method in ("free-threaded", "multiprocessing")
    }
    rows = make_rows(walls, spreads=noisy)
    frame = frame_of(rows)
    text = "\n".join(conclusions.conclusions(frame, cores=2))
    assert "no single winner" in text
    assert "free-threaded (GIL off) and multiprocessing were indistinguishable here" in text
    guide = "\n".join(conclusions.which_model_when(frame, cores=2))
    assert "use any of free-threaded (GIL off), multiprocessing" in guide or (
        "use any of multiprocessing, free-threaded (GIL off)" in guide
    )
    assert "beat every other model" not in guide


def test_an_impossible_speedup_is_flagged_not_reported() -> None:
    # 3x on 2 cores at 2 workers: beyond the physical limit in every round
    walls = scaling("pure-python", {"sync": 1, "threading": 1.0, "free-threaded": 3.0})
    frame = frame_of(make_rows(walls))
    ft = frame[(frame["method"] == "free-threaded") & (frame["workers"] == 2)].iloc[0]
    assert ft["anomaly"] and "physical limit of 2x" in ft["anomaly"]
    text = "\n".join(conclusions.conclusions(frame, cores=2))
    assert "Anomaly on pure-python: free-threaded (GIL off) at 2 workers" in text
    assert "Best sure speedup on pure-python: free-threaded (GIL off) reached 3.00x" not in text
    guide = "\n".join(conclusions.which_model_when(frame, cores=2))
    assert "free-threaded (GIL off) with 2 workers" not in guide  # never a "best"


def test_headline_worker_count_follows_the_cores() -> None:
    walls = scaling("pure-python", {"sync": 1, "free-threaded": 1.8, "threading": 1.0})
    rows = make_rows(walls, cores=4)
    text = "\n".join(conclusions.conclusions(frame_of(rows), cores=4))
    assert "(100 images, 4 workers)" in text
    assert data.headline_workers([1, 2, 4, 8], 2) == 2
    assert data.headline_workers([1, 2, 4, 8], 6) == 4
    assert data.headline_workers([4, 8], 2) == 4


def test_which_model_when_follows_the_data() -> None:
    walls = scaling("pure-python", PURE_PYTHON)
    guide = "\n".join(conclusions.which_model_when(frame_of(make_rows(walls)), cores=2))
    assert "use free-threaded (GIL off) with 2 workers (1.81x [" in guide
    assert "beat every other model here with 95% confidence" in guide

    slow = scaling("pure-python", {"sync": 1, "threading": 0.9, "multiprocessing": 0.8})
    guide = "\n".join(conclusions.which_model_when(frame_of(make_rows(slow)), cores=2))
    assert "stay sequential: no concurrency model was surely faster than sync" in guide

    marginal = scaling("pure-python", {"sync": 1, "threading": 1.01})
    guide = "\n".join(conclusions.which_model_when(frame_of(make_rows(marginal)), cores=2))
    assert "stay sequential" in guide


def test_build_cost_is_computed_where_the_default_build_was_measured() -> None:
    walls = scaling("pure-python", {"sync": 1, "free-threaded": 1.8})
    rows = make_rows(walls, baseline={("pure-python", 100): 8.0})
    frame = frame_of(rows)
    cost = conclusions.build_cost_frame(frame)
    assert list(cost["cost"].round(2)) == [0.25]
    assert (cost["cost_low"] <= 0.25).all() and (cost["cost_high"] >= 0.25).all()
    text = "\n".join(conclusions.build_cost(frame))
    assert f"sync on {FT} was slower than sync on the default build {DEFAULT}: time +25% [" in text
    assert conclusions.build_cost(frame_of(make_rows(walls))) == []
    ft = frame[(frame["method"] == "free-threaded") & (frame["workers"] == 2)].iloc[0]
    assert ft["speedup_default"] == pytest.approx(8.0 / (10 / 1.8), rel=0.01)  # both baselines


# --- imprecise, oversubscribed, unavailable ------------------------------------------------


def test_imprecise_cells_are_flagged_everywhere() -> None:
    walls = scaling("pure-python", {"sync": 1, "threading": 1.0, "free-threaded": 1.8})
    key = ("pure-python", "free-threaded", 2, 100)
    rows = make_rows(walls, spreads={key: 0.6})
    frame = frame_of(rows)
    assert frame["unstable"].sum() == 1
    notes = conclusions.unstable_notes(frame)
    assert len(notes) == 1 and "free-threaded (GIL off) / 2 workers / 100 images" in notes[0]
    assert "interval over 4 rounds, wider than ±10%" in notes[0]
    table = data.headline_frame(rows, "pure-python", 2)
    note = table.set_index("method").loc["free-threaded (GIL off)", "note"]
    assert "imprecise at 100 images" in note
    fig = figures.wall_time_figure(frame, 2)
    labels = [text.get_text() for legend in fig.legends for text in legend.get_texts()]
    assert figures.UNSTABLE_LABEL in labels
    stable = figures.wall_time_figure(frame_of(make_rows(walls)), 2)
    labels = [text.get_text() for legend in stable.legends for text in legend.get_texts()]
    assert figures.UNSTABLE_LABEL not in labels


def test_a_busy_host_is_reported() -> None:
    walls = scaling("pillow", {"sync": 1, "threading": 1.9})
    rows = make_rows(walls)
    assert conclusions.contention_notes(frame_of(rows)) == []
    for row in rows:
        if row.method == "sync":
            row.cpu_percent = 55.0
    notes = conclusions.contention_notes(frame_of(rows))
    assert len(notes) == 1 and notes[0].startswith("1 of 1 sync cells used less than 90%")


def test_oversubscription_is_noted_only_past_the_cores() -> None:
    walls = scaling("pillow", {"sync": 1, "threading": 1.9, "free-threaded": 1.9})
    notes = conclusions.oversubscription_notes(frame_of(make_rows(walls, cores=2)), cores=2)
    assert len(notes) == 1
    assert "Cells with 4 and 8 workers exceed the 2 usable cores" in notes[0]
    assert "cannot exceed 2x" in notes[0]
    assert conclusions.oversubscription_notes(frame_of(make_rows(walls, cores=8)), cores=8) == []
    text = "\n".join(conclusions.conclusions(frame_of(make_rows(walls, cores=2)), cores=2))
    assert "8 workers instead of 2 (beyond the 2 cores" in text


def test_unavailable_methods_are_listed_with_their_reason() -> None:
    walls = scaling("pure-python", {"sync": 1, "threading": 1.0, "multiprocessing": 1.7})
    reason = "no free-threaded interpreter: python3.13t: not on PATH"
    rows = make_rows(walls, unavailable={"free-threaded": reason})
    frame = frame_of(rows)
    notes = conclusions.unavailable_notes(frame)
    assert notes == [f"free-threaded (GIL off) on {FT}: 4 cell(s) unavailable: {reason}"]
    table = data.headline_frame(rows, "pure-python", 2).set_index("method")
    assert table.loc["free-threaded (GIL off)", "note"] == f"unavailable: {reason}"
    assert pd.isna(table.loc["free-threaded (GIL off)", "100 images (s)"])
    text = "\n".join(conclusions.conclusions(frame, cores=2))
    assert "free-threaded (GIL off) was" not in text  # nothing claimed about what did not run
    assert conclusions.unavailable_notes(frame_of(make_rows(walls))) == []


# --- frames and figures --------------------------------------------------------------------


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


# --- race ----------------------------------------------------------------------------------


def test_race_frame_sentences() -> None:
    rows = []
    for gil, lost in ((False, 51_234), (True, 0)):
        for variant in ("unsafe", "locked", "per-thread"):
            rows.append({
                "variant": variant, "trial": 0, "threads": 4, "increments": 1000,
                "expected": 400_000, "observed": 400_000 - (lost if variant == "unsafe" else 0),
                "lost": lost if variant == "unsafe" else 0, "seconds": 0.1,
                "gil_enabled": gil, "gil_requested": gil,
            })  # fmt: skip
    frame = racing.race_frame(rows)
    assert racing.safe_variant_lines(frame) == [
        "GIL off, with lock: 0 lost", "GIL off, per-thread counters merged: 0 lost",
        "GIL on, with lock: 0 lost", "GIL on, per-thread counters merged: 0 lost",
    ]  # fmt: skip
    text = "\n".join(racing.race_conclusions(frame))
    assert "GIL off: the unlocked shared counter lost updates in 1 of 1 trials" in text
    assert "the GIL hid the race" in text
    assert racing.race_figure(frame) is not None


# --- matrix parameters and the CLI ---------------------------------------------------------


def test_sweep_config_from_notebook_parameters() -> None:
    params = read_parameters(data.PROJECT_ROOT / "notebooks" / "params" / "full.yaml")
    config = matrix.sweep_config(
        "x", **{k: params[k] for k in SWEEP_PARAMETERS if k in params}
    )  # fmt: skip
    assert config.image_size == (960, 640)
    matrix_methods = [m for m in config.methods if m in MATRIX_METHODS]
    assert len(config.images) * len(config.workers) * len(matrix_methods) == 48
    assert set(config.methods) == set(ALL_METHODS) and config.past_cores == "same-binary"
    weak = read_parameters(data.PROJECT_ROOT / "notebooks" / "params" / "weak.yaml")
    weak_config = matrix.sweep_config(
        "w", **{k: weak[k] for k in SWEEP_PARAMETERS if k in weak}
    )  # fmt: skip
    assert weak_config.scaling == "weak" and weak_config.image_counts() == [10, 20, 40, 80]
    assert matrix.sweep_config("x", ["pillow"], [2], [1], ["sync"], 1, [64, 48]).image_size == (
        64,
        48,
    )
    with pytest.raises(InvalidParameter):
        matrix.sweep_config("x", ["nope"], [2], [1], ["sync"], 1, "64x48")
    stored = config.parameters()
    assert matrix_parameters_for("x", None, stored) == stored  # resume: the sweep's own


def _store_synthetic_sweep(url: str) -> None:
    engine = repository.open_store(url)
    with Session(engine) as session:
        sweep = Sweep(name="synthetic", parameters={}, host={"usable_cores": 2}, cell_count=3)
        session.add(sweep)
        session.commit()
        for number, wall in enumerate((10.0, 11.0, 9.5)):
            for method, workers, speedup in (("sync", 1, 1), ("threading", 2, 1.9)):
                repository.save_measurement(session, sweep.id, {
                    "workload": "pillow", "method": method, "workers": workers, "images": 100,
                    "interpreter": FT, "round": number, "status": "ok",
                    "wall_s": wall / speedup, "digest": "d", "details": {"cores": 2},
                })  # fmt: skip
        summarize.refresh_results(session, sweep.id)
    engine.dispose()


def test_cli_report_print_keeps_the_tables(tmp_path: Path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    _store_synthetic_sweep(url)
    assert main(["report", "--print", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert "pillow: median wall time at 2 workers" in out
    assert "threading" in out


def test_cli_report_errors_are_one_line(tmp_path: Path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["report", "--no-sweep", "--database-url", url]) == 2
    assert "holds no sweep yet" in capsys.readouterr().err
    code = main(["report", "--params", str(tmp_path / "missing.yaml"), "--database-url", url])
    assert code == 2
    assert "no parameter file" in capsys.readouterr().err
    assert main(["report", "--no-sweep", "--sweep", "nope", "--database-url", url]) == 2
    assert "no sweep named 'nope'" in capsys.readouterr().err


def test_asyncio_and_subinterpreters_enter_the_comparisons() -> None:
    # sub-interpreters tie with free-threaded threads; asyncio (one thread's loop) is slower
    walls = scaling(
        "pure-python",
        {"sync": 1, "free-threaded": 1.8, "subinterpreters": 1.79, "asyncio": 1.0},
        workers=(1, 2),
    )
    noisy = {("pure-python", m, 2, 100): 0.04 for m in ("free-threaded", "subinterpreters")}
    frame = frame_of(make_rows(walls, spreads=noisy))
    text = "\n".join(conclusions.conclusions(frame, cores=2))
    tie = "free-threaded (GIL off) and subinterpreters (GIL off) were indistinguishable here"
    assert tie in text
    assert "was 1.81x [1.7" in text and "faster than asyncio (GIL off) on pure-python" in text
    cpu = next(line for line in text.splitlines() if line.startswith("CPU use"))
    assert "asyncio " in cpu and "subinterpreters " in cpu


def test_tied_best_speedups_name_no_single_best() -> None:
    """Two methods a hair apart at the top (what flipped between runs): both are listed with
    their intervals, neither is called the best; a clear leader still is."""
    tied = frame_of(make_rows(scaling("pillow", {"sync": 1, "threading": 1.90,
                                                  "free-threaded": 1.91})))  # fmt: skip
    text = "\n".join(conclusions.conclusions(tied, cores=2))
    assert "Best sure speedup on pillow" not in text
    assert "Highest sure speedups on pillow, with overlapping intervals (no single best" in text
    assert "threading (GIL on) 1.9" in text and "free-threaded (GIL off) 1.9" in text
    clear = frame_of(make_rows(scaling("pillow", {"sync": 1, "threading": 1.2,
                                                   "free-threaded": 1.9})))  # fmt: skip
    text = "\n".join(conclusions.conclusions(clear, cores=2))
    assert "Best sure speedup on pillow: free-threaded (GIL off) reached 1.9" in text
