"""Alembic environment of the library's chain (tables `sweeps` and `results`)."""

from nogilbench.store.alembic_env import run_migrations
from nogilbench.store.models import SQLModel

run_migrations(SQLModel.metadata)
