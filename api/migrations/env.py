"""Alembic environment of the API's chain (users, refresh tokens, images, jobs, job items)."""

from api.core.models import api_metadata
from nogilbench.store.alembic_env import run_migrations

run_migrations(api_metadata())
