"""Revision 0002 on a database at 0001 with rows in it: existing users become active `user`s,
and jobs.method takes a benchmark's full method list."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from api.core.database import API_MIGRATIONS, API_VERSION_TABLE
from nogilbench.store.db import make_engine


def _config(engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(API_MIGRATIONS))
    config.attributes["connection_engine"] = engine
    config.attributes["version_table"] = API_VERSION_TABLE
    return config


def test_0002_upgrades_existing_rows_and_downgrades(db_url):
    engine = make_engine(db_url)
    config = _config(engine)
    command.upgrade(config, "0001")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (email, password_hash, created_at) "
                "VALUES ('old@example.com', 'x', CURRENT_TIMESTAMP)"
            )
        )
    command.upgrade(config, "0002")
    methods = "sync,asyncio,threading,multiprocessing,free-threaded,subinterpreters"
    with engine.begin() as connection:
        role, active = connection.execute(
            text("SELECT role, is_active FROM users WHERE email = 'old@example.com'")
        ).one()
        assert (role, bool(active)) == ("user", True)
        connection.execute(
            text(
                "INSERT INTO jobs (owner_id, kind, status, method, workers, total, done, failed, "
                "parameters, created_at) VALUES (1, 'benchmark', 'queued', :method, 1, 0, 0, 0, "
                "'{}', CURRENT_TIMESTAMP)"
            ),
            {"method": methods},
        )
        connection.execute(text("DELETE FROM jobs"))
    command.downgrade(config, "0001")
    with engine.connect() as connection:
        columns = {
            row[1] if engine.dialect.name == "sqlite" else row[0]
            for row in connection.execute(
                text("PRAGMA table_info(users)")
                if engine.dialect.name == "sqlite"
                else text(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = 'users'"
                )
            )
        }
    assert "role" not in columns and "is_active" not in columns
    engine.dispose()
