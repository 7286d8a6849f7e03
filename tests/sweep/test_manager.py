"""Sweeps run (nogilbench.sweep.manager, .rounds): a tiny real run, resume after SIGKILL, one
measurer at a time, cancel, pinned cells, extra rounds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, inspect
from sqlmodel import Session, select

from nogilbench.errors import InvalidParameter, SweepCancelled
from nogilbench.host.interpreters import (
    InterpreterInfo,
    InterpreterUnavailable,
    current,
    find_default_build,
    host_info,
)
from nogilbench.store import repository
from nogilbench.store.db import make_engine
from nogilbench.store.models import Measurement
from nogilbench.sweep.config import SweepConfig
from nogilbench.sweep.manager import run_sweep
from nogilbench.sweep.plan import Interpreters, group_cells, plan
from nogilbench.sweep.provenance import git_commit, library_versions
from nogilbench.sweep.rounds import RoundRunner

TINY = {"images": [2, 3], "workers": [1, 2], "repeats": 2, "max_rounds": 2, "budget_s": 0,
        "image_size": (64, 48)}  # fmt: skip
STOCK_ONLY = {"NOGILBENCH_FT_PYTHON": "/nonexistent/python3.13t"}


def test_tiny_sweep_on_free_threaded_build(tmp_path: Path, ft_interpreter: InterpreterInfo) -> None:
    engine = repository.open_store(f"sqlite:///{tmp_path / 'r.db'}")
    config = SweepConfig(name="tiny", workloads=["pure-python"],
                         methods=["sync", "threading", "multiprocessing", "free-threaded"],
                         **TINY)  # fmt: skip
    seen: list[int] = []
    sweep_id = run_sweep(
        config, engine, image_dir=tmp_path / "img",
        interpreters=Interpreters(ft_interpreter, ft_interpreter, "", None),
        on_cell=lambda done, total, row: seen.append(done),
    )  # fmt: skip
    with Session(engine) as session:
        rows = repository.results_for(session, [sweep_id])
        sweep = repository.get_sweep(session, sweep_id)
        measured = repository.measurements_of(session, sweep_id)
        orders = repository.rounds_of(session, sweep_id)
    assert len(rows) == 14 and sweep.status == "completed" and sweep.cell_count == 14
    assert len(measured) == 28 and len(orders) == 4  # 2 groups x 2 rounds
    assert all(r.status == "ok" for r in rows), [r.error for r in rows if r.status != "ok"]
    assert {r.gil_enabled for r in rows if r.method == "free-threaded"} == {False}
    assert {r.gil_enabled for r in rows if r.method != "free-threaded"} == {True}
    assert all(r.speedup_low <= r.speedup <= r.speedup_high for r in rows)
    assert all(r.wall_low_s <= r.wall_median_s <= r.wall_high_s for r in rows)
    assert all(r.repeats == 2 and r.workers_observed in (1, 2) for r in rows)
    assert seen[-1] == 28 and sweep.lease_owner is None
    assert sweep.host["logical_cores"] >= 1 and sweep.interpreters[0]["free_threaded_build"]


def test_asyncio_and_subinterpreters_on_both_builds(
    tmp_path: Path, ft_interpreter: InterpreterInfo
) -> None:
    """Real timings for pure-python in sub-interpreters on both builds; for pillow, the
    `unavailable` row carries the reason found by trying the import (stored once)."""
    try:
        baseline = find_default_build()
    except InterpreterUnavailable as exc:
        pytest.skip(f"no default build: {exc.reason}")
    engine = repository.open_store(f"sqlite:///{tmp_path / 'r.db'}")
    config = SweepConfig(name="models", methods=["sync", "asyncio", "subinterpreters"],
                         **{**TINY, "images": [2], "workers": [2]})  # fmt: skip
    sweep_id = run_sweep(
        config, engine, image_dir=tmp_path / "img",
        interpreters=Interpreters(ft_interpreter, ft_interpreter, "", baseline),
    )  # fmt: skip
    with Session(engine) as session:
        rows = repository.results_for(session, [sweep_id])
        measured = repository.measurements_of(session, sweep_id)
    by_cell = {(r.workload, r.method, r.interpreter): r for r in rows}
    assert len(rows) == 2 * 2 * 3
    for build in {r.interpreter for r in rows}:
        pure = by_cell[("pure-python", "subinterpreters", build)]
        assert pure.status == "ok" and pure.wall_median_s > 0, pure.error
        assert pure.workers_observed == 2
        for workload in ("pure-python", "pillow"):
            assert by_cell[(workload, "asyncio", build)].status == "ok"
        pillow = by_cell[("pillow", "subinterpreters", build)]
        if pillow.status == "unavailable":  # until Pillow loads in sub-interpreters
            assert "sub-interpreter" in (pillow.error or "")
            tried = [m for m in measured
                     if m["workload"] == "pillow" and m["method"] == "subinterpreters"
                     and m["interpreter"] == build]  # fmt: skip
            assert len(tried) == 1  # not tried again in later rounds
    on_ft = [r for r in rows if r.interpreter_path == ft_interpreter.path and r.status == "ok"]
    assert {r.gil_enabled for r in on_ft if r.method != "sync"} == {False}


def _stock_sweep_command(db: Path, name: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "nogilbench.cli", "sweep", "--name", name,
        "--workloads", "pure-python", "--images", "2,3", "--workers", "1,2",
        "--methods", "sync,threading,multiprocessing", "--repeats", "1", "--max-rounds", "1",
        "--image-size", "64x48", "--no-baseline", "--database-url", f"sqlite:///{db}", *extra,
    ]  # fmt: skip


def _count(db: Path) -> tuple[int, int]:
    """(measurements stored, distinct (cell, round) among them)."""
    engine = make_engine(f"sqlite:///{db}")  # no migration: only the sweep under test writes
    if "measurements" not in inspect(engine).get_table_names():
        return 0, 0
    with Session(engine) as session:
        total = session.exec(select(func.count()).select_from(Measurement)).one()
        distinct = len(repository.measured_rounds(session, 1))
    return total, distinct


def _cells(db: Path) -> int:
    with Session(make_engine(f"sqlite:///{db}")) as session:
        return len({key for key, _ in repository.measured_rounds(session, 1)})


def _wait_for(db: Path, at_least: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if db.exists() and _count(db)[0] >= at_least:
            return
        time.sleep(0.2)


def test_sigkill_mid_sweep_then_resume_stores_every_round_once(tmp_path: Path) -> None:
    db = tmp_path / "resume.db"
    command = _stock_sweep_command(db, "resume")
    env = {**os.environ, **STOCK_ONLY}
    victim = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _wait_for(db, 3, victim)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    stored, _ = _count(db)
    assert 3 <= stored < 10, "the sweep should have been killed part-way"
    # The dead process's lease has not expired: a resume must wait or take it over.
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as session:
        sweep = repository.get_sweep_by_name(session, "resume")
        sweep.lease_expires_at = sweep.created_at  # as if the lease time had run out
        session.add(sweep)
        session.commit()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    total, distinct = _count(db)
    assert total == distinct >= 10  # a group with an anomaly gets one more round
    assert _cells(db) == 10  # 2 image counts x (sync + 2 methods x 2 workers)


def test_two_sweeps_with_one_name_never_measure_twice(tmp_path: Path) -> None:
    db = tmp_path / "two.db"
    env = {**os.environ, **STOCK_ONLY}
    first = subprocess.Popen(
        _stock_sweep_command(db, "shared"), env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    _wait_for(db, 1, first)
    second = subprocess.run(
        _stock_sweep_command(db, "shared"), env=env, capture_output=True, text=True, timeout=300
    )
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert second.returncode == 2
    last_line = second.stderr.strip().splitlines()[-1]
    assert "error: sweep 'shared' is being measured by pid" in last_line
    total, distinct = _count(db)
    assert total == distinct and _cells(db) == 10


def test_stored_round_order_is_reused_on_resume(tmp_path: Path) -> None:
    engine = repository.open_store(f"sqlite:///{tmp_path / 'order.db'}")
    config = SweepConfig(
        name="order", workloads=["pure-python"], images=[2], workers=[1, 2],
        methods=["sync", "threading"], repeats=1, max_rounds=1, image_size=(64, 48),
        baseline=False,
    )  # fmt: skip
    interpreters = Interpreters(current(), None, "none", None)
    cells = plan(config, ["x"] * 2, interpreters)
    wanted = [cell.order_key for cell in reversed(cells)]  # not what the seed would draw
    with Session(engine) as session:
        sweep = repository.start_or_resume_sweep(
            session, "order", config.parameters(), host=host_info(),
            interpreters=interpreters.as_list(), library_versions=library_versions(),
            git_commit=git_commit(), cell_count=len(cells),
        )  # fmt: skip
        sweep_id = sweep.id
        repository.round_order(session, sweep_id, "pure-python", 2, 0, wanted)
    run_sweep(config, engine, image_dir=tmp_path / "img", interpreters=interpreters)
    with Session(engine) as session:
        measured = sorted(
            (m for m in repository.measurements_of(session, sweep_id) if m["round"] == 0),
            key=lambda m: m["id"],
        )
        orders = repository.rounds_of(session, sweep_id)
    order = orders[0]
    assert order.order == wanted
    assert [[m["method"], m["workers"], m["interpreter"]] for m in measured] == wanted
    assert [m["position"] for m in measured] == list(range(len(wanted)))


def test_cancel_stops_the_sweep_and_keeps_what_was_measured(tmp_path: Path) -> None:
    engine = repository.open_store(f"sqlite:///{tmp_path / 'cancel.db'}")
    config = SweepConfig(name="cancel", workloads=["pure-python"], **TINY)
    stop = threading.Event()

    def on_cell(done: int, total: int, row: dict | None) -> None:
        if done >= 2:
            stop.set()

    with pytest.raises(SweepCancelled):
        run_sweep(config, engine, image_dir=tmp_path / "img", on_cell=on_cell, stop_event=stop,
                  interpreters=Interpreters(current(), None, "none", None))  # fmt: skip
    with Session(engine) as session:
        sweep = repository.get_sweep_by_name(session, "cancel")
        assert sweep.status == "interrupted" and sweep.lease_owner is None
        assert len(repository.measurements_of(session, sweep.id)) == 2


def test_pinned_cells_record_their_cpus_and_cores(tmp_path: Path) -> None:
    engine = repository.open_store(f"sqlite:///{tmp_path / 'pin.db'}")
    config = SweepConfig(
        name="pin", workloads=["pure-python"], images=[2], workers=[1], methods=["threading"],
        repeats=1, max_rounds=1, budget_s=0, image_size=(64, 48), baseline=False, pin=True,
    )  # fmt: skip
    sweep_id = run_sweep(config, engine, image_dir=tmp_path / "img",
                         interpreters=Interpreters(current(), None, "none", None))  # fmt: skip
    with Session(engine) as session:
        (measured,) = repository.measurements_of(session, sweep_id)
        (result,) = repository.results_for(session, [sweep_id])
    assert measured["status"] == "ok", measured["error"]
    assert len(measured["details"]["pinned_cpus"]) == 1
    assert measured["details"]["cores"] == 1 and result.cores == 1  # the cell saw its mask


def test_round_runner_tracks_failed_cells_and_rounds(tmp_path: Path) -> None:
    engine = repository.open_store(f"sqlite:///{tmp_path / 'runner.db'}")
    config = SweepConfig(name="runner", workloads=["pure-python"], images=[2], workers=[1],
                         methods=["sync", "free-threaded"], repeats=2, max_rounds=2, budget_s=0,
                         image_size=(64, 48), baseline=False)  # fmt: skip
    interpreters = Interpreters(current(), None, "none", None)
    run_sweep(config, engine, image_dir=tmp_path / "img", interpreters=interpreters)
    (group,) = group_cells(plan(config, ["x"] * 2, interpreters))
    with Session(engine) as session:
        sweep = repository.get_sweep_by_name(session, "runner")
        runner = RoundRunner(session, sweep, "me", None, 1.0, None)  # type: ignore[arg-type]
        free, sync = sorted(group.cells, key=lambda c: c.spec.method)
        assert runner.failed(free) and not runner.failed(sync)  # unavailable: stored once
        assert runner.rounds_done(group) == 2 and runner.pending(group, 2) == 1


def test_extra_rounds_refresh_each_group_they_measure(tmp_path: Path) -> None:
    """With an unreachable target every group gets rounds up to the cap; every cell's derived
    columns (recomputed per group after each extra round) cover all of its rounds."""
    engine = repository.open_store(f"sqlite:///{tmp_path / 'extra.db'}")
    config = SweepConfig(name="extra", workloads=["pure-python"], images=[2, 3], workers=[1],
                         methods=["sync", "threading"], repeats=2, max_rounds=4, target=1e-9,
                         budget_s=None, image_size=(64, 48), baseline=False)  # fmt: skip
    sweep_id = run_sweep(config, engine, image_dir=tmp_path / "img",
                         interpreters=Interpreters(current(), None, "none", None))  # fmt: skip
    with Session(engine) as session:
        rows = repository.results_for(session, [sweep_id])
        measured = repository.measurements_of(session, sweep_id)
    assert len(measured) == 2 * 2 * 4 and len(rows) == 4
    assert all(r.status == "ok" and r.repeats == 4 and len(r.wall_times_s) == 4 for r in rows)
    assert all(r.speedup is not None for r in rows)


def test_resume_refuses_another_affinity_mask(tmp_path: Path) -> None:
    """A sweep started under a 1-core mask (taskset) is not resumed with 2 cores."""
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs sched_setaffinity and at least 2 allowed CPUs")
    script = (
        "import json, os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
        "from nogilbench.host.interpreters import host_info; print(json.dumps(host_info()))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=60)  # fmt: skip
    masked = json.loads(done.stdout)
    assert masked["usable_cores"] == 1 and masked["topology"]["affinity_cpus"] == 1
    engine = repository.open_store(f"sqlite:///{tmp_path / 'mask.db'}")
    with Session(engine) as session:
        repository.start_or_resume_sweep(session, "mask", {}, host=masked, interpreters=[])
        with pytest.raises(InvalidParameter, match=r"usable_cores: 1 then|affinity"):
            repository.start_or_resume_sweep(session, "mask", {}, host=host_info(),
                                             interpreters=[])  # fmt: skip
        # the topology alone (same top-level counts, other mask) is refused too
        other = {**masked, "topology": {**masked["topology"], "affinity_cpus": 2}}
        with pytest.raises(InvalidParameter, match="host topology \\(affinity_cpus"):
            repository.start_or_resume_sweep(session, "mask", {}, host=other, interpreters=[])
