"""The job engine's own "which model when": one batch load on each Celery worker pool.

One API server (stock CPython, SQLite, `JOB_ENGINE=celery`) and one redis-server; for each
pool a worker (`python -m api.worker --pool P --concurrency <usable cores>`) is started, the
same batch jobs are submitted (several users, `POST /api/jobs/batch`, a pure-Python pipeline
where the GIL matters and the Pillow pipeline), and the run ends when every job is done. Per
pool and workload: jobs/s and items/s (first job created to last job finished, the
database's own timestamps), each job's latency submit -> done, the worker tree's peak RSS and
PSS (prefork children included), and its CPU seconds. Every job is checked to have run once.

Rounds are interleaved: round r runs every pool once, in an order rotated per round, so the
host's drift hits every pool alike; ratios against the threads pool on the default build are
paired by round (`nogilbench.results.stats.paired_ratio`).

    python -m loadtest.engine_pools [--quick] [--json PATH]

The free-threaded pools need Celery in the free-threaded environment (the `engine` extra);
NOGILBENCH_ENGINE_FT_PYTHON names another free-threaded interpreter that has it. A pool whose
interpreter cannot import the worker, or that re-enables the GIL, is reported unavailable.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import Engine, text

from loadtest.engine_pools_render import render_engine_pools
from loadtest.load import percentile
from loadtest.redis_server import RedisServer
from loadtest.server import ServerProcess
from loadtest.worker import WorkerProcess
from nogilbench.host.interpreters import usable_cores
from nogilbench.imaging.pipeline import BENCHMARK_PIPELINE
from nogilbench.imaging.samples import generate_images
from nogilbench.paths import PROJECT_ROOT
from nogilbench.results.stats import median_interval, paired_ratio
from nogilbench.store.db import make_engine

FT_PYTHON_ENV = "NOGILBENCH_ENGINE_FT_PYTHON"
PASSWORD = "engine-pools-password-1"
REFERENCE = "threads-default"  # the ratios' denominator: what a default install runs
READY_TIMEOUT_S = 90.0
SAMPLE_INTERVAL_S = 0.25  # memory_full_info of ~3 processes: well under 1% of a core
POLL_S = 0.05
SERVER_SETTINGS = {
    "JOB_ENGINE": "celery",
    "QUOTA_ACTIVE_JOBS": str(10**6),  # every job of the load is queued at once
    "BATCH_MAX_IMAGES": "1000",
}


@dataclass(frozen=True)
class Pool:
    key: str
    label: str  # how the report names it
    python: str
    gil: int | None  # -X gil=; None: the interpreter's default
    pool: str  # Celery's --pool


@dataclass(frozen=True)
class Workload:
    name: str
    pipeline: dict[str, Any]
    image_size: tuple[int, int]
    users: int
    jobs_per_user: int
    items_per_job: int

    @property
    def jobs(self) -> int:
        return self.users * self.jobs_per_user

    @property
    def items(self) -> int:
        return self.jobs * self.items_per_job


@dataclass(frozen=True)
class PoolsConfig:
    rounds: int
    concurrency: int
    workloads: tuple[Workload, ...]
    pools: tuple[Pool, ...]
    job_timeout_s: float = 600.0  # one workload's run on one pool, whatever happens


def _venv_python(name: str) -> str:
    return str(PROJECT_ROOT / name / "bin" / "python")


def default_pools() -> tuple[Pool, ...]:
    ft = os.environ.get(FT_PYTHON_ENV) or _venv_python(".venv-ft")
    stock = _venv_python(".venv")
    return (
        Pool("threads-ft", "threads, free-threaded GIL off", ft, 0, "threads"),
        Pool(REFERENCE, "threads, default build", stock, None, "threads"),
        Pool("prefork-default", "prefork, default build", stock, None, "prefork"),
        Pool("prefork-ft", "prefork, free-threaded GIL off", ft, 0, "prefork"),
    )


def pure_python(max_side: int, passes: int) -> dict[str, Any]:
    return {
        "operations": [{"op": "python_convolve", "max_side": max_side, "passes": passes}],
        "format": "png",
    }


def config_for(quick: bool) -> PoolsConfig:
    pillow = BENCHMARK_PIPELINE.to_dict()
    if quick:
        workloads = (
            Workload("pure-python", pure_python(128, 2), (256, 171), 2, 2, 2),
            Workload("pillow", pillow, (320, 213), 2, 2, 2),
        )
        rounds = 2
    else:
        # About 0.1 s of pure Python per item, 40 ms of Pillow: seconds per pool and round.
        workloads = (
            Workload("pure-python", pure_python(320, 3), (640, 427), 4, 3, 3),
            Workload("pillow", pillow, (800, 533), 4, 3, 6),
        )
        rounds = 6  # the fewest for which a median's order-statistics interval reaches 95%
    return PoolsConfig(rounds, usable_cores(), workloads, default_pools())


# ----------------------------------------------------------------- interpreters and workers


def probe_pool(pool: Pool) -> dict[str, Any]:
    """Can this interpreter run the worker (Celery importable, the GIL as asked after every
    import)? {'available': bool, 'reason' or 'interpreter': ...}."""
    flags = [] if pool.gil is None else ["-X", f"gil={pool.gil}"]
    script = (
        "import json, sys, sysconfig, platform\n"
        "import celery, api.worker\n"
        "gil = getattr(sys, '_is_gil_enabled', lambda: True)()\n"
        "print(json.dumps({'version': platform.python_version(), 'celery': celery.__version__,"
        " 'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED')), 'gil': gil}))\n"
    )
    if not Path(pool.python).exists():
        return {"available": False, "reason": f"{pool.python} does not exist"}
    try:
        done = subprocess.run(
            [pool.python, *flags, "-c", script],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        return {"available": False, "reason": "the interpreter did not import the worker in 120 s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"available": False, "reason": f"cannot import the worker: {last}"}
    info = json.loads(done.stdout.strip().splitlines()[-1])
    if pool.gil == 0 and info["gil"]:
        return {"available": False, "reason": "an import re-enabled the GIL"}
    build = "free-threaded build" if info["free_threaded"] else "default build"
    gil = "GIL on" if info["gil"] else "GIL off"
    return {
        "available": True,
        "interpreter": f"{info['version']} {build} {gil}",
        "celery": info["celery"],
    }


# What `api.services.engine.tasks` logs when a job ends: its outcome and the process's GIL.
JOB_DONE_LINE = re.compile(r"job (\d+): \w+ \((GIL on|GIL off)\)")
REPORT_TIMEOUT_S = 10.0


def gil_in_worker(pool: Pool, worker: WorkerProcess, job_ids: list[int]) -> str:
    """The GIL every job of `job_ids` reported from its worker process ("GIL on"/"GIL off");
    RuntimeError if a job did not report it or a pool asked for GIL off ran one with it on.
    A job's row says done just before its task logs the line: wait a moment for the last."""
    deadline = time.monotonic() + REPORT_TIMEOUT_S
    while True:
        reported = {int(job): gil for job, gil in JOB_DONE_LINE.findall(worker.log(tail=2**24))}
        missing = [job for job in job_ids if job not in reported]
        if not missing:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{pool.key}: no GIL reported for jobs {missing[:5]} in the log")
        time.sleep(POLL_S)
    states = {reported[job] for job in job_ids}
    if pool.gil == 0 and "GIL on" in states:
        raise RuntimeError(f"{pool.key}: a job ran with the GIL on in a GIL-off worker")
    return " / ".join(sorted(states))


def _wait_ready(worker: WorkerProcess, timeout_s: float) -> None:
    """Celery logs '<hostname> ready.' once it consumes (api.worker at --loglevel INFO)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert worker.process is not None
        if worker.process.poll() is not None:
            code = worker.process.returncode
            raise RuntimeError(f"the worker exited with {code}: {worker.log()}")
        if " ready." in worker.log(tail=200_000):
            return
        time.sleep(POLL_S)
    raise RuntimeError(f"the worker was not ready in {timeout_s:.0f} s: {worker.log()}")


class TreeSampler:
    """Peak summed RSS and PSS of a process tree (a prefork worker and its children), sampled
    from this process; PSS splits the pages forked children share, RSS counts them per child."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak_rss = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pool-memory", daemon=True)

    def tree(self) -> list[psutil.Process]:
        try:
            return [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return [self.root]

    def cpu_seconds(self) -> float:
        total = 0.0
        for process in self.tree():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def sample(self) -> None:
        rss = pss = 0
        for process in self.tree():
            with contextlib.suppress(psutil.Error):
                memory = process.memory_full_info()
                rss += memory.rss
                pss += getattr(memory, "pss", memory.rss)
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(SAMPLE_INTERVAL_S)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def host_busy_seconds() -> float:
    """CPU seconds every core of the host spent busy since boot (not idle, not waiting)."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


# ----------------------------------------------------------------------------- the load


@dataclass
class User:
    headers: dict[str, str]
    images: dict[str, list[int]]  # workload -> its image ids


def _users(client: httpx.Client, config: PoolsConfig, image_dir: Path) -> list[User]:
    count = max(workload.users for workload in config.workloads)
    users = []
    for number in range(count):
        email = f"pools{number}@example.com"
        body = {"email": email, "password": PASSWORD}
        client.post("/auth/register", json=body).raise_for_status()
        login = client.post("/auth/login", data={"username": email, "password": PASSWORD})
        login.raise_for_status()
        user = User({"Authorization": f"Bearer {login.json()['access_token']}"}, {})
        for workload in config.workloads:
            size_dir = image_dir / f"{workload.image_size[0]}x{workload.image_size[1]}"
            paths = generate_images(size_dir, workload.items_per_job, workload.image_size)
            ids = []
            for path in paths:
                files = {"file": (path.name, path.read_bytes(), "image/jpeg")}
                response = client.post("/api/images/upload", files=files, headers=user.headers)
                response.raise_for_status()
                ids.append(int(response.json()["id"]))
            user.images[workload.name] = ids
        users.append(user)
    return users


def _submit(client: httpx.Client, users: list[User], workload: Workload) -> list[int]:
    """Every job of the workload, users interleaved (each user's first job, then seconds)."""
    job_ids = []
    for _ in range(workload.jobs_per_user):
        for user in users[: workload.users]:
            body = {
                "image_ids": user.images[workload.name],
                "pipeline": workload.pipeline,
                "method": "sync",  # a job's items one after another: the pool is the parallelism
                "workers": 1,
            }
            response = client.post("/api/jobs/batch", json=body, headers=user.headers)
            if response.status_code != 202:
                raise RuntimeError(f"batch refused: {response.status_code} {response.text[:300]}")
            job_ids.append(int(response.json()["job_id"]))
    return job_ids


def _rows(database: Engine, query: str, job_ids: list[int]) -> list[Any]:
    ids = ",".join(str(int(job_id)) for job_id in job_ids)
    with database.connect() as connection:
        return list(connection.execute(text(query.format(ids=ids))).all())


def _as_time(value: datetime | str) -> float:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.timestamp()


def _wait_done(database: Engine, job_ids: list[int], timeout_s: float) -> None:
    query = "SELECT count(*) FROM jobs WHERE id IN ({ids}) AND status IN ('completed', 'failed')"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _rows(database, query, job_ids)[0][0] == len(job_ids):
            return
        time.sleep(POLL_S)
    raise RuntimeError(f"{len(job_ids)} jobs were not all done in {timeout_s:.0f} s")


def _outcome(database: Engine, job_ids: list[int], workload: Workload) -> dict[str, Any]:
    """Figures and the exactly-once check of one workload's run, from the service's rows."""
    jobs = _rows(
        database,
        "SELECT id, status, attempts, done, failed, created_at, finished_at FROM jobs "
        "WHERE id IN ({ids})",
        job_ids,
    )
    items = _rows(
        database,
        "SELECT status, output_name FROM job_items WHERE job_id IN ({ids})",
        job_ids,
    )
    created = [_as_time(job.created_at) for job in jobs]
    finished = [_as_time(job.finished_at) for job in jobs]
    wall = max(finished) - min(created)
    latencies = [end - start for start, end in zip(created, finished, strict=True)]
    outputs = [item.output_name for item in items if item.status == "completed"]
    completed_jobs = sum(job.status == "completed" and job.failed == 0 for job in jobs)
    exactly_once = (
        len(jobs) == workload.jobs
        and completed_jobs == workload.jobs
        and all(job.attempts == 1 for job in jobs)
        and len(items) == workload.items
        and len(outputs) == workload.items
        and len(set(outputs)) == len(outputs)
    )
    return {
        "jobs": len(jobs),
        "jobs_completed": completed_jobs,
        "items_completed": len(outputs),
        "max_attempts": max(job.attempts for job in jobs),
        "exactly_once": exactly_once,
        "wall_s": round(wall, 4),
        "jobs_per_s": len(jobs) / wall,
        "items_per_s": len(outputs) / wall,
        "latency_p50_s": round(percentile(latencies, 50), 4),
        "latency_p95_s": round(percentile(latencies, 95), 4),
    }


def _run_pool(
    pool: Pool,
    config: PoolsConfig,
    server: ServerProcess,
    client: httpx.Client,
    database: Engine,
    users: list[User],
    round_index: int,
) -> dict[str, dict[str, Any]]:
    """One worker of this pool, started and ready; every workload once; then stopped."""
    worker = WorkerProcess(
        server,
        f"{pool.key}-r{round_index}",
        "--pool", pool.pool,
        "--concurrency", str(config.concurrency),
        "--loglevel", "INFO",
        python=pool.python,
        gil=pool.gil,
    )  # fmt: skip
    runs: dict[str, dict[str, Any]] = {}
    worker.start()
    try:
        _wait_ready(worker, READY_TIMEOUT_S)
        assert server.process is not None
        api = TreeSampler(server.process.pid)
        for workload in config.workloads:
            sampler = TreeSampler(worker.pid)
            cpu_before, api_before, host_before = (
                sampler.cpu_seconds(), api.cpu_seconds(), host_busy_seconds()
            )  # fmt: skip
            started = time.monotonic()
            with sampler:
                job_ids = _submit(client, users, workload)
                _wait_done(database, job_ids, config.job_timeout_s)
            window = time.monotonic() - started
            outcome = _outcome(database, job_ids, workload)
            outcome["gil_in_worker"] = gil_in_worker(pool, worker, job_ids)
            cpu = sampler.cpu_seconds() - cpu_before
            host = host_busy_seconds() - host_before
            outcome["cpu_s"] = round(cpu, 3)
            outcome["cores_busy"] = round(cpu / window, 3)
            # The host's noise: what every other process (not this worker, not the API server)
            # kept busy meanwhile, in cores (this client's share, a few %, is in it).
            others = host - cpu - (api.cpu_seconds() - api_before)
            outcome["others_cores"] = round(max(others, 0.0) / window, 3)
            outcome["peak_rss_mb"] = round(sampler.peak_rss / 2**20, 1)
            outcome["peak_pss_mb"] = round(sampler.peak_pss / 2**20, 1)
            outcome["processes"] = len(sampler.tree())
            runs[workload.name] = outcome
    finally:
        worker.stop()
    return runs


# ----------------------------------------------------------------------------- statistics


MEDIANS = (
    "latency_p50_s", "latency_p95_s", "cpu_s", "cores_busy", "peak_rss_mb", "peak_pss_mb",
    "others_cores",
)  # fmt: skip


def _interval(values: list[float]) -> dict[str, Any]:
    return median_interval(values).as_dict()


def summarize(per_round: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    """pool -> workload -> rounds' figures, into medians with intervals and paired ratios."""
    summary: dict[str, Any] = {}
    for pool, workloads in per_round.items():
        summary[pool] = {}
        for workload, runs in workloads.items():
            column = {key: [run[key] for run in runs] for key in runs[0]}
            entry: dict[str, Any] = {
                "rounds": len(runs),
                "exactly_once": all(column["exactly_once"]),
                "jobs_per_s": _interval(column["jobs_per_s"]),
                "items_per_s": _interval(column["items_per_s"]),
                "gil_in_worker": " / ".join(sorted(set(column["gil_in_worker"]))),
            }
            for key in MEDIANS:
                entry[key] = _interval(column[key])
            reference = per_round.get(REFERENCE, {}).get(workload)
            if reference and pool != REFERENCE and len(reference) == len(runs):
                # paired by round: round r's run of this pool over round r's reference run
                ratio = paired_ratio(column["items_per_s"], [r["items_per_s"] for r in reference])
                entry["ratio_vs_reference"] = ratio.as_dict()
            summary[pool][workload] = entry
    return summary


def measure_engine_pools(
    work: Path, quick: bool, config: PoolsConfig | None = None
) -> dict[str, Any]:
    """Run the interleaved rounds; the figures as data (`render_engine_pools` writes them)."""
    config = config or config_for(quick)
    started = time.time()
    load_before = os.getloadavg()
    probes = {pool.key: probe_pool(pool) for pool in config.pools}
    available = [pool for pool in config.pools if probes[pool.key]["available"]]
    if not any(pool.key == REFERENCE for pool in available):
        raise RuntimeError(f"the reference pool cannot run: {probes.get(REFERENCE)}")
    per_round: dict[str, dict[str, list[dict[str, Any]]]] = {
        pool.key: {workload.name: [] for workload in config.workloads} for pool in available
    }
    orders: list[list[str]] = []
    work.mkdir(parents=True, exist_ok=True)
    with RedisServer() as redis_server:
        url = f"sqlite:///{work / 'api.db'}"
        env = {**SERVER_SETTINGS, "CELERY_BROKER_URL": redis_server.url}
        with ServerProcess(_venv_python(".venv"), work / "data", url, env=env) as server:
            database = make_engine(url, check=False)
            try:
                with httpx.Client(base_url=server.url, timeout=120) as client:
                    users = _users(client, config, work / "images")
                    for round_index in range(config.rounds):
                        shift = round_index % len(available)
                        order = available[shift:] + available[:shift]
                        orders.append([pool.key for pool in order])
                        for pool in order:
                            runs = _run_pool(
                                pool, config, server, client, database, users, round_index
                            )
                            for workload, outcome in runs.items():
                                per_round[pool.key][workload].append(outcome)
            finally:
                database.dispose()
    return {
        "config": {
            "rounds": config.rounds,
            "concurrency": config.concurrency,
            "cores": usable_cores(),
            "quick": quick,
            "reference": REFERENCE,
            "sample_interval_s": SAMPLE_INTERVAL_S,
            "workloads": [asdict(workload) for workload in config.workloads],
            "pools": [asdict(pool) for pool in config.pools],
        },
        "probes": probes,
        "orders": orders,
        "rounds": per_round,
        "summary": summarize(per_round),
        "wall_s": round(time.time() - started, 1),
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.engine_pools", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small load, 2 rounds (~1 min)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--markdown", type=Path, help="write the report section here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nogilbench-pools-") as work:
        results = measure_engine_pools(Path(work), args.quick)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    section = render_engine_pools(results)
    if args.markdown:
        args.markdown.write_text(section)
    sys.stdout.write(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
