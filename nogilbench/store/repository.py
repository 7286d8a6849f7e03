"""Reads and writes of sweeps and results; the only place that queries these tables."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from nogilbench.errors import InvalidParameter
from nogilbench.store.db import make_engine, migrate
from nogilbench.store.models import Result, Sweep, utcnow

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
VERSION_TABLE = "alembic_version_nogilbench"

CellKey = tuple[str, str, int, int, str]  # workload, method, workers, images, interpreter


def open_store(url: str | None = None) -> Engine:
    """Engine for `url` (or $DATABASE_URL / the SQLite default), schema migrated to head."""
    engine = make_engine(url)
    migrate(engine, MIGRATIONS, VERSION_TABLE)
    return engine


def cell_key(row: Result | dict[str, Any]) -> CellKey:
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    return (get("workload"), get("method"), get("workers"), get("images"), get("interpreter"))


def start_or_resume_sweep(
    session: Session, name: str, parameters: dict[str, Any], **facts: Any
) -> Sweep:
    """The sweep called `name`: created, or resumed if its parameters are the same."""
    sweep = session.exec(select(Sweep).where(Sweep.name == name)).first()
    if sweep is None:
        sweep = Sweep(name=name, parameters=parameters, **facts)
        session.add(sweep)
        try:
            session.commit()
        except IntegrityError:  # another process created it a moment ago
            session.rollback()
            return start_or_resume_sweep(session, name, parameters, **facts)
    elif sweep.parameters != parameters:
        raise InvalidParameter(
            f"sweep {name!r} already exists with other parameters; "
            "resume it with the same ones or choose another --name"
        )
    else:
        sweep.status = "running"
        session.add(sweep)
        session.commit()
    session.refresh(sweep)
    return sweep


def finished_cells(session: Session, sweep_id: int) -> set[CellKey]:
    rows = session.exec(select(Result).where(Result.sweep_id == sweep_id)).all()
    return {cell_key(row) for row in rows}


def save_result(session: Session, sweep_id: int, row: dict[str, Any]) -> Result | None:
    """Store one cell's row; a row already stored for that cell is kept (returns None)."""
    result = Result(sweep_id=sweep_id, **row)
    session.add(result)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    refresh_derived(session, sweep_id)
    return result


def refresh_derived(session: Session, sweep_id: int) -> None:
    """Recompute speedup (vs sync, same workload/images/interpreter) and efficiency.

    `sync` ignores its workers setting, so its cells at every worker count are replicates of
    one measurement: the baseline is their median, not whichever one happened to run first,
    and the sync rows' own speedups (around 1.0) show how far replicates scatter.
    """
    rows = session.exec(select(Result).where(Result.sweep_id == sweep_id)).all()
    sync_times: dict[tuple[str, int, str], list[float]] = {}
    for row in rows:
        if row.method == "sync" and row.status == "ok" and row.wall_median_s:
            key = (row.workload, row.images, row.interpreter)
            sync_times.setdefault(key, []).append(row.wall_median_s)
    baselines = {key: statistics.median(times) for key, times in sync_times.items()}
    for row in rows:
        baseline = baselines.get((row.workload, row.images, row.interpreter))
        speedup = efficiency = None
        if baseline is not None and row.status == "ok" and row.wall_median_s:
            speedup = round(baseline / row.wall_median_s, 4)
            # `sync` uses one core whatever its workers setting says.
            parallel = 1 if row.method == "sync" else min(row.workers, max(row.cores, 1))
            efficiency = round(speedup / parallel, 4)
        if (row.speedup, row.efficiency) != (speedup, efficiency):
            row.speedup, row.efficiency = speedup, efficiency
            session.add(row)
    session.commit()


def finish_sweep(session: Session, sweep: Sweep, status: str) -> None:
    sweep.status = status
    sweep.finished_at = utcnow() if status == "completed" else None
    session.add(sweep)
    session.commit()


def list_sweeps(session: Session) -> Sequence[Sweep]:
    return session.exec(select(Sweep).order_by(col(Sweep.id))).all()


def get_sweep(session: Session, sweep_id: int) -> Sweep | None:
    return session.get(Sweep, sweep_id)


def get_sweep_by_name(session: Session, name: str) -> Sweep | None:
    return session.exec(select(Sweep).where(Sweep.name == name)).first()


def results_for(session: Session, sweep_ids: Iterable[int]) -> Sequence[Result]:
    ids = list(sweep_ids)
    return session.exec(
        select(Result)
        .where(col(Result.sweep_id).in_(ids))
        .order_by(col(Result.sweep_id), col(Result.workload), col(Result.images), col(Result.id))
    ).all()
