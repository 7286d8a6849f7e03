"""Alembic chain of the service's tables (version table `alembic_version_api`)."""
