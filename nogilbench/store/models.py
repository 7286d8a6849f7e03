"""The two tables of the results store: one row per sweep, one row per measured cell.

A result column is defined here once; the CLI, the notebooks and the API all read these.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, UniqueConstraint
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
    # Drawn when the sweep is created, kept on resume: the seed of its rounds' shuffled orders
    # (None: a sweep stored before it existed, whose orders used the image seed alone).
    order_seed: int | None = Field(default=None, sa_type=BigInteger())
    # Who is measuring this sweep now: one process at a time (see repository.acquire_lease).
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_expires_at: datetime | None = Field(default=None, sa_type=DateTime())


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
    # the round of each value of wall_times_s: ratios between cells are paired on these
    wall_rounds: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=True))
    per_image_ms: float | None = None
    throughput_ips: float | None = None  # images per second at the median
    wall_low_s: float | None = None  # interval of the median (stats.median_interval)
    wall_high_s: float | None = None
    wall_confidence: float | None = None  # the level that interval reaches (0.95 or less)
    # vs sync on the same interpreter (same binary), paired by round (stats.ratio_between)
    speedup: float | None = None
    speedup_low: float | None = None
    speedup_high: float | None = None
    # vs sync on the default (GIL) build of the same version: what people run today
    speedup_default: float | None = None
    speedup_default_low: float | None = None
    speedup_default_high: float | None = None
    ideal_speedup: float | None = None  # min(workers, usable cores, what the batch allows)
    efficiency: float | None = None  # speedup / ideal_speedup
    efficiency_low: float | None = None
    efficiency_high: float | None = None
    anomaly: str | None = None  # a physically impossible figure: flagged, never a finding
    cpu_percent: float | None = None  # process tree CPU time / wall time x 100 (100 = one core)
    cpu_per_core: list[float] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    peak_rss_mb: float | None = None  # whole process tree, children included (see memory_kind)
    memory_kind: str | None = Field(default=None, max_length=10)  # pss (shared pages split) | rss
    cpu_resolution: float | None = None  # +- percentage points of cpu_percent (clock ticks)
    digest: str | None = Field(default=None, max_length=40)  # outputs; must equal sync's
    workers_observed: int | None = None  # distinct worker threads/processes seen answering
    spread: float | None = None  # (max - min) / median of the repeats
    startup_ms: float | None = None  # process start + imports + pool start, outside the timing
    cell_wall_s: float | None = None  # the whole cell process, seen by the orchestrator
    cores: int = 0
    oversubscribed: bool = False
    start_method: str | None = Field(default=None, max_length=20)
    status: str = Field(default="ok", max_length=20)  # ok | error | unavailable
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime())


class Measurement(SQLModel, table=True):
    """One timed round of one cell: a fresh process, a warm-up, one timed pass.

    The unique key makes a resumed sweep unable to measure a (cell, round) twice.
    """

    __tablename__ = "measurements"
    __table_args__ = (
        UniqueConstraint(
            "sweep_id", "workload", "method", "workers", "images", "interpreter", "round",
            name="uq_measurement_round",
        ),
    )  # fmt: skip

    id: int | None = Field(default=None, primary_key=True)
    sweep_id: int = Field(foreign_key="sweeps.id", index=True)
    workload: str = Field(max_length=40)
    method: str = Field(max_length=40)
    workers: int
    images: int
    interpreter: str = Field(max_length=80)
    round: int
    position: int = 0  # place in the round's shuffled order
    status: str = Field(default="ok", max_length=20)  # ok | error | unavailable
    error: str | None = None
    wall_s: float | None = None
    cpu_s: float | None = None
    cpu_per_core: list[float] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    peak_memory_mb: float | None = None
    memory_kind: str | None = Field(default=None, max_length=10)
    startup_ms: float | None = None
    cell_wall_s: float | None = None
    gil_enabled: bool | None = None
    workers_observed: int | None = None
    digest: str | None = Field(default=None, max_length=40)
    load_1m: float | None = None  # host load average when the round started
    steal_percent: float | None = None  # CPU steal over the measurement (VMs), host-wide
    cpu_mhz: float | None = None  # mean current frequency where the OS exposes it
    sampler_cpu_percent: float | None = None  # the memory sampler's own cost, % of one core
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime())


class SweepRound(SQLModel, table=True):
    """The shuffled order of one round of one comparison group, stored before it runs."""

    __tablename__ = "sweep_rounds"
    __table_args__ = (
        UniqueConstraint("sweep_id", "workload", "images", "round", name="uq_sweep_round"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sweep_id: int = Field(foreign_key="sweeps.id", index=True)
    workload: str = Field(max_length=40)
    images: int
    round: int
    order: list[list[Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime())
