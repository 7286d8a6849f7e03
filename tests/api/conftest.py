"""Fixtures of the API suite: one app per test, on SQLite and on the session's PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.core.settings import Settings
from api.main import create_app
from tests.support.api import make_settings, sign_in, upload


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'api.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path / "data")


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def make_user(client: TestClient) -> Callable[[str], dict[str, str]]:
    """Register + log in; returns the Authorization headers."""

    return lambda email: sign_in(client, email)


@pytest.fixture
def auth_headers(make_user: Callable[[str], dict[str, str]]) -> dict[str, str]:
    return make_user("owner@example.com")


@pytest.fixture
def operator_headers(client: TestClient, settings: Settings) -> dict[str, str]:
    """An operator (registered as a user, then promoted with api.admin), logged in."""
    return sign_in(client, "operator@example.com", operator_in=settings)


@pytest.fixture
def other_headers(make_user: Callable[[str], dict[str, str]]) -> dict[str, str]:
    return make_user("intruder@example.com")


@pytest.fixture
def uploaded(client: TestClient, auth_headers: dict[str, str]) -> dict:
    response = upload(client, auth_headers)
    assert response.status_code == 201, response.text
    return response.json()
