"""The race demo: lost updates with the GIL off, none with a lock or per-thread counters."""

from __future__ import annotations

from nogilbench.host.interpreters import InterpreterInfo
from nogilbench.sweep.race import race_demo, run_trial


def test_locked_and_per_thread_never_lose_here() -> None:
    for variant in ("locked", "per-thread"):
        trial = run_trial(variant, threads=4, increments=20_000)
        assert trial.lost == 0 and trial.observed == trial.expected == 80_000


def test_free_threaded_loses_updates_without_lock(ft_interpreter: InterpreterInfo) -> None:
    rows = race_demo(ft_interpreter, threads=4, increments=100_000, trials=3)
    off = [r for r in rows if r["gil_requested"] is False]
    on = [r for r in rows if r["gil_requested"] is True]
    assert {r["gil_enabled"] for r in off} == {False} and {r["gil_enabled"] for r in on} == {True}
    assert sum(r["lost"] for r in off if r["variant"] == "unsafe") > 0
    assert all(r["lost"] == 0 for r in rows if r["variant"] in ("locked", "per-thread"))
    assert all(r["expected"] == 400_000 for r in rows)
