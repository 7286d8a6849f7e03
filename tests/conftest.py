"""Session-wide fixtures: real PostgreSQL and Redis servers and the free-threaded interpreter.

Subfolders (tests/api/, ...) add their own conftest.py; these fixtures are visible to all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from nogilbench.host.interpreters import (
    InterpreterInfo,
    InterpreterUnavailable,
    find_free_threaded,
)
from tests.support.pg import PostgresServer, PostgresUnavailable
from tests.support.redis import RedisServer, RedisUnavailable


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def require_free_threaded() -> bool:
    """CI (NOGILBENCH_REQUIRE_FT=1): free-threaded tests must run, never skip."""
    return _flag("NOGILBENCH_REQUIRE_FT")


def require_postgres() -> bool:
    """In CI the PostgreSQL tests must run, never skip."""
    return _flag("CI") or _flag("NOGILBENCH_REQUIRE_POSTGRES")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL 15 server for the whole session; tests may ``stop()`` / ``start()`` it."""
    try:
        server = PostgresServer()
    except PostgresUnavailable as exc:
        if require_postgres():
            pytest.fail(f"PostgreSQL is required in CI: {exc}", pytrace=False)
        pytest.skip(str(exc))
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole session (shared limits, the job engine)."""
    try:
        server = RedisServer()
    except RedisUnavailable as exc:
        if require_postgres():  # CI: the real servers must run, never skip
            pytest.fail(f"Redis is required in CI: {exc}", pytrace=False)
        pytest.skip(str(exc))
    with server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The redis:// URL of the session's server, emptied for this test."""
    import socket

    with socket.create_connection((redis_server.host, redis_server.port), timeout=5) as conn:
        conn.sendall(b"*1\r\n$8\r\nFLUSHALL\r\n")
        if not conn.recv(16).startswith(b"+OK"):
            raise RuntimeError("FLUSHALL failed on the test redis-server")
    return redis_server.url


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """SQLAlchemy URL (postgresql+psycopg) of a fresh, empty database for this test."""
    if not postgres_server.is_running():  # a previous test stopped it
        postgres_server.start()
    return postgres_server.new_database(request.node.name)


@pytest.fixture(scope="session")
def ft_interpreter() -> InterpreterInfo:
    """The free-threaded interpreter (see nogilbench.host.interpreters.find_free_threaded)."""
    try:
        return find_free_threaded()
    except InterpreterUnavailable as exc:
        message = f"no free-threaded interpreter: {exc.reason}"
        if require_free_threaded():
            pytest.fail(f"{message} (NOGILBENCH_REQUIRE_FT=1)", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def ft_python(ft_interpreter: InterpreterInfo) -> str:
    """Path of the free-threaded interpreter; skips (fails under NOGILBENCH_REQUIRE_FT=1)."""
    return ft_interpreter.path
