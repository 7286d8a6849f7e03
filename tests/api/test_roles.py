"""Roles and budgets: operators from `python -m api.admin`, never from registration;
benchmarks for operators only, within a budget; deactivated accounts locked out;
/metrics and /api/system behind an operator (or the operations token, or a setting)."""

from __future__ import annotations

import subprocess
import sys

from fastapi.testclient import TestClient

from api.main import create_app
from api.services.benchmarks import benchmark_cost
from nogilbench.sweep.config import SweepConfig
from tests.support import ROOT
from tests.support.api import (
    OPS,
    TINY_BENCHMARK,
    assert_envelope,
    bearer,
    login,
    make_settings,
    register,
)

# The request: accepted (202) before, and it started writing 8192x8192 images.
HOSTILE = {
    "workloads": ["pillow"],
    "images": [10000],
    "workers": [256],
    "methods": ["multiprocessing"],
    "repeats": 20,
    "image_size": [8192, 8192],
}


def _admin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.admin", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_user_may_not_run_benchmarks(client, auth_headers, settings):
    response = client.post("/api/benchmarks/run", json=TINY_BENCHMARK, headers=auth_headers)
    assert_envelope(response, 403, "FORBIDDEN")
    assert client.get("/api/jobs/", headers=auth_headers).json() == []
    # Reading stored benchmarks stays open to every user.
    assert client.get("/api/benchmarks/", headers=auth_headers).status_code == 200


def test_registration_cannot_ask_for_a_role(client):
    response = client.post(
        "/auth/register",
        json={"email": "eve@example.com", "password": "correct horse battery", "role": "operator"},
    )
    assert_envelope(response, 422, "VALIDATION_ERROR")


def test_admin_cli_promotes_and_the_role_applies_at_once(client, auth_headers, settings):
    promoted = _admin("promote", "OWNER@example.com", "--database-url", str(settings.database_url))
    assert promoted.returncode == 0, promoted.stderr
    assert promoted.stdout.strip() == "owner@example.com: role operator, active"
    assert client.get("/auth/me", headers=auth_headers).json()["role"] == "operator"
    # The same access token: the role is read per request, not baked into the token.
    over = client.post("/api/benchmarks/run", json=HOSTILE, headers=auth_headers)
    assert_envelope(over, 422, "OVER_BUDGET")
    demoted = _admin("demote", "owner@example.com", "--database-url", str(settings.database_url))
    assert demoted.returncode == 0, demoted.stderr
    assert_envelope(
        client.post("/api/benchmarks/run", json=TINY_BENCHMARK, headers=auth_headers),
        403,
        "FORBIDDEN",
    )


def test_admin_cli_errors_are_one_line(settings, client):
    unknown = _admin("promote", "nobody@example.com", "--database-url", str(settings.database_url))
    assert unknown.returncode == 2
    assert (
        unknown.stderr.strip() == "error: no account with the e-mail address 'nobody@example.com'"
    )
    bad_url = _admin("promote", "a@example.com", "--database-url", "nosuchdb://x")
    assert bad_url.returncode == 2
    assert len(bad_url.stderr.strip().splitlines()) == 1 and "Traceback" not in bad_url.stderr


def test_over_budget_benchmark_is_422_before_anything_runs(client, operator_headers, settings):
    response = client.post("/api/benchmarks/run", json=HOSTILE, headers=operator_headers)
    body = assert_envelope(response, 422, "OVER_BUDGET")
    assert "budget of 2,000,000,000" in body["message"]
    assert client.get("/api/jobs/", headers=operator_headers).json() == []
    assert not (settings.data_dir / "images" / "8192x8192").exists()  # no sample image written


def test_duplicates_in_benchmark_lists_are_refused(client, operator_headers):
    for field, values in (
        ("images", [2, 2]),
        ("workers", [1, 1]),
        ("methods", ["sync", "sync"]),
        ("workloads", ["pillow", "pillow"]),
    ):
        response = client.post(
            "/api/benchmarks/run", json={**TINY_BENCHMARK, field: values}, headers=operator_headers
        )
        body = assert_envelope(response, 422, "VALIDATION_ERROR")
        assert body["details"][0]["loc"] == ["body", field], body


def test_budget_is_cells_times_repeats_times_images_times_size():
    config = SweepConfig(
        name="x",
        workloads=["pillow", "pure-python"],
        images=[2, 3],
        workers=[1, 2],
        methods=["sync", "threading"],
        repeats=4,
        max_rounds=4,  # as make_config sets it for a request
        image_size=(100, 50),
        baseline=True,
    )
    # per workload and image count: sync once + threading at 1 and 2 workers, on each build
    # (2 cores: the default build's threading stops there too) = 2 x 3 x 2 = 12 cells;
    # (4 rounds + 1 warm-up) x (2 + 3) images x 5000 pixels.
    assert benchmark_cost(config, cores=2) == 12 * 5 * 5 * 5000
    config.baseline = False
    assert benchmark_cost(config, cores=2) == 6 * 5 * 5 * 5000
    config.max_rounds = 6  # extra rounds are work too
    assert benchmark_cost(config, cores=2) == 6 * 7 * 5 * 5000


def test_budget_is_a_setting(db_url, tmp_path):
    settings = make_settings(db_url, tmp_path / "data", benchmark_budget_pixels=1000)
    with TestClient(create_app(settings)) as client:
        register(client, "op@example.com")
        from tests.support.api import promote

        promote(settings, "op@example.com")
        headers = bearer(login(client, "op@example.com")["access_token"])
        # TINY_BENCHMARK: 1 cell x 2 x 2 images x 3072 pixels = 12,288 > 1,000.
        assert_envelope(
            client.post("/api/benchmarks/run", json=TINY_BENCHMARK, headers=headers),
            422,
            "OVER_BUDGET",
        )


def test_deactivated_account_is_locked_out(client, auth_headers, settings):
    result = _admin("deactivate", "owner@example.com", "--database-url", str(settings.database_url))
    assert result.returncode == 0 and "inactive" in result.stdout
    assert_envelope(client.get("/auth/me", headers=auth_headers), 403, "FORBIDDEN")
    assert_envelope(client.get("/api/images/", headers=auth_headers), 403, "FORBIDDEN")
    _admin("activate", "owner@example.com", "--database-url", str(settings.database_url))
    assert client.get("/auth/me", headers=auth_headers).status_code == 200


def test_operations_endpoints_need_an_operator(client, auth_headers, operator_headers):
    for path in ("/metrics", "/api/system"):
        assert_envelope(client.get(path), 401, "INVALID_TOKEN")
        assert_envelope(client.get(path, headers=auth_headers), 403, "FORBIDDEN")
        assert client.get(path, headers=operator_headers).status_code == 200
        assert client.get(path, headers=OPS).status_code == 200  # the scraper's token
        wrong = {"Authorization": "Bearer " + "x" * 48}
        assert_envelope(client.get(path, headers=wrong), 401, "INVALID_TOKEN")


def test_operations_endpoints_public_by_setting(db_url, tmp_path):
    settings = make_settings(db_url, tmp_path / "data", public_operations=True)
    with TestClient(create_app(settings)) as client:
        assert client.get("/metrics").status_code == 200
        assert client.get("/api/system").json()["python"]["version"]
