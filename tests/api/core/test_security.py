"""Token attacks, password hashing, the generated secret key, logs free of secrets."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from fastapi.testclient import TestClient

from api.core.errors import InvalidToken
from api.core.security import PasswordHasher, TokenService, load_or_create_secret_key
from api.core.stream_tokens import STREAM_AUDIENCE, StreamTokens
from api.main import create_app
from tests.support.api import (
    PASSWORD,
    SECRET,
    assert_envelope,
    bearer,
    login,
    make_settings,
    register,
)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**overrides) -> dict:
    now = datetime.now(UTC)
    claims = {
        "sub": "1",
        "type": "access",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "iss": "nogilbench-api",  # this service's tokens: the attacks below vary one thing
        "aud": "nogilbench-api",
    }
    claims.update(overrides)
    return {
        key: int(value.timestamp()) if isinstance(value, datetime) else value
        for key, value in claims.items()
        if value is not None
    }


class TestTokenService:
    service = TokenService(SECRET, access_minutes=15, refresh_days=7)

    def test_create_and_verify_token(self):
        token = self.service.create_access_token(42)
        assert self.service.user_id_from_access(token) == 42
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "HS256"

    def test_expired_token(self):
        past = datetime.now(UTC) - timedelta(hours=1)
        token = jwt.encode(_claims(iat=past, exp=past + timedelta(minutes=1)), SECRET, "HS256")
        with pytest.raises(InvalidToken, match="expired"):
            self.service.user_id_from_access(token)

    def test_tampered_payload(self):
        token = self.service.create_access_token(1)
        header, _, signature = token.split(".")
        forged = ".".join([header, _b64(_claims(sub="2")), signature])
        with pytest.raises(InvalidToken):
            self.service.user_id_from_access(forged)

    def test_subject_beyond_the_id_range(self):
        # Correctly signed, but no row id can be that large: refused before any database query.
        for subject in (str(2**31), str(2**63), "0"):
            token = jwt.encode(_claims(sub=subject), SECRET, "HS256")
            with pytest.raises(InvalidToken):
                self.service.user_id_from_access(token)

    def test_wrong_key(self):
        token = jwt.encode(_claims(), "another-secret-key-0123456789abcdef-xyz", "HS256")
        with pytest.raises(InvalidToken):
            self.service.user_id_from_access(token)

    def test_alg_none(self):
        token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(iat=1, exp=2**33))}."
        with pytest.raises(InvalidToken):
            self.service.user_id_from_access(token)

    def test_other_hmac_algorithm_is_refused(self):
        token = jwt.encode(_claims(), SECRET, "HS512")  # the right key, the wrong algorithm
        with pytest.raises(InvalidToken):
            self.service.user_id_from_access(token)

    @pytest.mark.parametrize("missing", ["sub", "exp", "iat"])
    def test_required_claims(self, missing):
        claims = _claims()
        del claims[missing]
        with pytest.raises(InvalidToken):
            self.service.user_id_from_access(jwt.encode(claims, SECRET, "HS256"))

    def test_sub_must_be_a_string(self):
        # pyjwt itself refuses a non-string sub; either way the answer is INVALID_TOKEN.
        token = jwt.encode({**_claims(), "sub": "abc"}, SECRET, "HS256")
        with pytest.raises(InvalidToken):
            self.service.user_id_from_access(token)

    def test_wrong_type(self):
        token = jwt.encode(_claims(type="refresh"), SECRET, "HS256")
        with pytest.raises(InvalidToken):
            self.service.user_id_from_access(token)


class TestOneVerification:
    """Access and stream tokens go through the same check (`verify_jwt`): each refuses the
    other's audience, and each says when its token has merely expired."""

    service = TokenService(SECRET, access_minutes=15, refresh_days=7)
    streams = StreamTokens(SECRET)

    def test_each_refuses_the_others_audience(self):
        with pytest.raises(InvalidToken, match=r"^the token is invalid$"):
            self.service.user_id_from_access(self.streams.issue(1, 7))
        access = self.service.create_access_token(1)
        with pytest.raises(InvalidToken, match=r"^the stream token is invalid$"):
            self.streams.claims(access, 7)
        # The stream audience alone is not enough: the stream check requires its job claim.
        jobless = jwt.encode(_claims(aud=STREAM_AUDIENCE, type="stream"), SECRET, "HS256")
        with pytest.raises(InvalidToken, match=r"^the stream token is invalid$"):
            self.streams.claims(jobless, 7)

    def test_expiry_messages(self):
        past = datetime.now(UTC) - timedelta(hours=1)
        expired = _claims(iat=past, exp=past + timedelta(minutes=1))
        with pytest.raises(InvalidToken, match=r"^the token has expired$"):
            self.service.user_id_from_access(jwt.encode(expired, SECRET, "HS256"))
        stream = {**expired, "aud": STREAM_AUDIENCE, "type": "stream", "job": 7}
        expected = r"^the stream token has expired; ask for a new one$"
        with pytest.raises(InvalidToken, match=expected):
            self.streams.claims(jwt.encode(stream, SECRET, "HS256"), 7)


class TestPasswords:
    hasher = PasswordHasher(rounds=4)

    def test_hash_and_verify_password(self):
        hashed = self.hasher.hash(PASSWORD)
        assert hashed.startswith("$bcrypt-sha256$") and PASSWORD not in hashed
        assert self.hasher.verify(PASSWORD, hashed)
        assert not self.hasher.verify("wrong password", hashed)

    def test_unknown_user_still_runs_a_check(self):
        assert not self.hasher.verify(PASSWORD, None)

    def test_past_72_bytes_still_counts(self):
        hashed = self.hasher.hash("x" * 72)
        assert not self.hasher.verify("x" * 72 + "tail", hashed)

    def test_plain_bcrypt_hashes_stored_before_still_verify(self):
        from passlib.hash import bcrypt

        assert self.hasher.verify(PASSWORD, bcrypt.using(rounds=4).hash(PASSWORD))

    def test_malformed_hash(self):
        assert not self.hasher.verify(PASSWORD, "not-a-hash")


def test_token_attacks_over_http(client):
    register(client, "ada@example.com")
    user_id = client.get(
        "/auth/me", headers=bearer(login(client, "ada@example.com")["access_token"])
    ).json()["id"]
    now = datetime.now(UTC)
    attacks = {
        "expired": jwt.encode(
            _claims(sub=str(user_id), iat=now - timedelta(hours=2), exp=now - timedelta(hours=1)),
            SECRET,
            "HS256",
        ),
        "alg none": f"{_b64({'alg': 'none'})}.{_b64(_claims(sub=str(user_id), iat=1, exp=2**33))}.",
        "wrong key": jwt.encode(_claims(sub=str(user_id)), "x" * 40, "HS256"),
        "wrong type": jwt.encode(_claims(sub=str(user_id), type="refresh"), SECRET, "HS256"),
        "no such user": jwt.encode(_claims(sub="999999"), SECRET, "HS256"),
    }
    for name, token in attacks.items():
        response = client.get("/auth/me", headers=bearer(token))
        assert response.status_code == 401, name
        assert response.json()["error_code"] == "INVALID_TOKEN", name


def test_secret_key_file_is_generated_once_with_mode_0600(tmp_path, caplog):
    key_file = tmp_path / "data" / "secret_key"
    with caplog.at_level(logging.WARNING, logger="api.core.security"):
        first = load_or_create_secret_key(None, key_file)
    assert len(first) >= 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "SECRET_KEY is not set" in caplog.text and first not in caplog.text
    assert load_or_create_secret_key(None, key_file) == first
    assert load_or_create_secret_key("configured", key_file) == "configured"


def test_tokens_survive_a_restart_with_a_generated_key(tmp_path):
    settings = make_settings(
        f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "data", secret_key=None
    )
    with TestClient(create_app(settings)) as client:
        register(client, "ada@example.com")
        token = login(client, "ada@example.com")["access_token"]
    with TestClient(create_app(settings)) as client:
        assert client.get("/auth/me", headers=bearer(token)).status_code == 200


def test_logs_never_contain_passwords_or_tokens(client, caplog):
    with caplog.at_level(logging.DEBUG):
        register(client, "ada@example.com")
        tokens = login(client, "ada@example.com")
        client.get("/auth/me", headers=bearer(tokens["access_token"]))
        client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        client.post("/auth/login", data={"username": "ada@example.com", "password": "bad guess"})
    text = caplog.text
    assert "POST /auth/login" in text and "-> 401" in text and "GET /auth/me" in text
    for secret in (PASSWORD, "bad guess", tokens["access_token"], tokens["refresh_token"]):
        assert secret not in text
    assert "authorization" not in text.lower()


def test_request_id_is_returned_and_accepted(client):
    response = client.get("/health", headers={"X-Request-ID": "trace-123"})
    assert response.headers["x-request-id"] == "trace-123"
    generated = client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"


def test_unknown_token_user_and_wrong_scheme(client):
    assert_envelope(
        client.get("/auth/me", headers={"Authorization": "Basic abc"}), 401, "INVALID_TOKEN"
    )


@pytest.mark.parametrize("password", ["abc\x00defghij", "\x00" * 8, "x" * 129])
def test_passwords_registration_refuses(client, password):
    register(client, "ada@example.com")
    for email in ("ada@example.com", "nobody@example.com"):
        response = client.post("/auth/login", data={"username": email, "password": password})
        assert_envelope(response, 401, "INVALID_CREDENTIALS")
    response = client.post(
        "/auth/register", json={"email": "nul@example.com", "password": password}
    )
    assert_envelope(response, 422, "VALIDATION_ERROR")
    login(client, "ada@example.com", PASSWORD)  # the account itself is unharmed


def test_refused_password_costs_one_bcrypt_check_like_a_wrong_one(monkeypatch):
    hasher = PasswordHasher(rounds=4)
    stored = hasher.hash(PASSWORD)
    calls: list[str] = []
    real_verify = hasher._context.verify

    def counting(secret, hash_, *args, **kwargs):
        calls.append(secret)
        return real_verify(secret, hash_, *args, **kwargs)

    monkeypatch.setattr(hasher._context, "verify", counting)
    for stored_hash in (stored, None):
        for password in ("wrong password", "bad\x00password", "x" * 200):
            calls.clear()
            assert hasher.verify(password, stored_hash) is False
            assert len(calls) == 1, (password, calls)


def test_short_key_file_is_refused(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("short")
    key_file.chmod(0o600)
    with pytest.raises(ValueError, match="shorter than 32 bytes"):
        load_or_create_secret_key(None, key_file)


def test_key_file_and_sqlite_file_are_private(tmp_path):
    settings = make_settings(
        f"sqlite:///{tmp_path / 'private.db'}", tmp_path / "data", secret_key=None
    )
    old_umask = os.umask(0o022)  # a usual umask: files would be world-readable by default
    try:
        with TestClient(create_app(settings)) as client:
            register(client, "ada@example.com")
    finally:
        os.umask(old_umask)
    for path in (tmp_path / "private.db", settings.secret_key_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    wal = tmp_path / "private.db-wal"
    if wal.exists():
        assert stat.S_IMODE(wal.stat().st_mode) & 0o077 == 0


def _token(**claims: object) -> str:
    now = datetime.now(UTC)
    base = {
        "sub": "1",
        "type": "access",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "iss": "nogilbench-api",
        "aud": "nogilbench-api",
    }
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, SECRET, "HS256")


def test_tokens_carry_and_need_aud_and_iss(client, auth_headers):
    issued = auth_headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(issued, SECRET, algorithms=["HS256"], audience="nogilbench-api")
    assert claims["iss"] == "nogilbench-api" and claims["aud"] == "nogilbench-api"
    user_id = client.get("/auth/me", headers=auth_headers).json()["id"]
    assert client.get("/auth/me", headers=bearer(_token(sub=str(user_id)))).status_code == 200
    for name, token in {
        "no aud": _token(sub=str(user_id), aud=None),
        "no iss": _token(sub=str(user_id), iss=None),
        "other audience": _token(sub=str(user_id), aud="another-service"),
        "other issuer": _token(sub=str(user_id), iss="another-service"),
    }.items():
        response = client.get("/auth/me", headers=bearer(token))
        assert_envelope(response, 401, "INVALID_TOKEN"), name
