"""The request middleware (api.http.middleware): nosniff on every response, control
characters escaped in the access log."""

from __future__ import annotations

import logging


def test_nosniff_on_every_response(client, auth_headers, uploaded):
    for response in (
        client.get("/health"),
        client.get("/auth/me", headers=auth_headers),
        client.get("/no/such/route"),
        client.get(f"/api/images/{uploaded['id']}", headers=auth_headers),
        client.post("/auth/register", content=b"{", headers={"Content-Type": "application/json"}),
    ):
        assert response.headers["x-content-type-options"] == "nosniff", response.url


def test_access_log_escapes_control_characters(client, caplog):
    with caplog.at_level(logging.INFO, logger="api.access"):
        client.get("/api/%0A2026-01-01 INFO api.access: GET /admin -> 200%1B[2J")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "api.access"]
    assert "\n" not in line and "\x1b" not in line
    assert "/api/\\n2026-01-01 INFO api.access: GET /admin -> 200\\x1b[2J" in line
