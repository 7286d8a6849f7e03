"""The results store round-trips on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlmodel import Session

from nogilbench.errors import InvalidParameter, StoreUnavailable
from nogilbench.store import repository
from nogilbench.store.db import make_engine


def row(method: str, workers: int, median: float, **extra: object) -> dict:
    walls = [median * 0.9, median, median * 1.2]
    base = {
        "workload": "pillow", "method": method, "workers": workers, "images": 10,
        "interpreter": "cpython-3.13.5t", "status": "ok", "repeats": 3, "cores": 2,
        "wall_times_s": walls, "wall_median_s": median, "wall_min_s": min(walls),
        "wall_max_s": max(walls), "cpu_per_core": [50.0, 40.0], "gil_enabled": True,
    }  # fmt: skip
    return {**base, **extra}


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


def test_round_trip_and_derived_columns(store_url: str) -> None:
    engine = repository.open_store(store_url)
    assert {"sweeps", "results", "alembic_version_nogilbench"} <= set(
        inspect(engine).get_table_names()
    )
    with Session(engine) as session:
        sweep = repository.start_or_resume_sweep(
            session, "s1", {"repeats": 3}, host={"cpu_model": "x"}, git_commit="abc"
        )
        repository.save_result(session, sweep.id, row("threading", 4, 0.5, oversubscribed=True))
        repository.save_result(session, sweep.id, row("sync", 1, 1.0))
        # sync replicates at other worker counts: the baseline is their median (1.0 here)
        repository.save_result(session, sweep.id, row("sync", 2, 0.8))
        repository.save_result(session, sweep.id, row("sync", 4, 1.25))
        repository.save_result(session, sweep.id, row("free-threaded", 2, 0.25, gil_enabled=False))
        assert repository.save_result(session, sweep.id, row("sync", 1, 9.0)) is None  # duplicate
        results = {r.method: r for r in repository.results_for(session, [sweep.id])}
    assert len(results) == 3  # one per method: the sync dict entry is the last replicate
    with Session(engine) as session:
        stored = repository.results_for(session, [sweep.id])
    assert len(stored) == 5
    sync_rows = {r.workers: r for r in stored if r.method == "sync"}
    assert sync_rows[1].wall_median_s == 1.0  # the duplicate did not overwrite
    assert sync_rows[2].speedup == 1.25 and sync_rows[4].speedup == 0.8
    assert results["threading"].speedup == 2.0
    assert results["threading"].efficiency == 1.0  # 2x over min(4 workers, 2 cores)
    assert results["free-threaded"].speedup == 4.0 and results["free-threaded"].efficiency == 2.0
    assert results["free-threaded"].gil_enabled is False
    assert sync_rows[1].wall_times_s == [0.9, 1.0, 1.2]
    # Opening again runs migrations again: a no-op, nothing lost.
    engine = repository.open_store(store_url)
    with Session(engine) as session:
        assert len(repository.results_for(session, [sweep.id])) == 5
        assert repository.get_sweep_by_name(session, "s1").host == {"cpu_model": "x"}


def test_resume_needs_same_parameters(store_url: str) -> None:
    engine = repository.open_store(store_url)
    with Session(engine) as session:
        first = repository.start_or_resume_sweep(session, "s2", {"repeats": 3})
        again = repository.start_or_resume_sweep(session, "s2", {"repeats": 3})
        assert first.id == again.id
        with pytest.raises(InvalidParameter, match="other parameters"):
            repository.start_or_resume_sweep(session, "s2", {"repeats": 5})


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://nobody:secret@127.0.0.1:1/none",
        "not a url",
        "sqlite:////proc/forbidden/dir/x.db",
    ],
)
def test_unreachable_store_is_one_clear_error(url: str) -> None:
    with pytest.raises(StoreUnavailable) as caught:
        make_engine(url)
    assert "\n" not in caught.value.message
    assert "secret" not in caught.value.message


def test_concurrent_first_opens_migrate_once(store_url: str) -> None:
    """A sweep and the API starting together on a fresh database both succeed."""
    import subprocess
    import sys

    script = (
        "import sys; from nogilbench.store.repository import open_store; open_store(sys.argv[1])"
    )
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", script, store_url], stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1] for p in starters]
    assert [p.returncode for p in starters] == [0] * 4, errors
