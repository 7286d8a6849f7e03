"""Operational endpoints: /health, /metrics, /api/system, /api/operations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from api.core.errors import error_responses
from api.core.schemas import HealthRead, OperationsRead
from api.core.threads import in_thread
from api.deps import OperationsAccess, Services
from api.http.metrics import CONTENT_TYPE_LATEST
from api.services.system import operations_listing

router = APIRouter(tags=["operations"])

INTERNAL_ONLY = error_responses("INTERNAL_ERROR", validation=False, database=False)
OPERATOR_ONLY = error_responses("INVALID_TOKEN", "FORBIDDEN", "INTERNAL_ERROR", validation=False)


@router.get(
    "/health",
    response_model=HealthRead,
    summary="Liveness and database reachability",
    description="200 when the database answers `SELECT 1` (and its schema is migrated); "
    "503 DATABASE_UNAVAILABLE otherwise. It says only up or down: the reason is in the log.",
    responses=error_responses(validation=False),
)
async def health(services: Services) -> HealthRead:
    await in_thread(services.database.check)
    return HealthRead(status="ok", database="ok")


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics",
    description="Text exposition format: requests by route and status, latency histogram, "
    "requests in flight, jobs finished/running, images uploaded and processed. Needs an "
    "operator's bearer token unless the server runs with PUBLIC_OPERATIONS=true.",
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "metrics"},
        **OPERATOR_ONLY,
    },
    dependencies=[OperationsAccess],
)
def metrics(services: Services) -> PlainTextResponse:
    return PlainTextResponse(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/api/system",
    summary="Interpreter, GIL state, threads, CPU and memory",
    description="The interpreter (version, free-threaded build or not), whether the GIL is "
    "enabled right now, the process's threads, CPU use and memory, and the host.",
    responses=OPERATOR_ONLY,
    dependencies=[OperationsAccess],
)
def system(request: Request, services: Services) -> dict[str, Any]:
    return request.app.state.system.info(
        services.cpu.size, services.cpu.borrowed, services.jobs.running
    )


@router.get(
    "/api/operations",
    response_model=OperationsRead,
    summary="Image operations and the pipeline schema",
    description="Every operation with its parameters and bounds (the library's registry), "
    "and the JSON Schema of a pipeline as `process` and `batch` accept it.",
    responses=INTERNAL_ONLY,
)
def operations() -> dict[str, Any]:
    return operations_listing()
