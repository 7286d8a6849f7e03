"""Alembic environment of the library's chain: only the tables `sweeps` and `results`.

`SQLModel.metadata` is shared by every SQLModel table imported in the process (the API's
too), so the chain compares against a metadata holding just the library's two tables.
"""

from sqlalchemy import MetaData

from nogilbench.store.alembic_env import run_migrations
from nogilbench.store.models import Result, Sweep

library_metadata = MetaData()
for model in (Sweep, Result):
    model.__table__.to_metadata(library_metadata)  # type: ignore[attr-defined]

run_migrations(library_metadata)
