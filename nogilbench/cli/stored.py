"""Finding a stored sweep by name (or the newest), with a one-line error when there is none."""

from __future__ import annotations

from typing import Any

from nogilbench.errors import InvalidParameter


def pick_sweep(session: Any, name: str | None) -> Any:
    from nogilbench.store import repository

    if name:
        sweep = repository.get_sweep_by_name(session, name)
        if sweep is None:
            raise InvalidParameter(f"no sweep named {name!r} in this database")
        return sweep
    sweeps = repository.list_sweeps(session)
    if not sweeps:
        raise InvalidParameter("this database holds no sweep yet; run `nogilbench sweep` first")
    return sweeps[-1]


def results_of(url: str | None, name: str) -> list[Any]:
    """Every stored result row of the sweep `name` in the store at `url`, detached."""
    from sqlmodel import Session

    from nogilbench.store import repository

    engine = repository.open_store(url)
    try:
        with Session(engine) as session:
            sweep = pick_sweep(session, name)
            rows = list(repository.results_for(session, [sweep.id]))
            session.expunge_all()
            return rows
    finally:
        engine.dispose()
