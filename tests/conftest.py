"""Session-wide fixtures: a real PostgreSQL server and the free-threaded interpreter.

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
