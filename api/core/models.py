"""The service's own tables (users, refresh tokens, images, jobs, job items).

They live beside the library's `sweeps`/`results` in the same database but have their own
Alembic chain (`api/migrations`, version table `alembic_version_api`). Datetimes are naive
UTC, stored the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, BigInteger, Column, DateTime, MetaData, Table, Text
from sqlmodel import Field, SQLModel

from nogilbench.store.models import utcnow

ROLES = ("user", "operator")

__all__ = [
    "ROLES", "Image", "Job", "JobItem", "RefreshToken", "User", "UserUsage", "api_metadata",
    "utcnow",
]  # fmt: skip


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True, unique=True, max_length=254)
    password_hash: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime())
    # "Log out everywhere" / password change: access tokens issued before this are refused.
    sessions_revoked_at: datetime | None = Field(default=None, sa_type=DateTime())
    # `user` or `operator`; operators come only from `python -m api.admin promote EMAIL`.
    role: str = Field(default="user", max_length=20, sa_column_kwargs={"server_default": "user"})
    is_active: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})


class RefreshToken(SQLModel, table=True):
    """One issued refresh token (by its `jti`); a login starts a family, each refresh extends it."""

    __tablename__ = "refresh_tokens"

    jti: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="users.id", index=True)
    family_id: str = Field(index=True, max_length=64)
    issued_at: datetime = Field(default_factory=utcnow, sa_type=DateTime())
    expires_at: datetime = Field(sa_type=DateTime())
    used_at: datetime | None = Field(default=None, sa_type=DateTime())
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime())
    # The token this one replaced (None: issued by a login); the family's absolute start.
    parent_jti: str | None = Field(default=None, max_length=64, index=True)
    family_started_at: datetime | None = Field(default=None, sa_type=DateTime())
    # The one token this one was exchanged for (set with used_at, in one conditional UPDATE).
    successor_jti: str | None = Field(default=None, max_length=64)


class Image(SQLModel, table=True):
    __tablename__ = "images"
    # SQLite would hand a deleted newest image's id to the next upload (migration 0004).
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    filename: str = Field(max_length=255)  # the client's name, shown only, never used on disk
    stored_name: str = Field(max_length=64)  # generated
    source_format: str = Field(max_length=10)
    content_type: str = Field(max_length=50)
    width: int
    height: int
    size_bytes: int
    status: str = Field(default="uploaded", max_length=20)  # uploaded | processed
    processed_name: str | None = Field(default=None, max_length=64)
    processed_format: str | None = Field(default=None, max_length=10)
    processed_size_bytes: int | None = None
    processed_width: int | None = None
    processed_height: int | None = None
    pipeline: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    processing_ms: float | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime())
    processed_at: datetime | None = Field(default=None, sa_type=DateTime())


class Job(SQLModel, table=True):
    """A batch (images through a pipeline) or benchmark (a library sweep) run in the background."""

    __tablename__ = "jobs"
    # Ids are never reused on SQLite either (migration 0005): a stale id never reaches a new job.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="users.id", index=True)
    kind: str = Field(default="batch", max_length=20)  # batch | benchmark
    status: str = Field(default="queued", max_length=20)  # queued|processing|completed|failed
    method: str = Field(default="threading", max_length=255)  # benchmarks: "sync,threading,..."
    workers: int = 1
    total: int = 0
    done: int = 0
    failed: int = 0
    parameters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    result_name: str | None = Field(default=None, max_length=64)
    # Bytes the archive counts against the owner's storage (reserved before it is written).
    result_size_bytes: int | None = Field(default=None, sa_type=BigInteger())
    sweep_id: int | None = None
    error: str | None = Field(default=None, sa_type=Text())
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime())
    started_at: datetime | None = Field(default=None, sa_type=DateTime())
    finished_at: datetime | None = Field(default=None, sa_type=DateTime())
    # Which worker process runs the job and until when its claim holds (renewed by heartbeat).
    claimed_by: str | None = Field(default=None, max_length=100)
    lease_expires_at: datetime | None = Field(default=None, sa_type=DateTime(), index=True)
    attempts: int = Field(default=0)


class JobItem(SQLModel, table=True):
    __tablename__ = "job_items"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="jobs.id", index=True)
    position: int
    image_id: int | None = None  # no foreign key: deleting an image keeps the job's history
    source_name: str = Field(max_length=64)
    filename: str = Field(max_length=255)
    status: str = Field(default="pending", max_length=20)  # pending | completed | failed
    output_name: str | None = Field(default=None, max_length=64)
    output_size_bytes: int | None = Field(default=None, sa_type=BigInteger())
    error: str | None = Field(default=None, sa_type=Text())


class UserUsage(SQLModel, table=True):
    """What one user keeps, counted as it changes: the quotas' single source of truth.

    Each counter moves in the transaction that adds or removes what it counts, through
    `api.repositories.usage` (a conditional UPDATE when it grows), so concurrent requests
    cannot pass a quota between a check and an insert (migration 0007).
    """

    __tablename__ = "user_usage"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    images: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Uploads, processed outputs, batch outputs and batch archives.
    stored_bytes: int = Field(
        default=0, sa_type=BigInteger(), sa_column_kwargs={"server_default": "0"}
    )
    active_jobs: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # queued+running


API_TABLES = ("users", "refresh_tokens", "images", "jobs", "job_items", "user_usage")


def api_metadata() -> MetaData:
    """A MetaData holding only the API's tables (SQLModel.metadata also has the library's)."""
    metadata = MetaData()
    for name in API_TABLES:
        table: Table = SQLModel.metadata.tables[name]
        table.to_metadata(metadata)
    return metadata
