"""Service settings, read from environment variables (or a `.env` file) with safe defaults.

Every field maps to an upper-case environment variable of the same name, e.g.
`DATABASE_URL`, `SECRET_KEY`, `ACCESS_TOKEN_MINUTES`, `MAX_UPLOAD_BYTES`, `DATA_DIR`.
"""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path
from typing import Literal

from limits import parse
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from nogilbench.imaging.codec import DEFAULT_MAX_PIXELS
from nogilbench.store.db import PROJECT_ROOT

MIN_SECRET_KEY_BYTES = 32  # HS256: a key shorter than the hash output weakens the MAC (RFC 7518)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: the SQLite file data/nogilbench.db"
    )
    secret_key: str | None = Field(
        default=None,
        description="HS256 signing key; when unset one is generated into DATA_DIR/secret_key",
    )
    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="uploads, outputs, key")
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=7, ge=1, le=90)
    bcrypt_rounds: int = Field(default=12, ge=4, le=16)
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    max_pixels: int = Field(default=DEFAULT_MAX_PIXELS, ge=1)
    cpu_workers: int = Field(default_factory=_cores, ge=1, description="CPU limiter size")
    job_concurrency: int = Field(default=2, ge=1, le=16, description="jobs running at once")
    batch_max_images: int = Field(default=100, ge=1, le=1000)
    batch_max_workers: int = Field(
        default=8,
        ge=1,
        le=256,
        description="per-request worker cap of a batch; a batch holds one CPU-limiter token "
        "per worker (at most CPU_WORKERS) while its images run",
    )
    benchmark_budget_pixels: int = Field(
        default=2_000_000_000,
        ge=1,
        description="most pixels one benchmark request may process: over its cells, "
        "(repeats + 1 warm-up) x images x width x height",
    )
    quota_images: int = Field(default=500, ge=0, description="images a user may keep")
    quota_stored_bytes: int = Field(
        default=500 * 1024 * 1024, ge=0, description="bytes of uploads + outputs a user may keep"
    )
    quota_active_jobs: int = Field(default=4, ge=0, description="queued + running jobs a user")
    quota_event_streams: int = Field(
        default=4,
        ge=0,
        description="open /events streams a user may hold (per process; with REDIS_URL, "
        "in all processes together)",
    )
    result_ttl_hours: float = Field(
        default=24.0, gt=0, description="finished jobs' outputs and zips are deleted after this"
    )
    public_operations: bool = Field(
        default=False,
        description="serve /metrics and /api/system to anyone (default: operators only)",
    )
    operations_token: str | None = Field(
        default=None,
        min_length=32,
        description="a bearer token that opens /metrics and /api/system (for a scraper; "
        "needs no database), besides an operator's access token",
    )
    slow_request_ms: float = Field(default=500.0, ge=0)
    # Server-Timing header with each request's phases (api/http/timing.py): for profiling only.
    server_timing: bool = False
    sse_poll_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="an event stream reads its job when notified of a change, and at the "
        "latest after this many seconds (in case a notification was lost)",
    )
    sse_max_seconds: float = Field(
        default=3600.0, gt=0, description="an SSE stream ends after this long (clients reconnect)"
    )
    db_pool_size: int = Field(default=5, ge=1, le=100, description="connections kept open")
    db_max_overflow: int = Field(default=10, ge=0, le=100, description="extra under load")
    db_pool_timeout: float = Field(
        default=10.0, gt=0, le=120, description="wait for a free connection, then 503"
    )
    retry_after_seconds: int = Field(
        default=5, ge=1, le=3600, description="Retry-After of 503 DATABASE_UNAVAILABLE"
    )
    redis_url: str | None = Field(
        default=None,
        description="the Redis every process shares (redis://host:6379/0): login rate limits, "
        "the event-stream quota and job progress notifications; empty: each process alone",
    )
    web_concurrency: int = Field(
        default=1,
        ge=1,
        description="uvicorn's worker processes (uvicorn reads WEB_CONCURRENCY for --workers); "
        "above 1, SECRET_KEY must be set",
    )
    rate_limit_storage_url: str | None = Field(
        default=None,
        description="`limits` storage: memory:// (per process) or redis://host:port/0 "
        "(shared by every worker and host); empty: REDIS_URL when set, else memory://",
    )
    auth_rate_limit_account: str = Field(
        default="10/minute",
        description="credential checks (login, register, password change) per e-mail from one "
        "client address",
    )
    auth_rate_limit_address: str = Field(
        default="60/minute", description="credential checks per client address"
    )
    password_hash_workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="bcrypt runs at most this many at once (one per client address)",
    )
    refresh_family_max_days: int = Field(
        default=30, ge=1, le=365, description="a login's refresh chain ends after this long"
    )
    refresh_grace_seconds: float = Field(
        default=10.0,
        ge=0,
        le=120,
        description="a just-rotated refresh token may be presented again this long (races)",
    )
    job_lease_seconds: float = Field(
        default=30.0, ge=2, le=3600, description="a job's claim; renewed by a heartbeat"
    )
    job_poll_seconds: float = Field(
        default=1.0, gt=0, le=60, description="how often idle job workers look for work"
    )
    job_max_attempts: int = Field(
        default=2, ge=1, le=10, description="runs of a job whose worker died, then failed"
    )
    run_migrations: bool = Field(default=True, description="migrate the schema at start-up")
    orphan_grace_seconds: float = Field(
        default=900.0,
        ge=0,
        le=7 * 24 * 3600,
        description="the start-up sweep never deletes a file younger than this (another host "
        "sharing DATA_DIR may not have committed it yet)",
    )
    # The job engine past one process (api/services/engine): Celery workers on Redis.
    job_engine: Literal["embedded", "celery"] = Field(
        default="embedded",
        description="embedded: every server process runs jobs itself (one process, SQLite "
        "is fine); celery: web processes only queue them, `python -m api.worker` runs them",
    )
    celery_broker_url: str | None = Field(
        default=None, description="redis://host:6379/0 of the job queue (JOB_ENGINE=celery)"
    )
    job_time_limit_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="a job still running after this long is stopped (between images; a "
        "sweep's cell is killed) and failed (JOB_ENGINE=celery)",
    )
    job_time_limit_grace_seconds: float = Field(
        default=60.0,
        gt=0,
        description="then, if it has not stopped, it is failed anyway and its writes refused",
    )
    job_retries: int = Field(
        default=5, ge=0, le=20, description="retries of a job hit by a transient error"
    )
    job_retry_backoff_seconds: float = Field(
        default=2.0, gt=0, le=600, description="first retry delay, doubled per retry"
    )
    job_redelivery_seconds: float | None = Field(
        default=None,
        gt=0,
        description="a job whose worker died is redelivered after this long (the broker's "
        "visibility timeout); default: the time limit + grace + 60 s, so no live job is",
    )
    benchmark_host: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$",
        description="the host benchmarks run on unless a request names one (queue "
        "bench.<host>); default: this machine's host name",
    )

    @model_validator(mode="after")
    def _engine_needs_broker(self) -> Settings:
        if self.job_engine == "celery" and not self.celery_broker_url:
            if not self.redis_url:
                raise ValueError(
                    "JOB_ENGINE=celery needs CELERY_BROKER_URL or REDIS_URL (redis://host:6379/0)"
                )
            self.celery_broker_url = self.redis_url  # one Redis for the queue and the rest
        limit = self.job_time_limit_seconds + self.job_time_limit_grace_seconds
        if self.job_redelivery_seconds is not None and self.job_redelivery_seconds <= limit:
            # Else a job still running would be delivered to a second worker.
            raise ValueError(
                "JOB_REDELIVERY_SECONDS must be longer than JOB_TIME_LIMIT_SECONDS + "
                f"JOB_TIME_LIMIT_GRACE_SECONDS ({limit:g} s)"
            )
        return self

    @property
    def redelivery_seconds(self) -> float:
        if self.job_redelivery_seconds is not None:
            return self.job_redelivery_seconds
        return self.job_time_limit_seconds + self.job_time_limit_grace_seconds + 60.0

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: str | None) -> str | None:
        if value is not None and len(value.encode("utf-8")) < MIN_SECRET_KEY_BYTES:
            raise ValueError(
                f"SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes; "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return value

    @model_validator(mode="after")
    def _one_key_for_every_process(self) -> Settings:
        """Several processes (or hosts) sign and check each other's tokens: a key generated
        per DATA_DIR would differ between hosts, and tokens would fail at random."""
        reason = self.multi_process_reason
        if self.secret_key is None and reason is not None:
            raise ValueError(
                f"SECRET_KEY must be set when more than one process serves ({reason}): every "
                "process must sign tokens with the same key; generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return self

    @property
    def multi_process_reason(self) -> str | None:
        """Why this deployment is taken to run several processes, or None (one process)."""
        if self.web_concurrency > 1:
            return f"WEB_CONCURRENCY={self.web_concurrency}"
        if self.redis_url:
            return "REDIS_URL is set"
        if self.database_url and not self.database_url.startswith("sqlite"):
            return "DATABASE_URL is not SQLite"
        return None

    @property
    def limits_storage_url(self) -> str:
        """Where the rate-limit counters live: the explicit setting, else the shared Redis."""
        return self.rate_limit_storage_url or self.redis_url or "memory://"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def outputs_dir(self) -> Path:
        return self.data_dir / "outputs"

    @property
    def results_dir(self) -> Path:
        return self.data_dir / "results"

    @property
    def secret_key_file(self) -> Path:
        return self.data_dir / "secret_key"

    @field_validator("redis_url", "rate_limit_storage_url")
    @classmethod
    def _redis_client_installed(cls, value: str | None) -> str | None:
        # Checked here so a missing client is one line at start-up, not a failed request.
        if value and "redis" in value.split("://", 1)[0] and find_spec("redis") is None:
            raise ValueError("a redis:// URL needs the `redis` package (redis-py) installed")
        return value

    @field_validator("auth_rate_limit_account", "auth_rate_limit_address")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        try:
            parse(value)
        except ValueError:
            raise ValueError(f"not a rate limit: {value!r} (e.g. '10/minute')") from None
        return value
