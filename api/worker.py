"""A worker-only process of the Celery engine: `python -m api.worker` (settings from the
environment, as the web server's: DATABASE_URL, DATA_DIR, CELERY_BROKER_URL, ...).

    python -m api.worker                      # batches: queue `jobs`, JOB_CONCURRENCY threads
    python -m api.worker --benchmarks         # this host's benchmarks, one at a time
    python -m api.worker --pool prefork       # processes instead of threads (GIL builds)
    python -m api.worker --metrics-port 9101  # Prometheus metrics of this worker (loopback)

Threads are the default: on the free-threaded build with the GIL off they use every core in
one process; on a GIL build `--pool prefork` does (the image work is Pillow or pure Python).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import threading

from pydantic import ValidationError

from api.core.settings import Settings
from api.services.engine.celery_app import make_celery
from api.services.engine.naming import JOBS_QUEUE, bench_queue, benchmark_host
from api.services.engine.runtime import WorkerRuntime
from api.services.engine.tasks import register


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m api.worker", description=__doc__)
    parser.add_argument(
        "--benchmarks",
        action="store_true",
        help="run this host's benchmark queue (bench.<BENCHMARK_HOST>), one job at a time",
    )
    parser.add_argument("--concurrency", type=int, help="jobs at once (default JOB_CONCURRENCY)")
    parser.add_argument("--pool", choices=("threads", "prefork", "solo"), default="threads")
    parser.add_argument("--loglevel", default="INFO")
    parser.add_argument(
        "--metrics-port",
        type=int,
        help="serve this worker's Prometheus metrics (jobs, images, jobs running) on this port",
    )
    parser.add_argument(
        "--metrics-address",
        default="127.0.0.1",
        help="address of the metrics port (default loopback: it has no authentication)",
    )
    args = parser.parse_args(argv)
    if args.concurrency is not None and args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.metrics_port is not None and args.pool == "prefork":
        # Each forked child would count its own jobs in its own registry.
        parser.error("--metrics-port needs --pool threads or solo (one process, one registry)")
    if args.metrics_port is not None and not 0 < args.metrics_port < 65536:
        parser.error("--metrics-port must be a TCP port (1-65535)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc'])).upper()}: {error['msg']}" for error in exc.errors()
        )
        raise SystemExit(f"nogilbench worker: refusing to start: {problems}") from None
    if not settings.celery_broker_url:
        raise SystemExit("nogilbench worker: refusing to start: CELERY_BROKER_URL is not set")
    logging.basicConfig(
        level=args.loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = make_celery(settings)
    lock = threading.Lock()
    built: list[WorkerRuntime] = []

    def runtime() -> WorkerRuntime:
        with lock:  # one per process, built on first use (after a prefork child forks)
            if not built:
                built.append(WorkerRuntime(settings))
            return built[0]

    register(app, runtime)
    if args.metrics_port is not None:
        from prometheus_client import start_http_server

        # One process (threads or solo): the runtime, and its registry, exist from now on.
        start_http_server(
            args.metrics_port, addr=args.metrics_address, registry=runtime().metrics.registry
        )
    if args.benchmarks:
        queues, concurrency, role = [bench_queue(benchmark_host(settings))], 1, "bench"
    else:
        queues, role = [JOBS_QUEUE], "jobs"
        concurrency = args.concurrency or settings.job_concurrency
    worker = app.Worker(
        pool=args.pool,
        concurrency=concurrency,
        queues=queues,
        hostname=f"{role}-{os.getpid()}@{socket.gethostname()}",
        loglevel=args.loglevel.upper(),
        without_gossip=True,
        without_mingle=True,
        optimization="fair",
    )
    worker.start()
    for item in built:
        item.close()
    return int(worker.exitcode or 0)


if __name__ == "__main__":
    raise SystemExit(main())
