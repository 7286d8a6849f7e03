"""One error envelope for everything, and database outages as 503 with recovery."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from api.main import create_app
from nogilbench.errors import StoreUnavailable
from tests.support.api import OPS, assert_envelope, make_settings, register


def test_error_has_error_code_and_message(client):
    body = assert_envelope(client.get("/no/such/route"), 404, "NOT_FOUND")
    assert "detail" not in body


def test_method_not_allowed(client):
    assert_envelope(client.put("/auth/me"), 405, "METHOD_NOT_ALLOWED")


def test_duplicate_email_error_format(client):
    register(client, "ada@example.com")
    response = client.post(
        "/auth/register", json={"email": "ada@example.com", "password": "another password"}
    )
    assert response.json() == {
        "error_code": "DUPLICATE_EMAIL",
        "message": "this e-mail address is already registered",
    }


def test_invalid_token_error_format(client):
    response = client.get("/api/jobs/", headers={"Authorization": "Bearer not.a.jwt"})
    assert_envelope(response, 401, "INVALID_TOKEN")


def test_invalid_operation_error_format(client, auth_headers, uploaded):
    response = client.post(
        f"/api/images/{uploaded['id']}/process",
        json={"operations": [{"op": "blur", "radius": "big"}]},
        headers=auth_headers,
    )
    body = assert_envelope(response, 400, "INVALID_OPERATION")
    assert body["details"] == [{"field": "blur.radius"}]


def test_validation_error_has_details(client):
    body = assert_envelope(
        client.post("/auth/register", json={"email": 3}), 422, "VALIDATION_ERROR"
    )
    locations = {tuple(item["loc"]) for item in body["details"]}
    assert ("body", "email") in locations and ("body", "password") in locations
    assert all(set(item) == {"loc", "msg", "type"} for item in body["details"])


def test_malformed_json_is_422(client):
    response = client.post(
        "/auth/register", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_envelope(response, 422, "VALIDATION_ERROR")


def test_job_not_found_and_not_ready(client, auth_headers):
    assert_envelope(client.get("/api/jobs/424242", headers=auth_headers), 404, "JOB_NOT_FOUND")
    assert_envelope(
        client.get("/api/jobs/424242/result", headers=auth_headers), 404, "JOB_NOT_FOUND"
    )


def test_unexpected_error_is_an_envelope_too(settings):
    app = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    body = assert_envelope(response, 500, "INTERNAL_ERROR")
    assert "secret internals" not in body["message"]


class Outage:
    """Makes every new connection of an engine fail, like a database that went away."""

    def __init__(self, app) -> None:
        self.engine = app.state.services.database.engine
        self.down = False
        event.listen(self.engine, "do_connect", self._connect)

    def _connect(self, dialect, _record, _args, _kwargs):
        if self.down:
            raise dialect.loaded_dbapi.OperationalError("connection refused (simulated outage)")
        return None

    def start(self) -> None:
        self.down = True
        self.engine.dispose()

    def end(self) -> None:
        self.down = False


def test_database_outage_is_503_and_recovers(client, app, auth_headers, uploaded):
    outage = Outage(app)
    outage.start()
    for response in (
        client.get("/health"),
        client.get("/api/images/", headers=auth_headers),
        client.post("/auth/login", data={"username": "owner@example.com", "password": "x" * 9}),
        client.get("/api/jobs/", headers=auth_headers),
    ):
        assert_envelope(response, 503, "DATABASE_UNAVAILABLE")
    assert client.get("/api/system", headers=OPS).status_code == 200  # needs no database
    outage.end()
    assert client.get("/health").json() == {"status": "ok", "database": "ok"}
    listing = client.get("/api/images/", headers=auth_headers)
    assert [image["id"] for image in listing.json()] == [uploaded["id"]]


def test_app_starts_with_the_database_down_and_recovers(settings):
    app = create_app(settings)
    with TestClient(app) as client:
        outage = Outage(app)
        outage.start()
        app.state.services.database._ready = False  # as if it had never been reached
        assert_envelope(client.get("/health"), 503, "DATABASE_UNAVAILABLE")
        assert_envelope(
            client.post("/auth/register", json={"email": "a@example.com", "password": "x" * 10}),
            503,
            "DATABASE_UNAVAILABLE",
        )
        outage.end()
        assert client.get("/health").status_code == 200
        register(client, "a@example.com")


@pytest.mark.postgres
def test_real_postgres_server_outage(postgres_server, tmp_path):
    from tests.support.api import make_settings

    url = postgres_server.new_database("api_outage")
    app = create_app(make_settings(url, tmp_path / "data"))
    with TestClient(app) as client:
        register(client, "ada@example.com")
        postgres_server.stop()
        try:
            assert_envelope(client.get("/health"), 503, "DATABASE_UNAVAILABLE")
            response = client.post(
                "/auth/login", data={"username": "ada@example.com", "password": "x" * 9}
            )
            assert_envelope(response, 503, "DATABASE_UNAVAILABLE")
        finally:
            postgres_server.start()
        assert client.get("/health").status_code == 200
        assert (
            client.post(
                "/auth/register", json={"email": "bob@example.com", "password": "y" * 10}
            ).status_code
            == 201
        )


def test_405_lists_every_method_of_the_path(client, auth_headers):
    response = client.put("/api/images/1", headers=auth_headers)
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert {m.strip() for m in response.headers["allow"].split(",")} >= {"GET", "DELETE"}
    # Fixed paths are not taken for ids: GET on a POST-only path is a 405, not a 422.
    for path, allowed in (
        ("/api/images/upload", "POST"),
        ("/api/jobs/batch", "POST"),
        ("/api/benchmarks/run", "POST"),
    ):
        response = client.get(path, headers=auth_headers)
        assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
        assert response.headers["allow"] == allowed


def test_datetimes_are_rfc3339_utc(client, auth_headers):
    me = client.get("/auth/me", headers=auth_headers).json()
    assert me["created_at"].endswith("Z")


def test_wrongly_typed_pipeline_fields_are_400_not_500(client, auth_headers, uploaded):
    for pipeline, field in (
        ({"operations": [{"op": "grayscale"}], "format": ["png"]}, "format"),
        ({"operations": [{"op": "grayscale"}], "format": {"a": 1}}, "format"),
        ({"operations": [{"op": "grayscale"}], "quality": "high"}, "quality"),
        ({"operations": "grayscale"}, "operations"),
    ):
        response = client.post(
            f"/api/images/{uploaded['id']}/process", json=pipeline, headers=auth_headers
        )
        body = assert_envelope(response, 400, "INVALID_OPERATION")
        assert body["details"] == [{"field": field}]


def test_request_bodies_are_strictly_typed(client, operator_headers):
    body = {
        "workloads": ["pillow"],
        "images": [2],
        "workers": [1],
        "methods": ["sync"],
        "repeats": 1,
        "image_size": [64, 48],
        "baseline": 0,
    }
    response = client.post("/api/benchmarks/run", json=body, headers=operator_headers)
    assert_envelope(response, 422, "VALIDATION_ERROR")
    response = client.post(
        "/auth/register", json={"email": "a@example.com", "password": 12345678901}
    )
    assert_envelope(response, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"--x\r\nthis is not multipart", "multipart/form-data; boundary=x"),
        (b"garbage--xyz", "multipart/form-data; boundary=xyz"),
        (b"no boundary at all", "multipart/form-data"),
    ],
)
def test_unparsable_multipart_is_422(client, auth_headers, body, content_type):
    response = client.post(
        "/api/images/upload", content=body, headers={**auth_headers, "Content-Type": content_type}
    )
    body = assert_envelope(response, 422, "VALIDATION_ERROR")
    assert "cannot be parsed" in body["message"]


def test_health_says_only_up_or_down(client, app, caplog):
    assert client.get("/health").json() == {"status": "ok", "database": "ok"}

    def unreachable() -> None:
        raise StoreUnavailable(
            "cannot reach the database at postgresql+psycopg://app@10.9.8.7:5432/prod: "
            'connection to server at "10.9.8.7", port 5432 failed: Connection refused'
        )

    app.state.services.database.check = unreachable
    with caplog.at_level(logging.WARNING, logger="api.core.errors"):
        response = client.get("/health")
    body = assert_envelope(response, 503, "DATABASE_UNAVAILABLE")
    assert body["message"] == "the database is unavailable; retry later"
    assert "10.9.8.7" in caplog.text  # the reason is kept for the operator, in the log


def test_outage_answers_never_show_the_driver_message(client, app, auth_headers):
    outage = Outage(app)
    outage.start()
    try:
        for response in (client.get("/health"), client.get("/api/jobs/", headers=auth_headers)):
            body = assert_envelope(response, 503, "DATABASE_UNAVAILABLE")
            assert "refused" not in body["message"] and "sqlite" not in body["message"].lower()
    finally:
        outage.end()


@pytest.mark.postgres
def test_real_postgres_outage_health_hides_the_host(postgres_server, tmp_path):
    url = postgres_server.new_database("api_health_leak")
    with TestClient(create_app(make_settings(url, tmp_path / "data"))) as client:
        postgres_server.stop()
        try:
            app_database = client.app.state.services.database  # type: ignore[attr-defined]
            app_database._ready = False  # as after a restart while it is down
            response = client.get("/health")
        finally:
            postgres_server.start()
    body = assert_envelope(response, 503, "DATABASE_UNAVAILABLE")
    assert "127.0.0.1" not in response.text and str(postgres_server.port) not in response.text
    assert body["message"] == "the database is unavailable; retry later"
