"""Facts measured about a sweep's host beside its cells (the race demo, the GIL scan), kept in
the sweep's `host` record under their own key: rows in and out, nothing computed here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from nogilbench.errors import InvalidParameter
from nogilbench.store import repository

RACE = "race"  # nogilbench.sweep.race trials: {"threads", "increments", "trials", "rows"}
GIL_SCAN = "gil_scan"  # nogilbench.host.gilscan rows: {"python", "rows"} or {"error"}


def record_host_fact(engine: Engine, sweep_name: str, key: str, value: dict[str, Any]) -> None:
    """Store `value` under `key` in the named sweep's host record (replacing an older one)."""
    with Session(engine) as session:
        sweep = repository.get_sweep_by_name(session, sweep_name)
        if sweep is None:
            raise InvalidParameter(f"no sweep named {sweep_name!r} in this database")
        sweep.host = {**(sweep.host or {}), key: value}  # a new dict: the JSON column changes
        session.add(sweep)
        session.commit()


def host_fact(host: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    """The fact stored under `key` in a sweep's host record, or None."""
    value = (host or {}).get(key)
    return value if isinstance(value, dict) else None
