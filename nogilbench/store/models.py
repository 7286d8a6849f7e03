"""The two tables of the results store: one row per sweep, one row per measured cell.

A result column is defined here once; the CLI, the notebooks and the API all read these.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Naive UTC: stored the same way on SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


class Sweep(SQLModel, table=True):
    __tablename__ = "sweeps"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=200)
    status: str = Field(default="running", max_length=20)  # running | completed | interrupted
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime())
    finished_at: datetime | None = Field(default=None, sa_type=DateTime())
    parameters: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    host: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    interpreters: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    library_versions: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    git_commit: str | None = Field(default=None, max_length=64)
    cell_count: int = 0


class Result(SQLModel, table=True):
    __tablename__ = "results"
    __table_args__ = (
        # One row per cell per sweep: a resumed sweep can never store a cell twice.
        UniqueConstraint(
            "sweep_id",
            "workload",
            "method",
            "workers",
            "images",
            "interpreter",
            name="uq_result_cell",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    sweep_id: int = Field(foreign_key="sweeps.id", index=True)
    workload: str = Field(max_length=40)
    method: str = Field(max_length=40)
    workers: int
    images: int
    interpreter: str = Field(max_length=80)  # role label, e.g. "free-threaded" or "default-build"
    interpreter_path: str = Field(default="", max_length=1000)
    interpreter_version: str = Field(default="", max_length=80)
    free_threaded_build: bool = False
    gil_requested: bool | None = None
    gil_enabled: bool | None = None  # observed inside the worker(s), after all imports
    repeats: int = 0
    wall_median_s: float | None = None
    wall_min_s: float | None = None
    wall_max_s: float | None = None
    wall_times_s: list[float] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    per_image_ms: float | None = None
    throughput_ips: float | None = None  # images per second at the median
    speedup: float | None = None  # vs sync, same workload, image count and interpreter
    efficiency: float | None = None  # speedup / min(workers, cores)
    cpu_percent: float | None = None  # process tree CPU time / wall time x 100 (100 = one core)
    cpu_per_core: list[float] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    peak_rss_mb: float | None = None  # whole process tree, children included
    spread: float | None = None  # (max - min) / median of the repeats
    startup_ms: float | None = None  # process start + imports + pool start, outside the timing
    cell_wall_s: float | None = None  # the whole cell process, seen by the orchestrator
    cores: int = 0
    oversubscribed: bool = False
    start_method: str | None = Field(default=None, max_length=20)
    status: str = Field(default="ok", max_length=20)  # ok | error | unavailable
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime())
