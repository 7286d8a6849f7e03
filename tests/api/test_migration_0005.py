"""Revisions 0005 (job and job item ids never reused on SQLite) and 0007 (usage counters) on a
database at 0004 with rows in it: rows and ids survive, the counters start from the rows,
and both go back down."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from api.core.database import API_MIGRATIONS, API_VERSION_TABLE
from nogilbench.store.db import make_engine


def _config(engine) -> Config:  # type: ignore[no-untyped-def]
    config = Config()
    config.set_main_option("script_location", str(API_MIGRATIONS))
    config.attributes["connection_engine"] = engine
    config.attributes["version_table"] = API_VERSION_TABLE
    return config


JOB = (
    "INSERT INTO jobs (owner_id, kind, status, method, workers, total, done, failed, "
    "parameters, created_at, attempts) VALUES (1, 'batch', :status, 'sync', 1, 1, 0, 0, '{}', "
    "CURRENT_TIMESTAMP, 0)"
)


def test_0005_0007_keep_rows_count_usage_and_downgrade(db_url):
    engine = make_engine(db_url)
    config = _config(engine)
    command.upgrade(config, "0004")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (email, password_hash, created_at) "
                "VALUES ('old@example.com', 'x', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO images (owner_id, filename, stored_name, source_format, "
                "content_type, width, height, size_bytes, status, processed_size_bytes, "
                "created_at) VALUES (1, 'a.png', 'a', 'PNG', 'image/png', 1, 1, 100, "
                "'processed', 20, CURRENT_TIMESTAMP)"
            )
        )
        for status in ("completed", "queued", "processing"):
            connection.execute(text(JOB), {"status": status})
        # Items refer to jobs: recreating `jobs` must keep them (foreign keys are on).
        connection.execute(
            text(
                "INSERT INTO job_items (job_id, position, source_name, filename, status) "
                "VALUES (3, 0, 'a', 'a.png', 'pending')"
            )
        )
        connection.execute(text("DELETE FROM jobs WHERE id = 2"))
    command.upgrade(config, "0007")
    with engine.begin() as connection:
        usage = connection.execute(
            text("SELECT images, stored_bytes, active_jobs FROM user_usage WHERE user_id = 1")
        ).one()
        assert tuple(usage) == (1, 120, 1)  # one image, 100 + 20 bytes, one job processing
        assert connection.execute(text("SELECT job_id FROM job_items")).scalars().all() == [3]
        if engine.dialect.name == "sqlite":
            assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
        # The newest job is deleted; the next one never gets its id.
        connection.execute(text("DELETE FROM job_items"))
        connection.execute(text("DELETE FROM jobs WHERE id = 3"))
        connection.execute(text(JOB), {"status": "queued"})
        assert connection.execute(text("SELECT max(id) FROM jobs")).scalar() == 4
    command.downgrade(config, "0004")
    with engine.connect() as connection:
        tables = (
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            if engine.dialect.name == "sqlite"
            else "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        assert "user_usage" not in connection.execute(text(tables)).scalars().all()
        assert connection.execute(text("SELECT count(*) FROM jobs")).scalar() == 2
    engine.dispose()
