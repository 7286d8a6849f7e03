"""Result bundles: one self-describing JSON file per sweep, to carry results between stores.

A user runs a sweep on a big server without database access, exports a bundle, and imports
it at home into SQLite or PostgreSQL; or several hosts feed one database.

    {"format": "nogilbench-bundle", "version": 1, "exported_at": ..., "exported_by": {...},
     "sweep": {every column of the sweep but id, host, interpreters, lease},
     "host": {...}, "interpreters": [...],
     "tables": {"results": [...], "measurements": [...], "sweep_rounds": [...]}}

Columns come from the SQLModel tables themselves: every table that references `sweeps.id`
travels, with every column except its own `id` (and `sweep_id`, implied), so a column or a
per-sweep table added later travels without touching this module. Datetimes are ISO 8601;
floats round-trip exactly (JSON keeps Python's shortest repr).

Import is idempotent: rows are matched on each table's unique key (the cell, the round),
so a second import of the same bundle adds nothing. A *different* sweep (other creation
time, host or parameters) whose name is already taken is refused with a clear error:
import it under another name (`name=`, `nogilbench import --name`). A later bundle of the
same sweep (resumed after the export) adds the cells it has and the store lacks; cells
already stored are kept as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Table, UniqueConstraint, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel

import nogilbench
from nogilbench.errors import InvalidParameter
from nogilbench.store.models import Sweep

FORMAT = "nogilbench-bundle"
VERSION = 1
SWEEPS = "sweeps"
# Fields of the sweep lifted to the top level of the bundle, for a human reader.
LIFTED = ("host", "interpreters")
# Local state of one store, meaningless elsewhere: never exported, reset on import.
LOCAL_ONLY = {SWEEPS: {"id", "lease_owner", "lease_expires_at"}}
VERSION_TABLE = "alembic_version_nogilbench"


class InvalidBundle(InvalidParameter):
    """The file is not a bundle this nogilbench can read, or conflicts with the store."""

    error_code = "INVALID_BUNDLE"


@dataclass
class BundleSummary:
    sweep: str
    created: bool = False  # a new sweep row (import), or always False for export
    rows: dict[str, int] = field(default_factory=dict)  # per table: exported / inserted
    already_present: dict[str, int] = field(default_factory=dict)  # import only

    def line(self, verb: str) -> str:
        counts = ", ".join(f"{count} {table}" for table, count in self.rows.items())
        present = sum(self.already_present.values())
        tail = f"; {present} row(s) already present" if present else ""
        return f"{verb} sweep {self.sweep!r}: {counts}{tail}"


# --------------------------------------------------------------------------- schema


def sweep_table() -> Table:
    return Sweep.__table__  # type: ignore[attr-defined,no-any-return]


def child_tables() -> list[Table]:
    """Every table holding rows of one sweep (a foreign key to sweeps.id), in a fixed order."""
    found = []
    for table in SQLModel.metadata.sorted_tables:
        if any(fk.column.table.name == SWEEPS for fk in table.foreign_keys):
            found.append(table)
    return found


def _sweep_column(table: Table) -> str:
    return next(fk.parent.name for fk in table.foreign_keys if fk.column.table.name == SWEEPS)


def natural_key(table: Table) -> tuple[str, ...]:
    """The columns that identify a row within its sweep (its unique constraint minus sweep_id)."""
    link = _sweep_column(table)
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            names = [column.name for column in constraint.columns]
            if link in names:
                return tuple(name for name in names if name != link)
    raise InvalidBundle(
        f"table {table.name} has no unique key within a sweep, so importing it twice could "
        "duplicate rows; give it a UniqueConstraint including its sweep column"
    )


def _exported_columns(table: Table) -> list[str]:
    skip = {"id", *LOCAL_ONLY.get(table.name, ())}
    if table.name != SWEEPS:
        skip.add(_sweep_column(table))
    return [column.name for column in table.columns if column.name not in skip]


def _to_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _from_json(table: Table, name: str, value: Any) -> Any:
    if value is not None and isinstance(table.columns[name].type, DateTime):
        try:
            return datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise InvalidBundle(f"{table.name}.{name}: not an ISO 8601 time: {value!r}") from None
    return value


def _schema_revision(session: Session) -> str | None:
    try:
        return session.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    except SQLAlchemyError:
        session.rollback()
        return None


# --------------------------------------------------------------------------- export


def bundle_of(session: Session, sweep_id: int) -> dict[str, Any]:
    """The bundle of one sweep, as a JSON-ready dict."""
    sweeps = sweep_table()
    row = session.execute(select(sweeps).where(sweeps.c.id == sweep_id)).mappings().first()
    if row is None:
        raise InvalidParameter(f"no sweep with id {sweep_id} in this database")
    sweep = {name: _to_json(row[name]) for name in _exported_columns(sweeps)}
    bundle: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": datetime.now(UTC).isoformat(),
        "exported_by": {
            "nogilbench": nogilbench.__version__,
            "schema_revision": _schema_revision(session),
        },
        "sweep": {name: value for name, value in sweep.items() if name not in LIFTED},
        **{name: sweep[name] for name in LIFTED},
        "tables": {},
    }
    for table in child_tables():
        columns = _exported_columns(table)
        link = table.c[_sweep_column(table)]
        order = [table.c[name] for name in natural_key(table)]
        rows = session.execute(select(table).where(link == sweep_id).order_by(*order)).mappings()
        bundle["tables"][table.name] = [
            {name: _to_json(row[name]) for name in columns} for row in rows
        ]
    return bundle


def export_bundle(session: Session, sweep_id: int, path: Path) -> BundleSummary:
    """Write the sweep's bundle to `path` (atomically: a partial file never has its name)."""
    bundle = bundle_of(session, sweep_id)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(bundle, indent=1) + "\n", encoding="utf-8")
    partial.replace(path)
    rows = {name: len(rows) for name, rows in bundle["tables"].items()}
    return BundleSummary(sweep=bundle["sweep"]["name"], rows=rows)


# --------------------------------------------------------------------------- import


def read_bundle(path: Path) -> dict[str, Any]:
    """Parse and check a bundle file; InvalidBundle (one line) if it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidBundle(f"no bundle file {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidBundle(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InvalidBundle(f"{path} is not JSON ({exc.msg} at line {exc.lineno})") from None
    check_bundle(data, str(path))
    return data  # type: ignore[no-any-return]


def check_bundle(data: Any, where: str = "bundle") -> None:
    """Format, version and every table and column known to this nogilbench."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InvalidBundle(f'{where} is not a nogilbench bundle (no "format": {FORMAT!r})')
    version = data.get("version")
    if not isinstance(version, int) or version > VERSION or version < 1:
        raise InvalidBundle(
            f"{where} is bundle version {version!r}; this nogilbench reads up to {VERSION}"
        )
    sweep = data.get("sweep")
    if not isinstance(sweep, dict) or not isinstance(sweep.get("name"), str):
        raise InvalidBundle(f"{where} has no sweep with a name")
    if not isinstance(data.get("tables"), dict):
        raise InvalidBundle(f'{where} has no "tables" object')
    known = {table.name: table for table in child_tables()}
    unknown_tables = sorted(set(data["tables"]) - set(known))
    if unknown_tables:
        raise InvalidBundle(
            f"{where} holds tables this nogilbench does not know ({', '.join(unknown_tables)}); "
            "it was written by a newer version: upgrade nogilbench to import it"
        )
    _check_columns(sweep_table(), [{**sweep, **{k: data.get(k) for k in LIFTED}}], where)
    for name, rows in data["tables"].items():
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise InvalidBundle(f"{where}: tables.{name} must be a list of objects")
        _check_columns(known[name], rows, where)


def _check_columns(table: Table, rows: list[dict[str, Any]], where: str) -> None:
    allowed = set(_exported_columns(table))
    unknown = sorted({name for row in rows for name in row} - allowed)
    if unknown:
        raise InvalidBundle(
            f"{where}: {table.name} has columns this nogilbench does not know "
            f"({', '.join(unknown)}); it was written by a newer version: upgrade nogilbench"
        )
    # Other columns missing (a bundle from an older version) take the model's defaults.
    required = ("name", "created_at") if table.name == SWEEPS else natural_key(table)
    for row in rows:
        missing = sorted(name for name in required if row.get(name) is None)
        if missing:
            raise InvalidBundle(f"{where}: a {table.name} row lacks {', '.join(missing)}")


def _model_of(table: Table) -> type[SQLModel]:
    for mapper in SQLModel._sa_registry.mappers:  # type: ignore[attr-defined]
        if mapper.local_table is table:
            return mapper.class_  # type: ignore[no-any-return]
    raise InvalidBundle(f"no model for table {table.name}")  # unreachable for our tables


def _complete(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """The row's values parsed, and every column it lacks filled from the model's defaults."""
    parsed = {name: _from_json(table, name, value) for name, value in row.items()}
    full = _model_of(table)(**parsed)  # applies the defaults (no validation: table models)
    return {name: getattr(full, name) for name in _exported_columns(table)}


def _identity(sweep: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two stored sweeps the same measurement, whatever they are called."""
    return (
        sweep.get("created_at"),
        sweep.get("parameters"),
        sweep.get("host"),
        sweep.get("git_commit"),
    )


def import_bundle(session: Session, path: Path, *, name: str | None = None) -> BundleSummary:
    """Load a bundle file into this store (idempotent; see the module docstring)."""
    return load_bundle(session, read_bundle(path), name=name)


def load_bundle(
    session: Session, data: dict[str, Any], *, name: str | None = None
) -> BundleSummary:
    """Load a checked bundle dict; commits once at the end, rolls back on any error."""
    check_bundle(data)
    sweeps = sweep_table()
    values = _complete(sweeps, {**data["sweep"], **{k: data.get(k) for k in LIFTED}})
    if name is not None:
        if not name.strip() or len(name) > 200:
            raise InvalidParameter("--name must be 1 to 200 characters")
        values["name"] = name
    summary = BundleSummary(sweep=values["name"])
    try:
        stored = (
            session.execute(select(sweeps).where(sweeps.c.name == values["name"]))
            .mappings()
            .first()
        )
        if stored is None:
            sweep_id = session.execute(sweeps.insert().values(**values)).inserted_primary_key[0]
            summary.created = True
        elif _identity(dict(stored)) != _identity(values):
            raise InvalidBundle(
                f"a different sweep named {values['name']!r} is already in this database "
                f"(created {stored['created_at']}, on {stored['host'].get('cpu_model', '?')}); "
                "import this one under another name (--name)"
            )
        else:
            sweep_id = stored["id"]
        inserted = _load_rows(session, data["tables"], sweep_id, summary)
        if stored is not None and inserted:
            # A later snapshot of the same sweep: its status and counts are the newer ones.
            fields = {
                k: v for k, v in values.items() if k in ("status", "finished_at", "cell_count")
            }
            session.execute(sweeps.update().where(sweeps.c.id == sweep_id).values(**fields))
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0]
        raise InvalidBundle(f"the database refused the bundle's rows: {reason}") from None
    except BaseException:
        session.rollback()
        raise
    return summary


def _load_rows(
    session: Session, tables: dict[str, list[dict[str, Any]]], sweep_id: int, summary: BundleSummary
) -> int:
    inserted_total = 0
    for table in child_tables():
        rows = tables.get(table.name, [])
        link = _sweep_column(table)
        key = natural_key(table)
        existing = {
            tuple(row)
            for row in session.execute(
                select(*(table.c[column] for column in key)).where(table.c[link] == sweep_id)
            )
        }
        fresh = []
        for row in rows:
            identity = tuple(row.get(column) for column in key)
            if identity in existing:
                continue
            existing.add(identity)
            fresh.append({**_complete(table, row), link: sweep_id})
        if fresh:
            session.execute(table.insert(), fresh)
        summary.rows[table.name] = len(fresh)
        summary.already_present[table.name] = len(rows) - len(fresh)
        inserted_total += len(fresh)
    return inserted_total
