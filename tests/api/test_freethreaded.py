"""The same app under the free-threaded interpreter with the GIL off, served by uvicorn."""

from __future__ import annotations

import os
import subprocess

import httpx
import pytest

from tests.support import ROOT
from tests.support.servers import ServerProcess


def _require_api_deps(python: str) -> None:
    probe = subprocess.run(
        [python, "-c", "import fastapi, uvicorn, jwt, passlib, api.main"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if probe.returncode != 0:
        reason = f"{python} cannot import the API: {probe.stderr.strip().splitlines()[-1:]}"
        if os.environ.get("NOGILBENCH_REQUIRE_FT", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason + " (run make setup)")


@pytest.mark.freethreaded
@pytest.mark.slow
def test_uvicorn_under_free_threaded_python_reports_gil_disabled(ft_python, tmp_path):
    _require_api_deps(ft_python)
    database_url = f"sqlite:///{tmp_path / 'ft.db'}"
    server = ServerProcess(ft_python, tmp_path / "data", database_url, gil=0)
    with server:
        base = server.url
        system = httpx.get(f"{base}/api/system", timeout=10).json()
        assert system["python"]["free_threaded_build"] is True
        assert system["python"]["gil_enabled"] is False
        # A real request path on the GIL-free server: register, log in, upload, process.
        password = "free threaded password"
        assert (
            httpx.post(
                f"{base}/auth/register", json={"email": "ft@example.com", "password": password}
            ).status_code
            == 201
        )
        token = httpx.post(
            f"{base}/auth/login", data={"username": "ft@example.com", "password": password}
        ).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        from tests.support.images import image_bytes

        image = httpx.post(
            f"{base}/api/images/upload",
            headers=headers,
            files={"file": ("a.png", image_bytes(), "image/png")},
        ).json()
        processed = httpx.post(
            f"{base}/api/images/{image['id']}/process",
            headers=headers,
            json={"operations": [{"op": "blur"}]},
            timeout=30,
        )
        assert processed.status_code == 200
        assert httpx.get(f"{base}/api/system").json()["python"]["gil_enabled"] is False
