"""nogilbench.report.conclusions on synthetic measurements: the sentences follow the data and
its significance, ties and impossible speedups are never findings, imprecise cells are flagged,
oversubscription and unavailable methods are noted."""

from __future__ import annotations

import matplotlib
import pandas as pd
import pytest

from nogilbench.report import conclusions, data, figures
from tests.support.results import DEFAULT, FT, PILLOW, PURE_PYTHON, frame_of, make_rows, scaling

matplotlib.use("Agg")


# --- conclusions follow the data and their significance ------------------------------------


def test_free_threaded_vs_threading_sentence_is_computed() -> None:
    rows = make_rows(scaling("pure-python", PURE_PYTHON))
    text = "\n".join(conclusions.conclusions(frame_of(rows), cores=2))
    assert "threads with the GIL reached 1.00x [" in text
    assert "removing the GIL made the threads 1.81x [1.7" in text
    assert "so the GIL serialised this work" in text
    # vs multiprocessing, paired; at 4 rounds a rerun would not repeat it 9 times in 10
    assert "free-threaded (GIL off) faster than multiprocessing by 1.06x [1.0" in text
    assert "not settled: a rerun would repeat it about" in text
    assert text.count("faster than multiprocessing") == 1  # no default build: one comparison


def test_other_data_gives_other_sentences() -> None:
    rows = make_rows(scaling("pillow", PILLOW))
    text = "\n".join(conclusions.conclusions(frame_of(rows), cores=2))
    assert "the threads were 1.18x [" in text and "slower without the GIL" in text
    # 18% apart: both in the leading tier (a third); the finer comparison stated on its own
    assert "the leading tier was threading (GIL on) 5.3" in text
    assert "none of them was surely more than 33% behind another" in text
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
    assert "the leading tier was multiprocessing" in text or (
        "the leading tier was free-threaded (GIL off)" in text
    )
    assert "none of them was surely more than 33% behind another" in text
    assert "this run cannot tell free-threaded (GIL off) and multiprocessing apart" in text
    guide = "\n".join(conclusions.which_model_when(frame, cores=2))
    assert "use any of free-threaded (GIL off), multiprocessing" in guide or (
        "use any of multiprocessing, free-threaded (GIL off)" in guide
    )
    assert "every other configuration was surely slower, by more than" not in guide


def test_an_impossible_speedup_is_flagged_not_reported() -> None:
    # 3x on 2 cores at 2 workers: beyond the physical limit in every round
    walls = scaling("pure-python", {"sync": 1, "threading": 1.0, "free-threaded": 3.0})
    frame = frame_of(make_rows(walls))
    ft = frame[(frame["method"] == "free-threaded") & (frame["workers"] == 2)].iloc[0]
    assert ft["anomaly"] and "physical limit of 2x" in ft["anomaly"]
    text = "\n".join(conclusions.conclusions(frame, cores=2))
    assert "Anomaly on pure-python: free-threaded (GIL off) at 2 workers" in text
    # an anomaly annotates the cell wherever it is named; it is never silently removed
    guide = "\n".join(conclusions.which_model_when(frame, cores=2))
    assert "free-threaded (GIL off): flagged as a measurement anomaly" in guide
    assert "free-threaded (GIL off): flagged as a measurement anomaly" in text


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
    # free-threaded 1.81x and multiprocessing 1.7x: one tier; sync and GIL threads 1.8x behind
    assert "use any of free-threaded (GIL off), multiprocessing with 2 workers" in guide
    assert "every other configuration was surely more than 33% slower than one of them" in guide

    alone = scaling("pure-python", {"sync": 1, "threading": 1.0, "free-threaded": 1.8})
    guide = "\n".join(conclusions.which_model_when(frame_of(make_rows(alone)), cores=2))
    assert "use free-threaded (GIL off) with 2 workers (1.81x [" in guide
    assert "every other configuration was surely slower, by more than 33%" in guide

    slow = scaling("pure-python", {"sync": 1, "threading": 0.7, "multiprocessing": 0.6})
    guide = "\n".join(conclusions.which_model_when(frame_of(make_rows(slow)), cores=2))
    assert "stay sequential: every concurrency model was surely slower than sync" in guide

    marginal = scaling("pure-python", {"sync": 1, "threading": 1.01})
    guide = "\n".join(conclusions.which_model_when(frame_of(make_rows(marginal)), cores=2))
    assert "no concurrency model was surely faster than sync by more than 33%" in guide


def test_build_cost_is_computed_where_the_default_build_was_measured() -> None:
    walls = scaling("pure-python", {"sync": 1, "free-threaded": 1.8})
    rows = make_rows(walls, baseline={("pure-python", 100): 8.0})
    frame = frame_of(rows)
    cost = conclusions.build_cost_frame(frame)
    assert list(cost["cost"].round(2)) == [0.25]
    assert (cost["cost_low"] <= 0.25).all() and (cost["cost_high"] >= 0.25).all()
    text = "\n".join(conclusions.build_costs(frame))
    assert f"sync on {FT} was slower than sync on the default build {DEFAULT}: time +25% [" in text
    assert conclusions.build_costs(frame_of(make_rows(walls))) == []
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
    assert "(88%, median) over 4 rounds, wider than ±10%" in notes[0]
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
    assert "ree-threaded (GIL off) was" not in text  # nothing claimed about what did not run
    assert conclusions.unavailable_notes(frame_of(make_rows(walls))) == []


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
    tie = "this run cannot tell free-threaded (GIL off) and subinterpreters (GIL off) apart"
    assert tie in text
    assert "was 1.81x [1.6" in text and "faster than asyncio (GIL off) (" in text
    cpu = next(line for line in text.splitlines() if line.startswith("CPU use"))
    assert "asyncio " in cpu and "subinterpreters " in cpu


def test_tied_leaders_name_no_single_best() -> None:
    """Two methods a hair apart at the top (what flipped between runs): both are named as the
    leaders, neither is called the fastest; a clear leader still is."""
    tied = frame_of(make_rows(scaling("pillow", {"sync": 1, "threading": 1.90,
                                                  "free-threaded": 1.91})))  # fmt: skip
    text = "\n".join(conclusions.conclusions(tied, cores=2))
    assert "the fastest was" not in text
    assert "within 5% of each other" in text or "cannot order them" in text
    assert "free-threaded (GIL off) 5.2" in text and "threading (GIL on) 5.3" in text
    clear = frame_of(make_rows(scaling("pillow", {"sync": 1, "threading": 1.2,
                                                   "free-threaded": 1.9})))  # fmt: skip
    text = "\n".join(conclusions.conclusions(clear, cores=2))
    assert "the fastest was free-threaded (GIL off) at 5.2" in text
