"""The FastAPI app: `uvicorn api.main:app` (settings from the environment).

`create_app(settings)` builds an independent app (its own engine, folders, metrics
registry, job pool), which is what the tests use. At start-up the app migrates both
schema chains (the library's and its own), recovers interrupted jobs, and starts the job
pool; if the database is down it still starts, answers 503 where the database is needed,
and recovers when the database returns.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from pydantic import ValidationError
from starlette.types import Scope

from api.core import shared_redis
from api.core.database import Database
from api.core.errors import install_error_handlers
from api.core.security import PasswordHasher, TokenService, load_or_create_secret_key
from api.core.settings import Settings
from api.core.storage import FileStore
from api.core.stream_tokens import StreamTokens
from api.http import redaction
from api.http.metrics import Metrics
from api.http.middleware import BodyLimitMiddleware, RequestContextMiddleware
from api.http.openapi import install_openapi, operation_id
from api.http.ratelimit import AuthRateLimiter
from api.repositories.jobs import count_with_status
from api.routers import auth, benchmarks, images, jobs, ops
from api.services import job_events
from api.services.benchmarks import sweep_runner
from api.services.container import AppServices
from api.services.cpu_limiter import CpuLimiter
from api.services.engine.naming import benchmark_host
from api.services.job_queue import JobQueue
from api.services.job_runner import JobManager
from api.services.passwords import PasswordPool
from api.services.stream_slots import LocalStreamSlots, RedisStreamSlots, StreamSlots
from api.services.system import SystemService
from nogilbench.concurrency.base import gil_enabled
from nogilbench.errors import StoreUnavailable
from nogilbench.store.db import database_url

logger = logging.getLogger("api")

UPLOAD_PATH = "/api/images/upload"
JSON_BODY_LIMIT = 1024 * 1024
MULTIPART_OVERHEAD = 64 * 1024

DESCRIPTION = """
An image service built on the **nogilbench** library: upload images, run pipelines of
operations on them (one at a time or as background batch jobs on any of the library's
concurrency runners), and run and compare benchmark sweeps.

Authenticate with `POST /auth/login` (or the **Authorize** button) and send
`Authorization: Bearer <access token>`. Every error is `{"error_code", "message"}`.
"""

TAGS = [
    {"name": "auth", "description": "Accounts and JWTs (short access tokens, rotating refresh)."},
    {"name": "images", "description": "Your images: upload, process, download. Owner only."},
    {"name": "jobs", "description": "Background batch processing with progress and SSE."},
    {"name": "benchmarks", "description": "Benchmark sweeps in the shared results store."},
    {"name": "operations", "description": "Health, metrics, system, available operations."},
]


def _build_services(settings: Settings, metrics: Metrics) -> AppServices:
    pool = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout,
    }
    database = Database(
        database_url(settings.database_url), run_migrations=settings.run_migrations, pool=pool
    )
    secret = load_or_create_secret_key(settings.secret_key, settings.secret_key_file)
    grace = settings.orphan_grace_seconds
    uploads = FileStore(settings.uploads_dir, grace)
    outputs = FileStore(settings.outputs_dir, grace)
    results = FileStore(settings.results_dir, grace)
    cpu = CpuLimiter(settings.cpu_workers)
    engine = _job_engine(settings, database, uploads, outputs, results, metrics, cpu)
    redis = None
    streams: StreamSlots = LocalStreamSlots(settings.quota_event_streams)
    if settings.redis_url:
        redis = shared_redis.async_client(settings.redis_url)
        streams = RedisStreamSlots(redis, settings.quota_event_streams)
    return AppServices(
        settings=settings,
        database=database,
        hasher=PasswordHasher(settings.bcrypt_rounds),
        tokens=TokenService(secret, settings.access_token_minutes, settings.refresh_token_days),
        uploads=uploads,
        outputs=outputs,
        results=results,
        metrics=metrics,
        cpu=cpu,
        jobs=engine,
        passwords=PasswordPool(settings.password_hash_workers),
        auth_limits=AuthRateLimiter(
            settings.limits_storage_url,
            settings.auth_rate_limit_account,
            settings.auth_rate_limit_address,
        ),
        streams=streams,
        stream_tokens=StreamTokens(secret),
        job_events=job_events.for_settings(settings.redis_url),
        redis=redis,
    )


def _job_engine(
    settings: Settings,
    database: Database,
    uploads: FileStore,
    outputs: FileStore,
    results: FileStore,
    metrics: Metrics,
    cpu: CpuLimiter,
) -> JobQueue:
    """Embedded: this process runs jobs. Celery: it only queues them (workers run them);
    Celery is imported only then, so the default install does not need it."""
    if settings.job_engine == "celery":
        from api.services.engine.depth import queue_depths
        from api.services.engine.dispatch import CeleryJobs

        dispatcher = CeleryJobs(settings, database)
        metrics.watch_queue_depth(lambda: queue_depths(dispatcher.redis))
        return dispatcher
    manager = JobManager(
        database,
        uploads,
        outputs,
        results,
        metrics,
        settings.job_concurrency,
        settings.max_pixels,
        cpu,
        settings.result_ttl_hours * 3600,
        lease_seconds=settings.job_lease_seconds,
        poll_seconds=settings.job_poll_seconds,
        max_attempts=settings.job_max_attempts,
        quota_stored_bytes=settings.quota_stored_bytes,
    )
    manager.benchmark_runner = sweep_runner(database, settings.data_dir / "images")
    manager.benchmark_host = benchmark_host(settings)
    metrics.watch_queue_depth(lambda: {"embedded": _queued(database)})
    return manager


def _queued(database: Database) -> int:
    with database.session() as session:
        return count_with_status(session, "queued")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = _build_services(settings, metrics)
        app.state.services = services
        app.state.system = SystemService()
        logger.info(
            "starting: database %s, data %s, GIL %s, CPU limiter %d",
            services.database.display_url,
            settings.data_dir,
            "enabled" if gil_enabled() else "disabled",
            settings.cpu_workers,
        )
        try:
            services.database.ensure_ready()
        except StoreUnavailable as exc:
            logger.error("database unavailable at start-up (will retry per request): %s", exc)
        # Every committed change of a job wakes the streams that follow it (any process).
        job_events.install(services.database, services.job_events)
        await services.job_events.start()
        services.jobs.start()
        try:
            yield
        finally:
            services.jobs.stop()
            job_events.uninstall(services.database)
            await services.job_events.stop()
            if services.redis is not None:
                await services.redis.aclose()
            services.passwords.close()
            services.database.dispose()
            logger.info("stopped: running jobs stopped, database closed")

    # /docs and /redoc load Swagger UI and ReDoc from fastapi-offline's copies (served under
    # /static-offline-docs), not from a CDN: they work on a machine without internet. No
    # validator badge either: it would send the schema's URL to an outside service.
    app = FastAPIOffline(
        title="nogilbench image service",
        version="0.1.0",
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        swagger_ui_parameters={"validatorUrl": None},
        generate_unique_id_function=operation_id,
    )
    install_error_handlers(app)
    redaction.install()  # no stream token in uvicorn's access log
    routers = (auth.router, images.router, jobs.router, benchmarks.router, ops.router)
    for router in routers:
        app.include_router(router)
    app.state.route_table = [route for router in routers for route in router.routes]
    install_openapi(app, settings)

    upload_limit = settings.max_upload_bytes + MULTIPART_OVERHEAD

    def body_limit(scope: Scope) -> int:
        return upload_limit if scope["path"].rstrip("/") == UPLOAD_PATH else JSON_BODY_LIMIT

    # Added last = outermost: the access log sees every response, 413s included.
    app.add_middleware(BodyLimitMiddleware, limit_for=body_limit)
    app.add_middleware(
        RequestContextMiddleware,
        metrics=metrics,
        slow_ms=settings.slow_request_ms,
        server_timing=settings.server_timing,
    )
    return app


def _configure_logging() -> None:
    root = logging.getLogger("api")
    if not root.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)


def _app_from_environment() -> FastAPI:
    """The app `uvicorn api.main:app` serves; bad settings stop it with one line, not a trace."""
    try:
        return create_app(Settings())
    except ValidationError as exc:
        problems = "; ".join(
            # A check of several settings (no `loc`) names them in its own message.
            f"{'.'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            if error["loc"]
            else error["msg"].removeprefix("Value error, ")
            for error in exc.errors()
        )
        raise SystemExit(f"nogilbench api: refusing to start: {problems}") from None


_configure_logging()
app = _app_from_environment()
