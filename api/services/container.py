"""Everything one app instance owns, built at start-up and kept on `app.state.services`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from api.core.database import Database
from api.core.security import PasswordHasher, TokenService
from api.core.settings import Settings
from api.core.storage import FileStore
from api.http.metrics import Metrics
from api.http.ratelimit import AuthRateLimiter
from api.services.cpu_limiter import CpuLimiter
from api.services.job_queue import JobQueue
from api.services.passwords import PasswordPool
from api.services.slots import PerUserSlots

T = TypeVar("T")


@dataclass
class AppServices:
    settings: Settings
    database: Database
    hasher: PasswordHasher
    tokens: TokenService
    uploads: FileStore
    outputs: FileStore
    results: FileStore
    metrics: Metrics
    cpu: CpuLimiter
    jobs: JobQueue  # the embedded JobManager, or the Celery engine's dispatcher
    passwords: PasswordPool  # bcrypt: its own bounded pool, fair between clients
    auth_limits: AuthRateLimiter
    streams: PerUserSlots
