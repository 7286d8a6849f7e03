"""Benchmark sweeps through the library: run one as a job, read the shared results store.

The sweeps and results are the library's tables: the CLI, the notebooks and this API read
the same rows through `nogilbench.store.repository` and the same summary table through
`nogilbench.results.tables.summary_rows`.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from api.core.database import Database
from api.core.errors import BenchmarkNotFound, OverBudget
from api.core.models import Job, User
from api.core.schemas import MAX_COMPARE, BenchmarkRequest, CompareRead, SweepDetail, SweepRead
from api.repositories import jobs
from api.repositories.usage import Quotas
from api.services import quotas
from api.services.job_queue import JobQueue
from api.services.job_runner import BenchmarkRunner
from nogilbench.errors import InvalidParameter
from nogilbench.results import tables as analysis
from nogilbench.store import repository
from nogilbench.sweep.config import SweepConfig
from nogilbench.sweep.manager import run_sweep
from nogilbench.sweep.parameters import sweep_config
from nogilbench.sweep.plan import largest_plan

METHOD_COLUMN_CHARS = 255  # jobs.method is VARCHAR(255) since migration 0002
# What a stored interpreter entry may say to a user: which interpreter and build measured the
# results, never where it lives (its path) or why one was missing (which names paths too).
PUBLIC_INTERPRETER_FIELDS = (
    "role", "label", "version", "implementation", "free_threaded_build", "can_disable_gil",
    "gil_enabled_default", "has_interpreter_pool", "subinterpreters_api", "pillow_version",
    "psutil_version",
)  # fmt: skip


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "item") and callable(value.item):  # numpy / pandas scalars
        return _jsonable(value.item())
    return value


def methods_column(methods: list[str]) -> str:
    """The job row's `method` (METHOD_COLUMN_CHARS at most); the full list is in its parameters."""
    label = ",".join(dict.fromkeys(methods))
    return label if len(label) <= METHOD_COLUMN_CHARS else f"{len(set(methods))} methods"


def make_config(parameters: dict[str, Any]) -> SweepConfig:
    """A validated `nogilbench.sweep.config.SweepConfig` through the library's one door
    (`nogilbench.sweep.parameters`; raises InvalidParameter)."""
    values = dict(parameters)
    name = values.pop("name")
    values.pop("host", None)  # where it runs (the job engine's routing), not what it measures
    # A request's `repeats` is exactly its number of rounds: no adaptive extra rounds (the
    # sweep's default `max_rounds` is 6, which a request for 7+ repeats would contradict), so
    # the budget (`benchmark_cost`, by repeats) bounds what the sweep really does.
    values.setdefault("max_rounds", values.get("repeats", SweepConfig.repeats))
    return sweep_config(name, values)


def benchmark_cost(config: SweepConfig, cores: int | None = None) -> int:
    """Pixels a sweep processes, the quantity a benchmark request's budget bounds.

    Every cell the sweep can plan (`nogilbench.sweep.plan.largest_plan`: both builds found; the
    methods, worker counts and past-cores rule of `plan` itself, weak scaling included)
    decodes and processes its images once to warm up and once per round, at most
    `max_rounds` rounds: the sum over cells of (max_rounds + 1) x images x width x height.
    """
    width, height = config.image_size
    rounds = max(config.repeats, config.max_rounds or config.repeats)
    images = sum(len(cell.spec.paths) for cell in largest_plan(config, cores))
    return (rounds + 1) * images * width * height


def check_budget(config: SweepConfig, budget_pixels: int) -> int:
    """The request's cost; OverBudget (422) when it passes `budget_pixels`."""
    cost = benchmark_cost(config)
    if cost > budget_pixels:
        raise OverBudget(
            f"this benchmark would process {cost:,} pixels (cells x (rounds + 1) x images x "
            f"width x height), over the budget of {budget_pixels:,}; use fewer cells, "
            "repeats, images or smaller images"
        )
    return cost


def sweep_runner(database: Database, image_dir: Path) -> BenchmarkRunner:
    """The JobManager hook that runs a benchmark job's sweep and returns the sweep id.

    Sample images are generated (once per size, seeded) under `image_dir`. Setting `stop`
    (cancel, shutdown) kills the running cell; run_sweep then raises SweepCancelled.
    """

    def run(job: Job, progress: Callable[[int, int], None], stop: threading.Event) -> int:
        config = make_config(job.parameters)

        def on_cell(finished: int, total: int, _row: object = None) -> None:
            progress(finished, total)

        sweep_id = run_sweep(
            config, database.engine, on_cell=on_cell, image_dir=image_dir, stop_event=stop
        )
        return int(sweep_id)

    return run


def _sweep_view(sweep: Any, host_details: bool) -> SweepRead:
    return SweepRead(
        id=sweep.id,
        name=sweep.name,
        status=sweep.status,
        created_at=sweep.created_at,
        finished_at=sweep.finished_at,
        parameters=_jsonable(sweep.parameters or {}),
        cell_count=sweep.cell_count or 0,
        git_commit=sweep.git_commit if host_details else None,
    )


def public_interpreter(entry: dict[str, Any]) -> dict[str, Any]:
    """An interpreter entry without what it says about the host (its path, its search)."""
    if "unavailable" in entry:
        return {"role": entry.get("role"), "unavailable": "not available on the benchmark host"}
    return {key: entry[key] for key in PUBLIC_INTERPRETER_FIELDS if key in entry}


class BenchmarkService:
    def __init__(
        self,
        session: Session,
        manager: JobQueue,
        budget_pixels: int = 0,
        active_jobs_quota: int = 0,
        host_details: bool = False,
    ) -> None:
        self.session = session
        self.manager = manager
        self.budget_pixels = budget_pixels
        self.active_jobs_quota = active_jobs_quota
        # The host (CPU, kernel, memory), interpreter paths and the commit: for operators only,
        # the rule of /api/system. Users see the results without them.
        self.host_details = host_details

    def submit(self, user: User, request: BenchmarkRequest) -> Job:
        name = request.name or (f"api-{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}")
        parameters = request.model_dump(mode="json")
        parameters["name"] = name
        config = make_config(parameters)  # refuse bad parameters now (400), not in the background
        self.manager.check_benchmark_host(request.host)
        check_budget(config, self.budget_pixels)
        total = (
            len(request.workloads)
            * len(request.images)
            * len(request.workers)
            * len(request.methods)
        )
        job = Job(
            owner_id=user.id,  # type: ignore[arg-type]
            kind="benchmark",
            method=methods_column(request.methods),
            workers=max(request.workers),
            total=total,
            parameters=parameters,
        )
        limits = Quotas(images=0, stored_bytes=0, active_jobs=self.active_jobs_quota)
        if jobs.add(self.session, job, [], limits) is None:
            raise quotas.exceeded(self.session, job.owner_id, limits, active_jobs=1)
        self.session.commit()
        self.session.refresh(job)
        self.manager.submit(job.id)  # type: ignore[arg-type]
        return job

    def list_sweeps(self) -> list[SweepRead]:
        return [
            _sweep_view(sweep, self.host_details) for sweep in repository.list_sweeps(self.session)
        ]

    def _sweep(self, sweep_id: int) -> Any:
        sweep = repository.get_sweep(self.session, sweep_id)
        if sweep is None:
            raise BenchmarkNotFound(f"benchmark {sweep_id} does not exist")
        return sweep

    def _rows(self, sweep_ids: list[int]) -> list[dict[str, Any]]:
        results = repository.results_for(self.session, sweep_ids)
        return [_jsonable(dict(row)) for row in analysis.summary_rows(results)]

    def detail(self, sweep_id: int) -> SweepDetail:
        sweep = self._sweep(sweep_id)
        interpreters = _jsonable(sweep.interpreters or [])
        if not self.host_details:
            interpreters = [public_interpreter(entry) for entry in interpreters]
        return SweepDetail(
            **_sweep_view(sweep, self.host_details).model_dump(),
            host=_jsonable(sweep.host or {}) if self.host_details else {},
            interpreters=interpreters,
            library_versions=_jsonable(sweep.library_versions or {}),
            summary=self._rows([sweep_id]),
        )

    def compare(self, sweep_ids: list[int]) -> CompareRead:
        unique = list(dict.fromkeys(sweep_ids))
        if not unique:
            raise InvalidParameter("give at least one benchmark id: ?ids=1,2")
        if len(unique) > MAX_COMPARE:
            raise InvalidParameter(f"compare at most {MAX_COMPARE} benchmarks at once")
        sweeps = [_sweep_view(self._sweep(sweep_id), self.host_details) for sweep_id in unique]
        return CompareRead(sweeps=sweeps, rows=self._rows(unique))
