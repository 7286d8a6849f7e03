"""Result bundles: SQLite -> file -> PostgreSQL with every value equal, idempotent imports,
clear refusals, and the CLI's one-line errors.

The rows are generated from the models' own columns, so a column (or per-sweep table) added
later is covered here without editing this test."""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, Boolean, DateTime, Float, Integer, Table, select
from sqlmodel import Session

from nogilbench.cli.main import main
from nogilbench.results.bundle import (
    FORMAT,
    InvalidBundle,
    bundle_of,
    child_tables,
    export_bundle,
    import_bundle,
    natural_key,
    sweep_table,
)
from nogilbench.store.repository import get_sweep_by_name, open_store
from tests.support import ROOT


def _value(table: Table, column: Any, index: int, rng: random.Random) -> Any:
    kind = column.type
    if table.name != "sweeps" and column.name in natural_key(table):  # distinct per row
        return index if isinstance(kind, Integer) else f"{column.name}-{index}"
    if column.nullable and rng.random() < 0.15:
        return None
    if isinstance(kind, Boolean):
        return rng.random() < 0.5
    if isinstance(kind, Integer):
        return rng.randint(0, 10**6)
    if isinstance(kind, Float):
        return rng.random() * 10 ** rng.randint(-6, 4)  # full-precision doubles
    if isinstance(kind, DateTime):
        return datetime(2026, 11, rng.randint(1, 28), 12, 30, 15, rng.randint(0, 999_999))
    if isinstance(kind, JSON):
        return [rng.random() for _ in range(3)] if index % 2 else {"k": [1, 2.5, None, "x"]}
    length = getattr(kind, "length", None) or 40
    return f"{column.name} {index} é"[:length]


def fill_store(url: str, name: str = "far-host", rows: int = 4, seed: int = 1) -> int:
    """A sweep with `rows` rows in every per-sweep table, every column set."""
    rng = random.Random(seed)
    engine = open_store(url)
    sweeps = sweep_table()
    with Session(engine) as session:
        values = {
            c.name: _value(sweeps, c, 0, rng)
            for c in sweeps.columns
            if c.name not in ("id", "lease_owner", "lease_expires_at")
        }
        values.update(
            name=name, host={"cpu_model": "EPYC 9654", "usable_cores": 96, "x": [1.5]},
            interpreters=[{"label": "cpython-3.14.0t", "path": "/opt/py/bin/python"}],
            parameters={"images": [10, 50], "workers": "auto"},
        )  # fmt: skip
        sweep_id = session.execute(sweeps.insert().values(**values)).inserted_primary_key[0]
        for table in child_tables():
            link = next(fk.parent.name for fk in table.foreign_keys)
            batch = [
                {
                    **{c.name: _value(table, c, i, rng) for c in table.columns if c.name != "id"},
                    link: sweep_id,
                }
                for i in range(rows)
            ]
            session.execute(table.insert(), batch)
        session.commit()
    engine.dispose()
    return int(sweep_id)


def snapshot(url: str, name: str) -> dict[str, Any]:
    """Everything stored about a sweep, store-independent (ids dropped, rows by key)."""
    engine = open_store(url)
    with Session(engine) as session:
        sweep = get_sweep_by_name(session, name)
        assert sweep is not None
        bundle = bundle_of(session, sweep.id)
    engine.dispose()
    del bundle["exported_at"], bundle["exported_by"]
    return bundle


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'source.db'}"


@pytest.mark.postgres
def test_sqlite_to_postgres_every_value_equal(
    sqlite_url: str, postgres_url: str, tmp_path: Path
) -> None:
    sweep_id = fill_store(sqlite_url)
    file = tmp_path / "far-host.json"
    engine = open_store(sqlite_url)
    with Session(engine) as session:
        summary = export_bundle(session, sweep_id, file)
    assert set(summary.rows) == {table.name for table in child_tables()}
    assert all(count == 4 for count in summary.rows.values())
    bundle = json.loads(file.read_text())
    assert bundle["format"] == FORMAT and bundle["version"] == 1
    assert bundle["host"]["cpu_model"] == "EPYC 9654" and bundle["interpreters"]

    target = open_store(postgres_url)
    with Session(target) as session:
        first = import_bundle(session, file)
    assert first.created and first.rows == summary.rows
    source, copied = snapshot(sqlite_url, "far-host"), snapshot(postgres_url, "far-host")
    assert copied == source  # every column of every row, floats and datetimes exact

    with Session(target) as session:  # idempotent: nothing changes the second time
        second = import_bundle(session, file)
    assert not second.created and sum(second.rows.values()) == 0
    assert sum(second.already_present.values()) == sum(summary.rows.values())
    assert snapshot(postgres_url, "far-host") == source

    # and back: PostgreSQL -> bundle -> a fresh SQLite, still equal
    back = tmp_path / "back.json"
    with Session(target) as session:
        export_bundle(session, get_sweep_by_name(session, "far-host").id, back)  # type: ignore[union-attr]
    home = f"sqlite:///{tmp_path / 'home.db'}"
    with Session(open_store(home)) as session:
        import_bundle(session, back)
    assert snapshot(home, "far-host") == source


def test_a_different_sweep_with_the_same_name_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    fill_store(sqlite_url, seed=1)
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    other_id = fill_store(other_url, seed=2)  # same name, another creation time / content
    file = tmp_path / "other.json"
    with Session(open_store(other_url)) as session:
        export_bundle(session, other_id, file)
    engine = open_store(sqlite_url)
    with Session(engine) as session, pytest.raises(InvalidBundle, match="another name"):
        import_bundle(session, file)
    with Session(engine) as session:
        renamed = import_bundle(session, file, name="far-host-2")
    assert renamed.created
    assert snapshot(sqlite_url, "far-host-2")["tables"] == snapshot(other_url, "far-host")["tables"]


def test_a_later_bundle_adds_only_missing_rows(sqlite_url: str, tmp_path: Path) -> None:
    sweep_id = fill_store(sqlite_url, rows=4)
    with Session(open_store(sqlite_url)) as session:
        full = bundle_of(session, sweep_id)
    early = json.loads(json.dumps(full))
    for name in early["tables"]:
        early["tables"][name] = early["tables"][name][:2]  # as exported halfway through
    early_file, full_file = tmp_path / "early.json", tmp_path / "full.json"
    early_file.write_text(json.dumps(early))
    full_file.write_text(json.dumps(full))
    home = f"sqlite:///{tmp_path / 'home.db'}"
    with Session(open_store(home)) as session:
        assert all(n == 2 for n in import_bundle(session, early_file).rows.values())
        later = import_bundle(session, full_file)
    assert all(n == 2 for n in later.rows.values())
    assert snapshot(home, "far-host")["tables"] == snapshot(sqlite_url, "far-host")["tables"]


def test_every_per_sweep_table_has_a_natural_key() -> None:
    """A per-sweep table added later must be importable twice without duplicating rows."""
    assert {"results", "measurements"} <= {table.name for table in child_tables()}
    for table in child_tables():
        assert natural_key(table), table.name


def _bundle_with(tmp_path: Path, change: dict[str, Any]) -> Path:
    data = {"format": FORMAT, "version": 1, "sweep": {"name": "x", "created_at": "2026-01-01"}}
    data |= {"host": {}, "interpreters": [], "tables": {}} | change
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "something-else"}, "not a nogilbench bundle"),
        ({"version": 99}, "bundle version 99"),
        ({"tables": {"teleports": []}}, "newer version"),
        ({"tables": {"results": [{"workload": "w", "warp_factor": 9}]}}, "warp_factor"),
        ({"tables": {"results": [{"workload": "w"}]}}, "lacks"),
        ({"sweep": {"created_at": "2026-01-01"}}, "no sweep with a name"),
    ],
)
def test_bad_bundles_are_refused(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidBundle, match=message):
        import_bundle(
            Session(open_store(f"sqlite:///{tmp_path / 's.db'}")), _bundle_with(tmp_path, change)
        )


def test_cli_export_import_and_bad_file(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill_store(sqlite_url)
    file = tmp_path / "cli.json"
    assert (
        main(["export", "--sweep", "far-host", "--bundle", str(file), "--database-url", sqlite_url])
        == 0
    )
    home = f"sqlite:///{tmp_path / 'home.db'}"
    assert main(["import", str(file), "--database-url", home]) == 0
    assert "imported new sweep 'far-host'" in capsys.readouterr().out
    assert main(["import", str(file), "--database-url", home]) == 0
    assert "already present" in capsys.readouterr().out
    engine = open_store(home)
    with Session(engine) as session:
        assert len(session.execute(select(sweep_table())).all()) == 1
    for bad in (tmp_path / "missing.json", tmp_path / "garbage.json"):
        if bad.name == "garbage.json":
            bad.write_text("{not json")
        assert main(["import", str(bad), "--database-url", home]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("nogilbench import: error:")


def test_an_older_bundle_lacking_columns_takes_the_defaults(
    sqlite_url: str, tmp_path: Path
) -> None:
    sweep_id = fill_store(sqlite_url, rows=2)
    with Session(open_store(sqlite_url)) as session:
        bundle = bundle_of(session, sweep_id)
    for row in bundle["tables"]["results"]:
        del row["wall_times_s"], row["anomaly"]  # as if written before these columns existed
    file = tmp_path / "old.json"
    file.write_text(json.dumps(bundle))
    home = f"sqlite:///{tmp_path / 'home.db'}"
    with Session(open_store(home)) as session:
        assert import_bundle(session, file).rows["results"] == 2
    rows = snapshot(home, "far-host")["tables"]["results"]
    assert [(row["wall_times_s"], row["anomaly"]) for row in rows] == [([], None), ([], None)]


@pytest.mark.parametrize("shipped", sorted((ROOT / "docs" / "hosts").glob("*.json")), ids=str)
def test_shipped_host_bundles_import(shipped: Path, tmp_path: Path) -> None:
    """Every bundle under docs/hosts/ still reads and imports into a fresh store."""
    with Session(open_store(f"sqlite:///{tmp_path / 'h.db'}")) as session:
        summary = import_bundle(session, shipped)
    assert summary.created and summary.rows["results"] > 0
