"""Cancelling a running sweep: its stop event kills the running cell's process tree and
run_sweep raises SweepCancelled; the sweep is stored `interrupted` (it resumes later)."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from sqlmodel import Session

import nogilbench.sweep.launch as launcher
from nogilbench.errors import SweepCancelled
from nogilbench.host.interpreters import current
from nogilbench.store import repository
from nogilbench.store.db import make_engine, migrate
from nogilbench.sweep.config import SweepConfig
from nogilbench.sweep.manager import run_sweep
from nogilbench.sweep.plan import Interpreters
from tests.support import ROOT

LIBRARY_MIGRATIONS = ROOT / "nogilbench" / "store" / "migrations"


def _hanging_cell(pid_file: Path) -> list[str]:
    # Stands in for a cell that would run for minutes: records its pid, then sleeps.
    code = (
        "import os, sys, time; "
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
        "sys.stdin.read(); time.sleep(600)"
    )
    return [sys.executable, "-c", code]


def test_stop_event_kills_the_running_cell(tmp_path, monkeypatch):
    pid_file = tmp_path / "cell.pid"
    monkeypatch.setattr(launcher, "cell_command", lambda *_args: _hanging_cell(pid_file))
    engine = make_engine(f"sqlite:///{tmp_path / 'sweep.db'}")
    migrate(engine, LIBRARY_MIGRATIONS, "alembic_version_nogilbench")
    config = SweepConfig(
        name="to-cancel",
        workloads=["pillow"],
        images=[2],
        workers=[1],
        methods=["sync"],
        repeats=1,
        image_size=(64, 48),
        baseline=False,
    )
    stop = threading.Event()
    outcome: list[BaseException | int] = []

    def sweep() -> None:
        try:
            outcome.append(
                run_sweep(
                    config,
                    engine,
                    interpreters=Interpreters(current(), None, "not needed", None),
                    image_dir=tmp_path / "images",
                    stop_event=stop,
                )
            )
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=sweep)
    thread.start()
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the cell process never started"
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    assert psutil.pid_exists(pid)
    stop.set()
    thread.join(30)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], SweepCancelled)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    with Session(engine) as session:
        (stored,) = repository.list_sweeps(session)
        assert stored.status == "interrupted"
        assert repository.results_for(session, [stored.id]) == []
    engine.dispose()


def test_a_set_stop_event_runs_no_cell(tmp_path, monkeypatch):
    def no_cell(*_args):
        raise AssertionError("a cell was started after the stop event was set")

    monkeypatch.setattr(launcher, "cell_command", no_cell)
    engine = make_engine(f"sqlite:///{tmp_path / 'sweep.db'}")
    migrate(engine, LIBRARY_MIGRATIONS, "alembic_version_nogilbench")
    stop = threading.Event()
    stop.set()
    config = SweepConfig(
        name="stopped", workloads=["pillow"], images=[2], workers=[1], methods=["sync"],
        repeats=1, image_size=(64, 48), baseline=False,
    )  # fmt: skip
    with pytest.raises(SweepCancelled):
        run_sweep(
            config,
            engine,
            interpreters=Interpreters(current(), None, "not needed", None),
            image_dir=tmp_path / "images",
            stop_event=stop,
        )
    engine.dispose()


def test_image_generation_stops_between_images(tmp_path):
    from nogilbench.imaging.samples import generate_images

    (first,) = generate_images(tmp_path, 1, (64, 48))
    stop = threading.Event()
    stop.set()
    # Images already there are reused; the first one still to write is not started.
    with pytest.raises(SweepCancelled):
        generate_images(tmp_path, 3, (64, 48), stop_event=stop)
    assert sorted(tmp_path.iterdir()) == [first]
    assert len(generate_images(tmp_path, 3, (64, 48), stop_event=threading.Event())) == 3
