"""/api/benchmarks: run a sweep through the library as a job; read and compare sweeps."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from api.core.errors import error_responses
from api.core.schemas import (
    MAX_COMPARE,
    MAX_ID,
    BenchmarkRequest,
    CompareRead,
    JobAccepted,
    PathId,
    SweepDetail,
    SweepRead,
)
from api.deps import CurrentUser, Operator, Services, SessionDep
from api.routers.jobs import accepted
from api.services.benchmarks import BenchmarkService
from nogilbench.errors import InvalidParameter

router = APIRouter(prefix="/api/benchmarks", tags=["benchmarks"])


async def benchmark_service(
    services: Services, session: SessionDep, user: CurrentUser
) -> BenchmarkService:
    settings = services.settings
    return BenchmarkService(
        session,
        services.jobs,
        settings.benchmark_budget_pixels,
        settings.quota_active_jobs,
        # Host details: the rule of /api/system (operators, or everyone when public).
        host_details=user.role == "operator" or settings.public_operations,
    )


Benchmarks = Annotated[BenchmarkService, Depends(benchmark_service)]


COMPARE_IDS = re.compile(r"^[0-9]+(,[0-9]+)*$")


def parse_ids(ids: str) -> list[int]:
    """`1,2,3`: what the OpenAPI document declares (an array of ids, `explode: false`)."""
    if not COMPARE_IDS.match(ids):
        raise InvalidParameter("ids must be a comma-separated list of benchmark ids, e.g. 1,2")
    parts = ids.split(",")
    if len(parts) > MAX_COMPARE:
        raise InvalidParameter(f"compare at most {MAX_COMPARE} benchmarks at once")
    # Digits beyond MAX_ID's are out of range anyway (and int() of thousands would refuse).
    if any(len(part.lstrip("0")) > len(str(MAX_ID)) for part in parts):
        raise InvalidParameter(f"benchmark ids are between 1 and {MAX_ID}")
    values = [int(part) for part in parts]
    if not all(1 <= value <= MAX_ID for value in values):
        raise InvalidParameter(f"benchmark ids are between 1 and {MAX_ID}")
    return values


@router.post(
    "/run",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    summary="Run a benchmark sweep",
    description="Operators only. Validates the sweep parameters with the library and runs "
    "the sweep as a background job (each cell in a fresh subprocess, as the CLI does). The "
    "request must fit the budget: over its cells, (repeats + 1) x images x width x height "
    "pixels at most BENCHMARK_BUDGET_PIXELS (422 OVER_BUDGET); lists may not repeat a value. "
    "Follow it like any job; its `sweep_id` names the stored benchmark once completed; "
    "`DELETE /api/jobs/{id}` cancels it. `host` names the machine to measure on: another "
    "host than this one needs the Celery engine (400 INVALID_OPERATION on the embedded one).",
    responses=error_responses(
        "INVALID_TOKEN",
        "FORBIDDEN",
        "INVALID_PARAMETER",
        "INVALID_OPERATION",
        "OVER_BUDGET",
        "QUOTA_EXCEEDED",
    ),
)
def run_benchmark(body: BenchmarkRequest, user: Operator, service: Benchmarks) -> JobAccepted:
    job = service.submit(user, body)
    return accepted(job.id, job.status)  # type: ignore[arg-type]


@router.get(
    "/",
    response_model=list[SweepRead],
    summary="Stored benchmarks",
    description="Every sweep in the results store (from the API, the CLI or the notebooks).",
    responses=error_responses("INVALID_TOKEN", validation=False),
)
def list_benchmarks(user: CurrentUser, service: Benchmarks) -> list[SweepRead]:
    return service.list_sweeps()


@router.get(
    "/compare",
    response_model=CompareRead,
    summary="Compare benchmarks",
    description="The summary table (the one the CLI and the report print) over several "
    "sweeps: `?ids=1,2`.",
    responses=error_responses("INVALID_TOKEN", "INVALID_PARAMETER", "BENCHMARK_NOT_FOUND"),
)
def compare_benchmarks(
    user: CurrentUser,
    service: Benchmarks,
    ids: Annotated[str, Query(description="comma-separated ids")],
) -> CompareRead:
    return service.compare(parse_ids(ids))


@router.get(
    "/{sweep_id:int}",
    response_model=SweepDetail,
    summary="One benchmark",
    description="The sweep's parameters, interpreters and its summary table. The host "
    "(CPU, kernel, memory), the interpreters' paths and the commit only for operators (the "
    "rule of `/api/system`); a user sees `host` empty and `git_commit` null.",
    responses=error_responses("INVALID_TOKEN", "BENCHMARK_NOT_FOUND"),
)
def get_benchmark(sweep_id: PathId, user: CurrentUser, service: Benchmarks) -> SweepDetail:
    return service.detail(sweep_id)
