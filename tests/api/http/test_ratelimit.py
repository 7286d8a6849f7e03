"""Login and registration are rate-limited per account and per client address (429 with
Retry-After); bcrypt runs through a bounded pool."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.main import create_app
from tests.support.api import PASSWORD, assert_envelope, login, make_settings, register


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
    for path in ("/auth/login", "/auth/register"):
        assert "429" in paths[path]["post"]["responses"]


def test_a_malformed_rate_limit_setting_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="not a rate limit"):
        make_settings("sqlite://", tmp_path, auth_rate_limit_account="lots")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_bcrypt_runs_through_a_bounded_pool(db_url, tmp_path):
    settings = make_settings(db_url, tmp_path / "data", password_hash_workers=2)
    with TestClient(create_app(settings)) as client:
        register(client, "ada@example.com")
        hasher = client.app.state.services.hasher
        real_verify = hasher.verify
        active = peak = 0
        lock = threading.Lock()

        def counting_verify(*args, **kwargs):
            nonlocal active, peak
            with lock:
                active += 1
                peak = max(peak, active)
            try:
                time.sleep(0.1)  # a slow hash: the eight logins overlap
                return real_verify(*args, **kwargs)
            finally:
                with lock:
                    active -= 1

        hasher.verify = counting_verify
        with ThreadPoolExecutor(8) as pool:
            statuses = list(
                pool.map(
                    lambda _: _login(client, "ada@example.com", PASSWORD).status_code, range(8)
                )
            )
        assert statuses == [200] * 8
        assert peak == 2  # eight logins at once, never more than two hashes
