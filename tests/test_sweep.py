"""Sweeps: the plan, a tiny real run, and resume after SIGKILL with every cell exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, inspect
from sqlmodel import Session, select

from nogilbench.errors import InvalidParameter
from nogilbench.interpreters import InterpreterInfo, current
from nogilbench.store import repository
from nogilbench.store.db import make_engine
from nogilbench.store.models import Result
from nogilbench.sweep import Interpreters, SweepConfig, plan, run_sweep

TINY = {"images": [2, 3], "workers": [1, 2], "repeats": 1, "image_size": (64, 48)}


def test_default_config_is_the_48_cell_matrix() -> None:
    config = SweepConfig().validate()
    stock = current()
    cells = plan(config, [f"{i}.jpg" for i in range(100)], Interpreters(stock, None, "none", None))
    per_workload = [c for c in cells if c.spec.workload == "pillow"]
    assert len(per_workload) == 48 and len(cells) == 96
    assert all(c.unavailable for c in cells if c.spec.method == "free-threaded")
    assert cells[0].spec.method == "sync"


@pytest.mark.parametrize(
    "change",
    [{"methods": ["warp"]}, {"workers": [0]}, {"images": []}, {"repeats": 0},
     {"image_size": (10, 10)}, {"workloads": ["numpy"]}, {"name": ""}],
)  # fmt: skip
def test_bad_configs(change: dict) -> None:
    with pytest.raises(InvalidParameter):
        SweepConfig(**change).validate()


def test_tiny_sweep_on_free_threaded_build(tmp_path: Path, ft_interpreter: InterpreterInfo) -> None:
    engine = repository.open_store(f"sqlite:///{tmp_path / 'r.db'}")
    config = SweepConfig(name="tiny", workloads=["pure-python"], **TINY)
    seen: list[int] = []
    sweep_id = run_sweep(
        config, engine, image_dir=tmp_path / "img",
        interpreters=Interpreters(ft_interpreter, ft_interpreter, "", None),
        on_cell=lambda done, total, row: seen.append(done),
    )  # fmt: skip
    with Session(engine) as session:
        rows = repository.results_for(session, [sweep_id])
        sweep = repository.get_sweep(session, sweep_id)
    assert len(rows) == 16 and sweep.status == "completed" and sweep.cell_count == 16
    assert all(r.status == "ok" for r in rows), [r.error for r in rows if r.status != "ok"]
    assert {r.gil_enabled for r in rows if r.method == "free-threaded"} == {False}
    assert {r.gil_enabled for r in rows if r.method != "free-threaded"} == {True}
    assert all(r.speedup is not None and r.efficiency is not None for r in rows)
    assert seen[-1] == 16
    assert sweep.host["logical_cores"] >= 1 and sweep.interpreters[0]["free_threaded_build"]


def _count(db: Path) -> tuple[int, int]:
    engine = make_engine(f"sqlite:///{db}")  # no migration: only the sweep under test writes
    if "results" not in inspect(engine).get_table_names():
        return 0, 0
    with Session(engine) as session:
        total = session.exec(select(func.count()).select_from(Result)).one()
        distinct = len(repository.finished_cells(session, 1))
    return total, distinct


def test_sigkill_mid_sweep_then_resume_stores_every_cell_once(tmp_path: Path) -> None:
    db = tmp_path / "resume.db"
    command = [
        sys.executable, "-m", "nogilbench.cli", "sweep", "--name", "resume",
        "--workloads", "pure-python", "--images", "2,3", "--workers", "1,2",
        "--methods", "sync,threading,multiprocessing", "--repeats", "1",
        "--image-size", "64x48", "--no-baseline", "--database-url", f"sqlite:///{db}",
    ]  # fmt: skip
    env = {**os.environ, "NOGILBENCH_FT_PYTHON": "/nonexistent/python3.13t"}
    victim = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if db.exists() and _count(db)[0] >= 3:
            break
        time.sleep(0.2)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    stored, _ = _count(db)
    assert 3 <= stored < 12, "the sweep should have been killed part-way"
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    total, distinct = _count(db)
    assert total == distinct == 12  # 2 image counts x 3 methods x 2 worker counts
