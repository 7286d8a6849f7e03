"""A live uvicorn for the hostile-user tests, and clients that come from distinct addresses.

Linux routes all of 127.0.0.0/8 to the loopback interface, so a client bound to 127.0.0.2
reaches the server on 127.0.0.1 from another address: "the attacker" and "the victim" are
told apart the way the server tells any two hosts apart (uvicorn trusts X-Forwarded-For only
from 127.0.0.1, and these clients never send it).
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image

from api.admin import change_user
from loadtest.server import ServerProcess

PASSWORD = "hostile users password"
ATTACKER = "127.0.0.2"
VICTIM = "127.0.0.3"
OPS_TOKEN = "hostile-ops-token-" + "0123456789abcdef" * 2
# Closed operations endpoints (ServerProcess opens them by default), generous limits: each
# test sets the one it is about.
BASE_ENV = {
    "PUBLIC_OPERATIONS": "false",
    "OPERATIONS_TOKEN": OPS_TOKEN,
    "AUTH_RATE_LIMIT_ACCOUNT": "1000/minute",
    "AUTH_RATE_LIMIT_ADDRESS": "1000/minute",
    "ACCESS_TOKEN_MINUTES": "60",
}


DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def database_for(request: pytest.FixtureRequest, folder: Path) -> str:
    """A fresh database for a fixture parametrized with DATABASES: a SQLite file in `folder`,
    or a new database on the session's PostgreSQL server (tests/conftest.py)."""
    if request.param == "sqlite":
        return f"sqlite:///{folder / 'api.db'}"
    postgres = request.getfixturevalue("postgres_server")
    if not postgres.is_running():  # a fault test stopped it
        postgres.start()
    return str(postgres.new_database(request.node.name))


@contextmanager
def live_server(tmp_path: Path, database_url: str, **env: str) -> Iterator[ServerProcess]:
    """`uvicorn api.main:app` on 127.0.0.1 (one worker) with BASE_ENV and `env`."""
    server = ServerProcess(sys.executable, tmp_path / "data", database_url, env={**BASE_ENV, **env})
    with server:
        yield server


@dataclass(frozen=True)
class Shared:
    """One server (default settings) that the tests of a module share, and its database."""

    server: ServerProcess
    database_url: str


@contextmanager
def shared_server(request: pytest.FixtureRequest, folder: Path) -> Iterator[Shared]:
    """For a module-scoped fixture parametrized with DATABASES: starting a server per test
    would cost seconds each; tests that share one use e-mails of their own."""
    database_url = database_for(request, folder)
    with live_server(folder, database_url) as server:
        yield Shared(server, database_url)


def client(server: ServerProcess, address: str = VICTIM, **options: object) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.url, transport=transport, timeout=60, **options)  # type: ignore[arg-type]


def async_client(server: ServerProcess, address: str, **options: object) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    limits = httpx.Limits(max_connections=200)
    return httpx.AsyncClient(
        base_url=server.url,
        transport=transport,
        timeout=120,
        limits=limits,
        **options,  # type: ignore[arg-type]
    )


def register(http: httpx.Client, email: str, password: str = PASSWORD) -> dict:
    response = http.post("/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    return response.json()


def login(http: httpx.Client, email: str, password: str = PASSWORD) -> dict:
    response = http.post("/auth/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user(http: httpx.Client, email: str) -> dict[str, str]:
    """Register `email`, log in; the Authorization headers."""
    register(http, email)
    return bearer(login(http, email)["access_token"])


def admin(database_url: str, action: str, email: str) -> None:
    """What `python -m api.admin ACTION EMAIL` does (promote, deactivate, ...)."""
    change_user(database_url, action, email)


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:500])
    body = response.json()
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= {"error_code", "message", "details"}
    return body


def png(size: tuple[int, int] = (64, 48), noise: bool = False) -> bytes:
    image = Image.effect_noise(size, 80).convert("RGB") if noise else Image.new("RGB", size, "teal")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def median_seconds(call: Callable[[], object], times: int) -> float:
    """The median wall time of `times` calls of `call` (each must succeed by its own assert)."""
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)
