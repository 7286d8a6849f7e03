"""Health, metrics, system introspection, the operations listing and the OpenAPI document."""

from __future__ import annotations

import logging

from nogilbench.concurrency.base import gil_enabled
from nogilbench.imaging.operations import OPERATIONS
from tests.support.api import OPS


def test_health(client):
    assert client.get("/health").json() == {"status": "ok", "database": "ok"}


def test_metrics_in_prometheus_text_format(client, auth_headers, uploaded):
    client.post(
        f"/api/images/{uploaded['id']}/process",
        json={"operations": [{"op": "grayscale"}]},
        headers=auth_headers,
    )
    client.get("/api/images/12345", headers=auth_headers)
    response = client.get("/metrics", headers=OPS)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE nogilbench_http_requests_total counter" in text
    assert "# TYPE nogilbench_http_request_duration_seconds histogram" in text
    assert (
        'nogilbench_http_requests_total{method="GET",route="/api/images/{image_id}",status="404"}'
        in text
    )  # route templates, not raw paths: bounded label values
    assert 'nogilbench_http_request_duration_seconds_bucket{le="0.5",method="POST"' in text
    assert 'nogilbench_images_processed_total{source="process"} 1.0' in text
    assert "nogilbench_images_uploaded_total 1.0" in text
    assert "nogilbench_jobs_running 0.0" in text


def test_system(client):
    body = client.get("/api/system", headers=OPS).json()
    assert body["python"]["gil_enabled"] is gil_enabled()
    assert isinstance(body["python"]["free_threaded_build"], bool)
    assert body["process"]["os_threads"] >= 1 and body["process"]["rss_mb"] > 0
    assert body["host"]["cpu_count_logical"] >= 1
    assert body["service"]["cpu_limiter_size"] == 2
    assert body["versions"]["fastapi"]


def test_operations_listing(client):
    body = client.get("/api/operations").json()
    assert [op["name"] for op in body["operations"]] == list(OPERATIONS)
    resize = next(op for op in body["operations"] if op["name"] == "resize")
    width = next(param for param in resize["params"] if param["name"] == "width")
    assert width["required"] and width["schema"]["maximum"] == 8192
    assert body["pipeline_schema"]["required"] == ["operations"]
    assert set(body["output_formats"]) == {"jpeg", "png", "webp"}


def test_openapi_documents_every_endpoint(client):
    spec = client.get("/openapi.json").json()
    operations = [
        (path, method, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) >= 21
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert operation.get("description"), where
        errors = [code for code in operation["responses"] if code[0] in "45"]
        assert errors, f"{where} documents no error response"
        for code in errors:
            schema = operation["responses"][code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, where
    process = spec["paths"]["/api/images/{image_id}/process"]["post"]
    body_schema = process["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema["properties"]["operations"]["maxItems"] == 20
    login = spec["paths"]["/auth/login"]["post"]
    assert "application/x-www-form-urlencoded" in login["requestBody"]["content"]
    assert spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]["type"] == "oauth2"


def test_docs_page(client):
    response = client.get("/docs")
    assert response.status_code == 200 and "swagger" in response.text.lower()


def test_slow_requests_are_warned(settings, caplog):
    from fastapi.testclient import TestClient

    from api.main import create_app

    settings.slow_request_ms = 0.0
    with TestClient(create_app(settings)) as client, caplog.at_level(logging.INFO, "api.access"):
        client.get("/health")
    slow = [r for r in caplog.records if r.name == "api.access" and r.levelno == logging.WARNING]
    assert slow and "SLOW GET /health" in slow[0].getMessage()
    assert "from testclient -> 200 in" in slow[0].getMessage()
