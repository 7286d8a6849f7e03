"""Sessions a user can end: logout, log out everywhere, password change, absolute lifetime;
concurrent refreshes of one token both succeed, a replay after the grace window does not."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from api.core.models import RefreshToken, utcnow
from api.main import create_app
from tests.support.api import PASSWORD, assert_envelope, bearer, login, make_settings, register


def refresh(client: TestClient, token: str):
    return client.post("/auth/refresh", json={"refresh_token": token})


def test_logout_revokes_this_session_only(client):
    register(client, "ada@example.com")
    laptop, phone = login(client, "ada@example.com"), login(client, "ada@example.com")
    rotated = refresh(client, laptop["refresh_token"]).json()
    response = client.post("/auth/logout", json={"refresh_token": rotated["refresh_token"]})
    assert response.status_code == 204
    assert_envelope(refresh(client, rotated["refresh_token"]), 401, "INVALID_TOKEN")
    assert refresh(client, phone["refresh_token"]).status_code == 200  # the other login lives


def test_logout_needs_a_real_refresh_token(client):
    register(client, "ada@example.com")
    tokens = login(client, "ada@example.com")
    for token in ("garbage", tokens["access_token"]):
        response = client.post("/auth/logout", json={"refresh_token": token})
        assert_envelope(response, 401, "INVALID_TOKEN")


def test_logout_everywhere_ends_every_session_and_access_token(client):
    register(client, "ada@example.com")
    laptop, phone = login(client, "ada@example.com"), login(client, "ada@example.com")
    register(client, "bob@example.com")
    bob = login(client, "bob@example.com")
    response = client.post("/auth/logout-all", headers=bearer(laptop["access_token"]))
    assert response.status_code == 204
    for tokens in (laptop, phone):
        assert_envelope(
            client.get("/auth/me", headers=bearer(tokens["access_token"])), 401, "INVALID_TOKEN"
        )
        assert_envelope(refresh(client, tokens["refresh_token"]), 401, "INVALID_TOKEN")
    assert client.get("/auth/me", headers=bearer(bob["access_token"])).status_code == 200
    again = login(client, "ada@example.com")  # a new login after it works
    assert client.get("/auth/me", headers=bearer(again["access_token"])).status_code == 200
    assert refresh(client, again["refresh_token"]).status_code == 200


def test_logout_everywhere_needs_an_access_token(client):
    assert_envelope(client.post("/auth/logout-all"), 401, "INVALID_TOKEN")


def test_password_change_revokes_every_session(client):
    register(client, "ada@example.com")
    laptop, phone = login(client, "ada@example.com"), login(client, "ada@example.com")
    new_password = "a brand new passphrase"
    wrong = client.post(
        "/auth/password",
        json={"current_password": "not it at all", "new_password": new_password},
        headers=bearer(laptop["access_token"]),
    )
    assert_envelope(wrong, 401, "INVALID_CREDENTIALS")
    short = client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=bearer(laptop["access_token"]),
    )
    assert_envelope(short, 422, "VALIDATION_ERROR")
    response = client.post(
        "/auth/password",
        json={"current_password": PASSWORD, "new_password": new_password},
        headers=bearer(laptop["access_token"]),
    )
    assert response.status_code == 200, response.text
    fresh = response.json()
    for tokens in (laptop, phone):
        assert_envelope(
            client.get("/auth/me", headers=bearer(tokens["access_token"])), 401, "INVALID_TOKEN"
        )
        assert_envelope(refresh(client, tokens["refresh_token"]), 401, "INVALID_TOKEN")
    assert client.get("/auth/me", headers=bearer(fresh["access_token"])).status_code == 200
    assert refresh(client, fresh["refresh_token"]).status_code == 200
    old = client.post("/auth/login", data={"username": "ada@example.com", "password": PASSWORD})
    assert_envelope(old, 401, "INVALID_CREDENTIALS")
    login(client, "ada@example.com", new_password)


def test_a_refresh_family_has_an_absolute_lifetime(client, app, settings):
    register(client, "ada@example.com")
    tokens = login(client, "ada@example.com")
    current = refresh(client, tokens["refresh_token"]).json()
    # The login happened longer ago than REFRESH_FAMILY_MAX_DAYS: rotating does not extend it.
    too_old = utcnow() - timedelta(days=settings.refresh_family_max_days, minutes=1)
    with Session(app.state.services.database.engine) as session:
        session.exec(update(RefreshToken).values(family_started_at=too_old))
        session.commit()
    response = refresh(client, current["refresh_token"])
    body = assert_envelope(response, 401, "INVALID_TOKEN")
    assert "maximum age" in body["message"]
    with Session(app.state.services.database.engine) as session:
        live = session.exec(select(RefreshToken).where(col(RefreshToken.revoked_at).is_(None)))
        assert live.all() == []


def test_refresh_tokens_never_outlive_their_family(client, app, settings):
    register(client, "ada@example.com")
    login(client, "ada@example.com")
    with Session(app.state.services.database.engine) as session:
        token = session.exec(select(RefreshToken)).one()
        family_end = token.family_started_at + timedelta(days=settings.refresh_family_max_days)
        assert token.expires_at <= family_end


def test_two_concurrent_refreshes_of_one_token_both_succeed(client):
    register(client, "ada@example.com")
    for _round in range(3):
        tokens = login(client, "ada@example.com")
        barrier = threading.Barrier(2)

        def rotate(token: str = tokens["refresh_token"], gate: threading.Barrier = barrier):
            gate.wait(10)
            return refresh(client, token)

        with ThreadPoolExecutor(2) as pool:
            responses = [future.result() for future in [pool.submit(rotate) for _ in range(2)]]
        assert [response.status_code for response in responses] == [200, 200], [
            response.text for response in responses
        ]
        # Both new tokens belong to a live chain: the client may keep either.
        for response in responses:
            assert refresh(client, response.json()["refresh_token"]).status_code == 200


@pytest.fixture
def strict_client(db_url, tmp_path):
    """No grace window: any second use of a refresh token is a replay."""
    settings = make_settings(db_url, tmp_path / "strict", refresh_grace_seconds=0)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_replay_after_the_grace_window_revokes_the_family(strict_client):
    client = strict_client
    register(client, "ada@example.com")
    first = login(client, "ada@example.com")
    second = refresh(client, first["refresh_token"]).json()
    assert_envelope(refresh(client, first["refresh_token"]), 401, "INVALID_TOKEN")
    assert_envelope(refresh(client, second["refresh_token"]), 401, "INVALID_TOKEN")


def test_grace_does_not_cover_a_token_whose_successor_was_used(client):
    register(client, "ada@example.com")
    first = login(client, "ada@example.com")
    sibling = refresh(client, first["refresh_token"]).json()
    twin = refresh(client, first["refresh_token"]).json()  # a racing tab, within the window
    assert "refresh_token" in twin
    refresh(client, sibling["refresh_token"])  # the chain moves on
    assert_envelope(refresh(client, first["refresh_token"]), 401, "INVALID_TOKEN")
    assert_envelope(refresh(client, twin["refresh_token"]), 401, "INVALID_TOKEN")  # revoked
