"""The body of every Alembic `env.py` in this project (library and API chains).

`migrate()` passes the engine and the chain's version table through `config.attributes`;
an `env.py` only calls `run_migrations(metadata)`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData


def run_migrations(target_metadata: MetaData | None = None) -> None:
    config = context.config
    engine = config.attributes["connection_engine"]
    version_table = config.attributes["version_table"]
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=version_table,
            render_as_batch=connection.dialect.name == "sqlite",  # ALTER support on SQLite
        )
        with context.begin_transaction():
            context.run_migrations()
