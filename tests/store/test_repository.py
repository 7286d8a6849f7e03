"""The results store round-trips on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlmodel import Session

from nogilbench.errors import InvalidParameter, StoreUnavailable, SweepBusy
from nogilbench.results import summarize
from nogilbench.store import repository
from nogilbench.store.db import make_engine


def rounds(method: str, workers: int, walls: list[float], **extra: object) -> list[dict]:
    """One measurement row per round of one cell (what the sweep stores)."""
    cell = {
        "workload": "pillow", "method": method, "workers": workers, "images": 10,
        "interpreter": "cpython-3.13.5t", "status": "ok", "cpu_per_core": [50.0, 40.0],
        "gil_enabled": True, "digest": "d1", "details": {"cores": 2},
        "workers_observed": 1 if method == "sync" else workers,
    }  # fmt: skip
    return [
        {**cell, "round": number, "wall_s": wall, "cpu_s": wall, **extra}
        for number, wall in enumerate(walls)
    ]


SYNC = [1.0, 1.1, 0.9, 1.0]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


def test_round_trip_and_derived_columns(store_url: str) -> None:
    engine = repository.open_store(store_url)
    tables = set(inspect(engine).get_table_names())
    assert {"sweeps", "results", "measurements", "sweep_rounds"} <= tables
    with Session(engine) as session:
        sweep = repository.start_or_resume_sweep(
            session, "s1", {"repeats": 3}, host={"cpu_model": "x", "usable_cores": 2},
            git_commit="abc",
        )  # fmt: skip
        stored = [
            *rounds("sync", 1, SYNC),
            *rounds("threading", 4, [w / 2 for w in SYNC]),  # exactly 2x in every round
            *rounds("free-threaded", 2, [w / 4 for w in SYNC], gil_enabled=False),
        ]
        assert all(repository.save_measurement(session, sweep.id, r) for r in stored)
        assert not repository.save_measurement(session, sweep.id, rounds("sync", 1, [9.0])[0])
        summarize.refresh_results(session, sweep.id)
        results = {r.method: r for r in repository.results_for(session, [sweep.id])}
    assert set(results) == {"sync", "threading", "free-threaded"}
    assert results["sync"].wall_times_s == SYNC and results["sync"].wall_rounds == [0, 1, 2, 3]
    assert results["sync"].wall_median_s == 1.0  # the duplicate round did not overwrite
    threading = results["threading"]
    assert threading.speedup == pytest.approx(2.0)
    assert threading.speedup_low == pytest.approx(2.0)  # paired by round: no spread at all
    assert threading.ideal_speedup == 2.0 and threading.efficiency == pytest.approx(1.0)
    assert threading.oversubscribed and threading.anomaly is None
    free = results["free-threaded"]
    assert free.speedup == pytest.approx(4.0) and free.gil_enabled is False
    assert free.anomaly and "physical limit of 2x" in free.anomaly  # 4x on 2 cores
    # Opening again runs migrations again: a no-op, nothing lost.
    engine = repository.open_store(store_url)
    with Session(engine) as session:
        assert len(repository.results_for(session, [sweep.id])) == 3
        assert repository.get_sweep_by_name(session, "s1").host["cpu_model"] == "x"


def test_outputs_that_differ_from_sync_are_an_error(store_url: str) -> None:
    engine = repository.open_store(store_url)
    with Session(engine) as session:
        sweep = repository.start_or_resume_sweep(session, "s3", {}, host={"usable_cores": 2})
        for row in [*rounds("sync", 1, SYNC), *rounds("threading", 2, SYNC, digest="other")]:
            repository.save_measurement(session, sweep.id, row)
        results = {r.method: r for r in summarize.refresh_results(session, sweep.id)}
    assert results["threading"].status == "error"
    assert "outputs differ from sync" in results["threading"].error
    assert results["sync"].status == "ok"


def test_lease_lets_one_process_measure_a_sweep(store_url: str) -> None:
    engine = repository.open_store(store_url)
    with Session(engine) as first, Session(engine) as second:
        sweep = repository.start_or_resume_sweep(first, "s4", {})
        repository.acquire_lease(first, sweep, "pid 1 on a", ttl_s=60)
        other = repository.get_sweep_by_name(second, "s4")
        with pytest.raises(SweepBusy, match="pid 1 on a"):
            repository.acquire_lease(second, other, "pid 2 on b", ttl_s=60)
        repository.acquire_lease(first, sweep, "pid 1 on a", ttl_s=60)  # renewal
        repository.release_lease(first, sweep, "pid 1 on a")
        repository.acquire_lease(second, other, "pid 2 on b", ttl_s=60)
        # An expired lease (its process died) can be taken over.
        repository.acquire_lease(second, other, "pid 2 on b", ttl_s=-1)
        repository.acquire_lease(first, sweep, "pid 3 on c", ttl_s=60)


def test_resume_refuses_another_host_or_interpreter(store_url: str) -> None:
    engine = repository.open_store(store_url)
    host = {"cpu_model": "x", "logical_cores": 2, "usable_cores": 2}
    python = [{"label": "cpython-3.13.5t", "path": "/a/python", "version": "3.13.5"}]
    with Session(engine) as session:
        repository.start_or_resume_sweep(session, "s5", {}, host=host, interpreters=python)
        repository.start_or_resume_sweep(session, "s5", {}, host=host, interpreters=python)
        with pytest.raises(InvalidParameter, match="another host"):
            repository.start_or_resume_sweep(
                session, "s5", {}, host={**host, "logical_cores": 64}, interpreters=python
            )
        with pytest.raises(InvalidParameter, match="another set of interpreters"):
            moved = [{**python[0], "path": "/b/python"}]
            repository.start_or_resume_sweep(session, "s5", {}, host=host, interpreters=moved)


def test_resume_needs_same_parameters(store_url: str) -> None:
    engine = repository.open_store(store_url)
    with Session(engine) as session:
        # a sweep stored before a parameter existed matches that parameter's old value
        defaults = {"scaling": "strong"}
        old = repository.start_or_resume_sweep(session, "s0", {"repeats": 3}, defaults)
        same = repository.start_or_resume_sweep(
            session, "s0", {"repeats": 3, "scaling": "strong"}, defaults
        )
        assert same.id == old.id
        with pytest.raises(InvalidParameter, match="other parameters"):
            repository.start_or_resume_sweep(
                session, "s0", {"repeats": 3, "scaling": "weak"}, defaults
            )
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
