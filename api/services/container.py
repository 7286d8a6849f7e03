"""Everything one app instance owns, built at start-up and kept on `app.state.services`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from api.core.database import Database
from api.core.security import PasswordHasher, TokenService
from api.core.settings import Settings
from api.core.storage import FileStore
from api.core.stream_tokens import StreamTokens
from api.http.metrics import Metrics
from api.http.ratelimit import AuthRateLimiter
from api.services.cpu_limiter import CpuLimiter
from api.services.job_events import JobEvents
from api.services.job_queue import JobQueue
from api.services.passwords import PasswordPool
from api.services.stream_slots import StreamSlots

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
    streams: StreamSlots  # the event-stream quota (this process, or every one with Redis)
    stream_tokens: StreamTokens  # what a browser's EventSource presents instead of a header
    job_events: JobEvents  # job changes pushed to the streams that follow them
    redis: Any = None  # the shared Redis's asyncio client (REDIS_URL), closed at shutdown
