"""Live servers on loopback: one free port, and the service under a real uvicorn.

`ServerProcess` (loadtest.server) starts, waits for and stops the service; the tests use it
as the load test does, or with the contract suite's settings and entry point.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from loadtest.server import ServerFailed, ServerProcess, free_port

__all__ = ["CONTRACT_SETTINGS", "ServerProcess", "contract_server", "free_port", "live_server"]

CONTRACT_START_TIMEOUT_S = 90.0  # the free-threaded build's first start on a busy CI host
CONTRACT_SETTINGS = {
    "SECRET_KEY": "contract-test-secret-" + "0123456789abcdef" * 4,
    "BCRYPT_ROUNDS": "4",
    "MAX_UPLOAD_BYTES": "300000",
    "MAX_PIXELS": "2000000",
    "SSE_POLL_SECONDS": "0.05",
    "ACCESS_TOKEN_MINUTES": "60",
    # A fuzzer sends thousands of requests from one address and one account: the rate
    # limits and storage quotas (tested on their own in tests/api) would answer most of
    # them 429. The active-jobs quota stays: it keeps the queue (and the CPU limiter that
    # uploads share with batches) short, and its 429 is a documented answer.
    "AUTH_RATE_LIMIT_ACCOUNT": "1000000/minute",
    "AUTH_RATE_LIMIT_ADDRESS": "1000000/minute",
    "QUOTA_IMAGES": "1000000",
    "QUOTA_STORED_BYTES": str(2**40),
    "QUOTA_EVENT_STREAMS": "100000",
    # Every benchmark the schema allows is within budget (the fuzz server runs no sweep).
    "BENCHMARK_BUDGET_PIXELS": str(10**18),
}


def contract_server(
    python: str,
    tmp_path: Path,
    database_url: str,
    *,
    gil: int | None = None,
    args: list[str] | None = None,
    **settings: str,
) -> ServerProcess:
    """The service as the contract tests run it: CONTRACT_SETTINGS (plus `settings`), its
    data under `tmp_path / "data"`, its log in `tmp_path / "server.log"`."""
    return ServerProcess(
        python,
        tmp_path / "data",
        database_url,
        gil=gil,
        args=args,
        settings={**CONTRACT_SETTINGS, **settings},
        log_path=tmp_path / "server.log",
    )


@contextmanager
def live_server(
    server: ServerProcess, start_timeout_s: float = CONTRACT_START_TIMEOUT_S
) -> Iterator[str]:
    """Start `server` and yield its base URL; stopped (SIGTERM, then SIGKILL) however the
    test ends. A server that does not come up fails the test with its log's tail."""
    try:
        server.start(start_timeout_s)
    except ServerFailed as exc:
        pytest.fail(f"the server did not start: {exc}", pytrace=False)
    try:
        yield server.url
    finally:
        server.stop()
