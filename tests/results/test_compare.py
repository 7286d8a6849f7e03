"""`nogilbench compare`: cell by cell, significance, and a regression gate."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from nogilbench.cli.main import main
from nogilbench.results import summarize
from nogilbench.results.compare import compare_sweeps, regressions
from nogilbench.store import repository
from nogilbench.store.models import Result

FT = "cpython-3.13.5t"


def result(method: str, walls: list[float], **extra: object) -> Result:
    median = sorted(walls)[len(walls) // 2]
    values = {
        "workload": "pillow", "method": method, "workers": 2, "images": 10, "interpreter": FT,
        "free_threaded_build": True, "status": "ok", "wall_times_s": walls,
        "wall_median_s": median, **extra,
    }  # fmt: skip
    return Result(sweep_id=1, **values)


def test_significance_call_per_cell() -> None:
    a = [result("sync", [1.0, 1.02, 0.98, 1.01]), result("threading", [0.5, 0.52, 0.49, 0.51])]
    b = [result("sync", [1.01, 0.99, 1.0, 1.02]), result("threading", [0.7, 0.72, 0.69, 0.71])]
    compared = {c.key[1]: c for c in compare_sweeps(a, b)}
    assert compared["sync"].verdict == "not significant"
    assert compared["threading"].verdict == "B slower"
    assert 1.3 < compared["threading"].ratio.low < compared["threading"].ratio.high < 1.5
    assert [c.key[1] for c in regressions(list(compared.values()), 0.10)] == ["threading"]
    assert regressions(list(compared.values()), 0.50) == []


def test_cells_match_across_interpreter_labels_and_skip_failures() -> None:
    a = [result("sync", [1.0, 1.1, 0.9]), result("threading", [1.0, 1.0, 1.0], status="error")]
    b = [result("sync", [1.0, 1.1, 0.9], interpreter="cpython-3.14.0t")]
    assert [c.key[1] for c in compare_sweeps(a, b)] == ["sync"]


def _store(url: str, name: str, walls: dict[str, list[float]]) -> None:
    engine = repository.open_store(url)
    with Session(engine) as session:
        sweep = repository.start_or_resume_sweep(session, name, {}, host={"usable_cores": 2})
        for method, values in walls.items():
            for number, wall in enumerate(values):
                repository.save_measurement(session, sweep.id, {
                    "workload": "pillow", "method": method, "workers": 1 if method == "sync" else 2,
                    "images": 10, "interpreter": FT, "round": number, "status": "ok",
                    "wall_s": wall, "digest": "d", "details": {"cores": 2},
                })  # fmt: skip
        summarize.refresh_results(session, sweep.id)
    engine.dispose()


def test_cli_compare_gates_on_a_regression(tmp_path: Path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    _store(url, "before", {"sync": [1.0, 1.02, 0.99], "threading": [0.5, 0.51, 0.5]})
    _store(url, "after", {"sync": [1.01, 1.0, 0.98], "threading": [0.8, 0.81, 0.79]})
    assert main(["compare", "before", "after", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert "B slower" in out and "2 cells compared: 1 significantly slower in B" in out
    assert main(["compare", "before", "after", "--fail-on", "10%", "--database-url", url]) == 1
    assert "significantly slower than before by 10% or more" in capsys.readouterr().out
    assert main(["compare", "before", "before", "--fail-on", "5", "--database-url", url]) == 0
    assert main(["compare", "before", "nope", "--database-url", url]) == 2
    assert "no sweep named 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["compare", "a", "b", "--fail-on", "lots"])
    assert usage.value.code == 2


def test_relative_compare_ignores_a_uniform_host_drift() -> None:
    """B's host is 8% slower for every cell: absolute times differ, ratios to sync do not;
    a real change in one model against sync still shows."""
    rounds = [0, 1, 2, 3]
    sync = [1.0, 1.03, 0.98, 1.01]
    threads = [0.5, 0.52, 0.49, 0.5]
    a = [
        result("sync", sync, wall_rounds=rounds, workers=1),
        result("threading", threads, wall_rounds=rounds),
    ]
    drifted = [
        result("sync", [w * 1.08 for w in sync], wall_rounds=rounds, workers=1),
        result("threading", [w * 1.08 for w in threads], wall_rounds=rounds),
    ]
    absolute = {c.key[1]: c.verdict for c in compare_sweeps(a, drifted)}
    assert absolute == {"sync": "B slower", "threading": "B slower"}
    relative = compare_sweeps(a, drifted, relative=True)
    assert [(c.key[1], c.verdict) for c in relative] == [("threading", "not significant")]
    changed = [drifted[0], result("threading", [w * 1.3 for w in threads], wall_rounds=rounds)]
    (cell,) = compare_sweeps(a, changed, relative=True)
    assert cell.verdict == "B slower" and 1.15 < cell.ratio.estimate < 1.25
