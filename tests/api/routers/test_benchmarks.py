"""Benchmarks end to end on tiny parameters: run as a job, list, detail, compare."""

from __future__ import annotations

from tests.support.api import (
    TINY_BENCHMARK,
    assert_envelope,
    hang_cells,
    wait_for_job,
    wait_for_pid,
)


def run_tiny(client, headers, **overrides) -> dict:
    response = client.post(
        "/api/benchmarks/run", json={**TINY_BENCHMARK, **overrides}, headers=headers
    )
    assert response.status_code == 202, response.text
    job = wait_for_job(client, headers, response.json()["job_id"], timeout=120)
    assert job["status"] == "completed", job
    return job


def test_benchmark_end_to_end(client, operator_headers):
    auth_headers = operator_headers
    job = run_tiny(client, auth_headers, name="tiny-api-sweep")
    assert job["kind"] == "benchmark" and job["done"] == job["total"] == 1
    sweep_id = job["sweep_id"]

    listing = client.get("/api/benchmarks/", headers=auth_headers).json()
    assert [(s["id"], s["name"]) for s in listing] == [(sweep_id, "tiny-api-sweep")]

    detail = client.get(f"/api/benchmarks/{sweep_id}", headers=auth_headers).json()
    assert detail["status"] == "completed" and detail["parameters"]["images"] == [2]
    assert detail["host"] and detail["interpreters"]
    (row,) = detail["summary"]
    assert (row["workload"], row["method"], row["workers"], row["images"]) == (
        "pillow", "sync", 1, 2,
    )  # fmt: skip
    assert row["status"] == "ok" and row["wall_median_s"] > 0


def test_compare(client, operator_headers):
    auth_headers = operator_headers
    first = run_tiny(client, auth_headers)["sweep_id"]
    second = run_tiny(client, auth_headers, images=[3])["sweep_id"]
    body = client.get(f"/api/benchmarks/compare?ids={first},{second}", headers=auth_headers).json()
    assert [sweep["id"] for sweep in body["sweeps"]] == [first, second]
    assert sorted((row["sweep_id"], row["images"]) for row in body["rows"]) == [
        (first, 2),
        (second, 3),
    ]


def test_benchmark_errors(client, operator_headers):
    auth_headers = operator_headers
    assert_envelope(
        client.get("/api/benchmarks/4242", headers=auth_headers), 404, "BENCHMARK_NOT_FOUND"
    )
    assert_envelope(
        client.get("/api/benchmarks/compare?ids=4242", headers=auth_headers),
        404,
        "BENCHMARK_NOT_FOUND",
    )
    assert_envelope(
        client.get("/api/benchmarks/compare?ids=1,x", headers=auth_headers),
        400,
        "INVALID_PARAMETER",
    )
    assert_envelope(
        client.get("/api/benchmarks/compare", headers=auth_headers), 422, "VALIDATION_ERROR"
    )
    bad = client.post(
        "/api/benchmarks/run", json={**TINY_BENCHMARK, "workloads": ["gpu"]}, headers=auth_headers
    )
    # Bounds and choices are in the request model (and so in the OpenAPI document): 422.
    assert_envelope(bad, 422, "VALIDATION_ERROR")
    small = client.post(
        "/api/benchmarks/run", json={**TINY_BENCHMARK, "image_size": [4, 4]}, headers=auth_headers
    )
    assert_envelope(small, 422, "VALIDATION_ERROR")
    assert_envelope(
        client.post(
            "/api/benchmarks/run", json={**TINY_BENCHMARK, "repeats": 0}, headers=auth_headers
        ),
        422,
        "VALIDATION_ERROR",
    )
    assert_envelope(client.get("/api/benchmarks/"), 401, "INVALID_TOKEN")


def test_job_method_label_fits_its_column():
    from api.services.benchmarks import METHOD_COLUMN_CHARS, methods_column

    assert methods_column(["sync", "threading", "sync"]) == "sync,threading"
    every = ["sync", "asyncio", "threading", "multiprocessing", "free-threaded", "subinterpreters"]
    assert methods_column(every * 2) == ",".join(every)  # VARCHAR(255) since migration 0002
    many = [f"method-{n:03d}" for n in range(40)]
    assert len(methods_column(many)) <= METHOD_COLUMN_CHARS
    assert methods_column(many) == "40 methods"


def test_benchmark_over_every_method_fits_jobs_method(
    client, operator_headers, tmp_path, monkeypatch
):
    # On PostgreSQL a 69-character method list overflowed VARCHAR(40) (a 500) before 0002.
    hang_cells(monkeypatch, tmp_path / "cell.pid")
    methods = [
        "sync",
        "asyncio",
        "threading",
        "multiprocessing",
        "free-threaded",
        "subinterpreters",
    ]
    response = client.post(
        "/api/benchmarks/run", json={**TINY_BENCHMARK, "methods": methods}, headers=operator_headers
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert client.get(f"/api/jobs/{job_id}", headers=operator_headers).json()["method"] == (
        ",".join(methods)
    )
    wait_for_pid(tmp_path / "cell.pid")
    assert client.delete(f"/api/jobs/{job_id}", headers=operator_headers).status_code == 204
