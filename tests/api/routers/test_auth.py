"""Register, login, me, refresh rotation and reuse detection."""

from __future__ import annotations

from tests.support.api import PASSWORD, assert_envelope, bearer, login, register


class TestRegister:
    def test_register_success(self, client):
        response = client.post(
            "/auth/register", json={"email": "Ada@Example.com", "password": PASSWORD}
        )
        assert response.status_code == 201
        body = response.json()
        assert body["email"] == "ada@example.com"
        assert set(body) == {"id", "email", "role", "created_at"}  # never the hash
        assert body["role"] == "user"  # registration never makes an operator

    def test_register_duplicate_email(self, client):
        register(client, "ada@example.com")
        response = client.post(
            "/auth/register", json={"email": "ADA@example.com", "password": PASSWORD}
        )
        assert_envelope(response, 409, "DUPLICATE_EMAIL")

    def test_register_invalid_email(self, client):
        response = client.post(
            "/auth/register", json={"email": "not-an-email", "password": PASSWORD}
        )
        body = assert_envelope(response, 422, "VALIDATION_ERROR")
        assert body["details"][0]["loc"] == ["body", "email"]

    def test_register_short_password(self, client):
        response = client.post(
            "/auth/register", json={"email": "a@example.com", "password": "short"}
        )
        assert_envelope(response, 422, "VALIDATION_ERROR")

    def test_register_password_over_128_characters(self, client):
        response = client.post(
            "/auth/register", json={"email": "a@example.com", "password": "é" * 129}
        )
        body = assert_envelope(response, 422, "VALIDATION_ERROR")
        assert "128 characters" in body["message"]
        assert "é" not in response.text  # the submitted value is never echoed back

    def test_long_non_ascii_password_counts_every_character(self, client):
        # 100 characters, 200 bytes in UTF-8: past bcrypt's 72 bytes, so only the SHA-256
        # pre-hash makes the tail count.
        password = "é" * 100
        register(client, "long@example.com", password)
        login(client, "long@example.com", password)
        response = client.post(
            "/auth/login", data={"username": "long@example.com", "password": "é" * 99 + "e"}
        )
        assert_envelope(response, 401, "INVALID_CREDENTIALS")

    def test_register_missing_body(self, client):
        assert_envelope(client.post("/auth/register"), 422, "VALIDATION_ERROR")


class TestLogin:
    def test_login_success(self, client):
        register(client, "ada@example.com")
        tokens = login(client, "ADA@example.com")
        assert tokens["token_type"] == "bearer"
        assert tokens["access_token"] != tokens["refresh_token"]
        assert 0 < tokens["expires_in"] <= 3600

    def test_login_wrong_password(self, client):
        register(client, "ada@example.com")
        response = client.post(
            "/auth/login", data={"username": "ada@example.com", "password": "wrong password"}
        )
        assert_envelope(response, 401, "INVALID_CREDENTIALS")

    def test_login_nonexistent_email(self, client):
        response = client.post(
            "/auth/login", data={"username": "nobody@example.com", "password": PASSWORD}
        )
        body = assert_envelope(response, 401, "INVALID_CREDENTIALS")
        assert body["message"] == "wrong e-mail or password"  # same message as a bad password

    def test_login_overlong_password_is_just_wrong(self, client):
        register(client, "ada@example.com")
        response = client.post(
            "/auth/login", data={"username": "ada@example.com", "password": PASSWORD + "x" * 80}
        )
        assert_envelope(response, 401, "INVALID_CREDENTIALS")

    def test_login_needs_form_fields(self, client):
        assert_envelope(client.post("/auth/login", data={}), 422, "VALIDATION_ERROR")


class TestMe:
    def test_me_with_valid_token(self, client, auth_headers):
        response = client.get("/auth/me", headers=auth_headers)
        assert response.status_code == 200
        assert response.json()["email"] == "owner@example.com"

    def test_me_without_token(self, client):
        response = client.get("/auth/me")
        assert_envelope(response, 401, "INVALID_TOKEN")
        assert response.headers["www-authenticate"] == "Bearer"

    def test_me_with_garbage_token(self, client):
        assert_envelope(client.get("/auth/me", headers=bearer("abc.def")), 401, "INVALID_TOKEN")


class TestRefresh:
    def test_refresh_rotates_tokens(self, client):
        register(client, "ada@example.com")
        first = login(client, "ada@example.com")
        response = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert response.status_code == 200
        second = response.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert client.get("/auth/me", headers=bearer(second["access_token"])).status_code == 200
        third = client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
        assert third.status_code == 200

    def test_reused_refresh_token_revokes_the_chain(self, client):
        register(client, "ada@example.com")
        first = login(client, "ada@example.com")
        second = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
        third = client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]}).json()
        # An attacker replays the first token (the chain has moved past it, so the grace
        # window for a racing client does not apply): refused, and the chain dies with it...
        replay = client.post("/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert_envelope(replay, 401, "INVALID_TOKEN")
        # ...so the legitimate holder's newest token no longer works either.
        legit = client.post("/auth/refresh", json={"refresh_token": third["refresh_token"]})
        assert_envelope(legit, 401, "INVALID_TOKEN")

    def test_other_logins_survive_a_revoked_chain(self, client):
        register(client, "ada@example.com")
        laptop = login(client, "ada@example.com")
        phone = login(client, "ada@example.com")
        second = client.post("/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
        client.post("/auth/refresh", json={"refresh_token": second.json()["refresh_token"]})
        replay = client.post("/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
        assert_envelope(replay, 401, "INVALID_TOKEN")
        response = client.post("/auth/refresh", json={"refresh_token": phone["refresh_token"]})
        assert response.status_code == 200

    def test_access_token_is_not_a_refresh_token(self, client):
        register(client, "ada@example.com")
        tokens = login(client, "ada@example.com")
        response = client.post("/auth/refresh", json={"refresh_token": tokens["access_token"]})
        assert_envelope(response, 401, "INVALID_TOKEN")

    def test_refresh_token_is_not_an_access_token(self, client):
        register(client, "ada@example.com")
        tokens = login(client, "ada@example.com")
        response = client.get("/auth/me", headers=bearer(tokens["refresh_token"]))
        assert_envelope(response, 401, "INVALID_TOKEN")

    def test_refresh_with_garbage(self, client):
        response = client.post("/auth/refresh", json={"refresh_token": "garbage"})
        assert_envelope(response, 401, "INVALID_TOKEN")
