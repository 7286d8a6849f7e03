"""Login, registration and password changes are rate-limited per client address and per
account from that address (429 with Retry-After); bcrypt runs through a bounded pool, one
check at a time per client address."""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.main import create_app
from tests.support.api import PASSWORD, assert_envelope, bearer, login, make_settings, register


@pytest.fixture
def limited(db_url, tmp_path):
    settings = make_settings(
        db_url,
        tmp_path / "data",
        auth_rate_limit_account="3/minute",
        auth_rate_limit_address="8/minute",
    )
    with TestClient(create_app(settings)) as client:
        yield client


def _login(client, email: str, password: str = "wrong password"):
    return client.post("/auth/login", data={"username": email, "password": password})


def _assert_limited(response) -> None:
    assert_envelope(response, 429, "RATE_LIMITED")
    assert 1 <= int(response.headers["retry-after"]) <= 60


def test_login_is_limited_per_account(limited):
    register(limited, "ada@example.com")
    for _ in range(2):
        assert_envelope(_login(limited, "ada@example.com"), 401, "INVALID_CREDENTIALS")
    # The limit counts attempts, so even the right password is refused once it is reached.
    _assert_limited(_login(limited, "ADA@example.com", PASSWORD))
    # Another account from the same address is not affected.
    register(limited, "bob@example.com")
    login(limited, "bob@example.com")
    # Nor is the same account from another address: nobody can lock someone else out.
    elsewhere = TestClient(limited.app, client=("192.0.2.7", 50000))
    login(elsewhere, "ada@example.com")


def test_password_changes_are_limited(limited):
    register(limited, "ada@example.com")
    headers = bearer(login(limited, "ada@example.com")["access_token"])
    wrong = {"current_password": "wrong password", "new_password": "another password"}
    here = TestClient(limited.app, client=("192.0.2.9", 50000))
    for _ in range(3):
        response = here.post("/auth/password", json=wrong, headers=headers)
        assert_envelope(response, 401, "INVALID_CREDENTIALS")
    _assert_limited(here.post("/auth/password", json=wrong, headers=headers))
    # A stolen token gains nothing from another address: the account counts everywhere.
    elsewhere = TestClient(limited.app, client=("192.0.2.8", 50000))
    _assert_limited(elsewhere.post("/auth/password", json=wrong, headers=headers))


def test_attempts_are_limited_per_client_address(limited):
    # register = 1 attempt per address; the logins spread over accounts, one address.
    register(limited, "ada@example.com")
    for n in range(7):
        assert_envelope(_login(limited, f"user{n}@example.com"), 401, "INVALID_CREDENTIALS")
    _assert_limited(_login(limited, "someone-else@example.com"))
    response = limited.post(
        "/auth/register", json={"email": "new@example.com", "password": PASSWORD}
    )
    _assert_limited(response)


def test_registration_is_limited_per_account(limited):
    for _ in range(3):
        limited.post("/auth/register", json={"email": "ada@example.com", "password": PASSWORD})
    response = limited.post(
        "/auth/register", json={"email": "ada@example.com", "password": PASSWORD}
    )
    _assert_limited(response)


def test_rate_limited_is_documented(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/auth/login", "/auth/register", "/auth/password"):
        assert "429" in paths[path]["post"]["responses"]


def test_a_malformed_rate_limit_setting_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="not a rate limit"):
        make_settings("sqlite://", tmp_path, auth_rate_limit_account="lots")


def _count_concurrent_checks(hasher):
    """Wrap `hasher.verify` so it is slow and records how many checks ran at once."""
    real_verify = hasher.verify
    state = {"active": 0, "peak": 0, "niceness": []}
    lock = threading.Lock()

    def counting_verify(*args, **kwargs):
        with lock:
            state["active"] += 1
            state["peak"] = max(state["peak"], state["active"])
            state["niceness"].append(os.getpriority(os.PRIO_PROCESS, 0))  # this thread's
        try:
            time.sleep(0.1)  # a slow hash: the eight logins overlap
            return real_verify(*args, **kwargs)
        finally:
            with lock:
                state["active"] -= 1

    hasher.verify = counting_verify
    return state


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_bcrypt_runs_through_a_bounded_pool(db_url, tmp_path):
    settings = make_settings(db_url, tmp_path / "data", password_hash_workers=2)
    with TestClient(create_app(settings)) as client:
        register(client, "ada@example.com")
        state = _count_concurrent_checks(client.app.state.services.hasher)

        def log_in(n: int) -> int:
            # Eight clients at eight addresses (lifespan runs in `client`, not in these).
            other = TestClient(client.app, client=(f"192.0.2.{n + 1}", 50000))
            return _login(other, "ada@example.com", PASSWORD).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(log_in, range(8)))
        assert statuses == [200] * 8
        assert state["peak"] == 2  # eight logins at once, never more than two hashes
        assert 19 not in state["niceness"]  # eight clients, one check each: none deprioritised


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_one_address_gets_one_check_at_a_time(db_url, tmp_path):
    """A client that sends many checks at once queues behind itself, not ahead of others."""
    settings = make_settings(db_url, tmp_path / "data", password_hash_workers=2)
    with TestClient(create_app(settings)) as client:
        register(client, "ada@example.com")
        state = _count_concurrent_checks(client.app.state.services.hasher)
        with ThreadPoolExecutor(6) as pool:
            statuses = list(
                pool.map(
                    lambda _: _login(client, "ada@example.com", PASSWORD).status_code, range(6)
                )
            )
        assert statuses == [200] * 6
        assert state["peak"] == 1
        if sys.platform.startswith("linux"):  # the repeats ran at low priority
            assert state["niceness"].count(19) >= 5, state["niceness"]
        assert client.app.state.services.passwords.keys_in_use == 0  # nothing kept once idle
