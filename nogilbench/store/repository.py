"""Reads and writes of sweeps and results; the only place that queries these tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, false, or_, true, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from nogilbench.errors import InvalidParameter, SweepBusy
from nogilbench.model import ROLE_DEFAULT_BUILD, CellKey, GroupKey, cell_key
from nogilbench.store.db import make_engine, migrate
from nogilbench.store.models import Measurement, Result, Sweep, SweepRound, utcnow

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version_nogilbench"


def open_store(url: str | None = None) -> Engine:
    """Engine for `url` (or $DATABASE_URL / the SQLite default), schema migrated to head."""
    engine = make_engine(url)
    migrate(engine, MIGRATIONS, VERSION_TABLE)
    return engine


def start_or_resume_sweep(
    session: Session,
    name: str,
    parameters: dict[str, Any],
    parameter_defaults: dict[str, Any] | None = None,
    **facts: Any,
) -> Sweep:
    """The sweep called `name`: created, or resumed if its parameters are the same.

    `parameter_defaults`: parameters added after older sweeps were stored, with the value
    those sweeps implicitly had (a stored sweep lacking one matches that value)."""
    defaults = parameter_defaults or {}
    sweep = session.exec(select(Sweep).where(Sweep.name == name)).first()
    if sweep is None:
        sweep = Sweep(name=name, parameters=parameters, **facts)
        session.add(sweep)
        try:
            session.commit()
        except IntegrityError:  # another process created it a moment ago
            session.rollback()
            return start_or_resume_sweep(session, name, parameters, parameter_defaults, **facts)
    elif {**defaults, **sweep.parameters} != {**defaults, **parameters}:
        raise InvalidParameter(
            f"sweep {name!r} already exists with other parameters; "
            "resume it with the same ones or choose another --name"
        )
    elif sweep.status == "completed":
        pass  # nothing left to measure: reading it again mixes nothing
    else:
        changed = resume_conflict(sweep, facts)
        if changed:
            raise InvalidParameter(
                f"sweep {name!r} was measured with another {changed}; resuming would mix "
                "measurements of two setups in one sweep: choose another --name"
            )
        sweep.status = "running"
        session.add(sweep)
        session.commit()
    session.refresh(sweep)
    return sweep


# What must not change between the start of a sweep and its resume.
# The machine id first: identical hardware elsewhere differs only there.
HOST_IDENTITY = (
    "machine_id", "cpu_model", "physical_cores", "logical_cores", "usable_cores",
    "memory_total_bytes", "machine",
)  # fmt: skip
# In the host record's `topology`: the CPUs this process may run on (taskset, cpuset) and the
# cgroup quota's cores. A sweep started under a 1-core mask must not be resumed on 2.
TOPOLOGY_IDENTITY = ("affinity_cpus", "usable_cores")
INTERPRETER_IDENTITY = ("label", "path", "version", "free_threaded_build", "unavailable")


def resume_conflict(sweep: Sweep, facts: dict[str, Any]) -> str | None:
    """'host (...)', 'interpreter (...)' or 'git commit (...)' when a resume would mix setups."""
    host = facts.get("host") or {}
    for name in HOST_IDENTITY:
        if (sweep.host or {}).get(name) != host.get(name):
            return f"host ({name}: {sweep.host.get(name)!r} then, {host.get(name)!r} now)"
    then_topology = (sweep.host or {}).get("topology") or {}
    now_topology = host.get("topology") or {}
    for name in TOPOLOGY_IDENTITY:
        if then_topology.get(name) != now_topology.get(name):
            return (
                f"host topology ({name}: {then_topology.get(name)!r} then, "
                f"{now_topology.get(name)!r} now)"
            )

    def identity(interpreters: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted(
            tuple(str(info.get(name)) for name in INTERPRETER_IDENTITY) for info in interpreters
        )

    if identity(sweep.interpreters) != identity(facts.get("interpreters") or []):
        return "set of interpreters"
    if "git_commit" in facts and sweep.git_commit != facts["git_commit"]:
        return f"git commit ({sweep.git_commit} then, {facts['git_commit']} now)"
    return None


def measured_rounds(session: Session, sweep_id: int) -> dict[tuple[CellKey, int], str]:
    """(cell, round) -> status of every stored measurement of the sweep."""
    rows = session.exec(select(Measurement).where(Measurement.sweep_id == sweep_id)).all()
    return {(cell_key(row), row.round): row.status for row in rows}


def save_measurement(session: Session, sweep_id: int, row: dict[str, Any]) -> bool:
    """Store one round of one cell; False (nothing changed) if that round is already stored."""
    session.add(Measurement(sweep_id=sweep_id, **row))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def round_order(
    session: Session, sweep_id: int, workload: str, images: int, number: int, order: list[Any]
) -> list[list[Any]]:
    """The stored order of a round; `order` is stored first if there is none (resume reuses
    the order that was drawn, so a resumed round runs as it was planned)."""
    query = select(SweepRound).where(
        SweepRound.sweep_id == sweep_id, SweepRound.workload == workload,
        SweepRound.images == images, SweepRound.round == number,
    )  # fmt: skip
    stored = session.exec(query).first()
    if stored is None:
        session.add(SweepRound(sweep_id=sweep_id, workload=workload, images=images,
                               round=number, order=order))  # fmt: skip
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
        stored = session.exec(query).one()
    return stored.order


def rounds_of(session: Session, sweep_id: int) -> Sequence[SweepRound]:
    return session.exec(
        select(SweepRound).where(SweepRound.sweep_id == sweep_id).order_by(col(SweepRound.id))
    ).all()


def forget_errors(session: Session, sweep_id: int) -> int:
    """Delete the sweep's failed measurements (errors and timeouts) so they are run again."""
    failed = session.exec(
        select(Measurement).where(Measurement.sweep_id == sweep_id, Measurement.status == "error")
    ).all()
    for row in failed:
        session.delete(row)
    session.commit()
    return len(failed)


def _in_groups(table: Any, groups: Iterable[GroupKey] | None) -> Any:
    """A WHERE clause for rows of `table` in `groups` (None: every row)."""
    if groups is None:
        return true()
    return or_(
        false(),
        *((col(table.workload) == workload) & (col(table.images) == images)
          for workload, images in groups),
    )  # fmt: skip


def measurements_of(
    session: Session, sweep_id: int, groups: Iterable[GroupKey] | None = None
) -> list[dict[str, Any]]:
    rows = session.exec(
        select(Measurement)
        .where(Measurement.sweep_id == sweep_id, _in_groups(Measurement, groups))
        .order_by(col(Measurement.id))
    ).all()
    return [row.model_dump() for row in rows]


RESULT_FIELDS = tuple(
    name for name in Result.model_fields if name not in ("id", "sweep_id", "created_at")
)


def replace_results(
    session: Session,
    sweep: Sweep,
    summaries: list[dict[str, Any]],
    groups: Iterable[GroupKey] | None = None,
) -> list[Result]:
    """Store `summaries` as the sweep's result rows for `groups` (all when None), dropping
    rows of those groups that no summary names; returns the whole sweep's rows."""
    assert sweep.id is not None
    described = {info.get("label"): info for info in sweep.interpreters}
    existing = {cell_key(row): row for row in _stored_results(session, sweep.id, groups)}
    for summary in summaries:
        info = described.get(summary["interpreter"], {})
        summary.setdefault("interpreter_path", info.get("path") or "")
        summary.setdefault("interpreter_version", info.get("version") or "")
        summary.setdefault("free_threaded_build", bool(info.get("free_threaded_build")))
        row = existing.pop(cell_key(summary), None) or Result(sweep_id=sweep.id)
        for name in RESULT_FIELDS:
            default = [] if name in ("wall_times_s", "cpu_per_core", "wall_rounds") else None
            value = summary.get(name, default)
            if value is None and name in ("repeats", "cores"):
                value = 0
            if value is None and name in ("oversubscribed", "free_threaded_build"):
                value = False
            if value is None and name in ("interpreter_path", "interpreter_version"):
                value = ""
            setattr(row, name, value)
        session.add(row)
    for stale in existing.values():
        session.delete(stale)
    session.commit()
    return list(_stored_results(session, sweep.id))


def usable_cores_of(sweep: Sweep, results: Iterable[Any] = ()) -> int:
    """The cores the sweep's cells could use, as recorded where it ran: its host record, else
    the most its cells recorded, else 1. Never this machine's: a sweep may come from another
    host (a bundle). The one home of this rule (summaries, the report, the CLI)."""
    recorded = (sweep.host or {}).get("usable_cores")
    if recorded:
        return int(recorded)
    cores = [getattr(row, "cores", None) or 0 for row in results]
    return max([int(count) for count in cores if count], default=1)


def default_build_of(sweep: Sweep) -> str | None:
    """The label of the sweep's default (GIL) build, if it measured one."""
    for info in sweep.interpreters:
        if info.get("role") == ROLE_DEFAULT_BUILD and info.get("label"):
            return str(info["label"])
    return None


def _stored_results(
    session: Session, sweep_id: int, groups: Iterable[GroupKey] | None = None
) -> Sequence[Result]:
    return session.exec(
        select(Result).where(Result.sweep_id == sweep_id, _in_groups(Result, groups))
    ).all()


# ------------------------------------------------------------------ one measurer per sweep


def acquire_lease(session: Session, sweep: Sweep, owner: str, ttl_s: float) -> None:
    """Make `owner` the only process measuring `sweep`, or raise SweepBusy.

    A conditional UPDATE: atomic on PostgreSQL and SQLite alike. A lease that was not renewed
    within `ttl_s` (its process died) can be taken over.
    """
    now = utcnow()
    taken = session.execute(
        update(Sweep)
        .where(col(Sweep.id) == sweep.id)
        .where(
            or_(
                col(Sweep.lease_owner).is_(None),
                col(Sweep.lease_owner) == owner,
                col(Sweep.lease_expires_at) < now,
            )
        )
        .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=ttl_s))
    )
    session.commit()
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(sweep)
        raise SweepBusy(
            f"sweep {sweep.name!r} is being measured by {sweep.lease_owner} (lease until "
            f"{sweep.lease_expires_at:%H:%M:%S} UTC); wait for it to finish or use another --name"
        )
    session.refresh(sweep)


def release_lease(session: Session, sweep: Sweep, owner: str) -> None:
    session.execute(
        update(Sweep)
        .where(col(Sweep.id) == sweep.id, col(Sweep.lease_owner) == owner)
        .values(lease_owner=None, lease_expires_at=None)
    )
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
