"""SIGTERM stops a real uvicorn within 10 s while a benchmark sweep is running: the running
cell's process is killed (not waited for) and the job goes back to the queue."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx
import psutil
import pytest
from sqlmodel import Session

from api.core.models import Job
from nogilbench.store.db import make_engine
from tests.support import ROOT
from tests.support.servers import ServerProcess

PASSWORD = "shutdown-test-password"
# One cell of pure-Python work that runs for tens of seconds: 21 passes over 30 images.
LONG_SWEEP = {
    "workloads": ["pure-python"],
    "images": [30],
    "workers": [1],
    "methods": ["sync"],
    "repeats": 20,
    "image_size": [640, 427],
}
SHUTDOWN_LIMIT_S = 10.0  # the requirement itself; it takes about a second here


def _cell_processes(server: psutil.Process) -> list[psutil.Process]:
    found = []
    for child in server.children(recursive=True):
        try:
            if "nogilbench.sweep.worker" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


@pytest.mark.slow
def test_sigterm_stops_the_server_with_a_sweep_running(db_url, tmp_path):
    server = ServerProcess(sys.executable, tmp_path / "data", db_url)
    with server, httpx.Client(base_url=server.url, timeout=30) as client:
        email = "op@example.com"
        assert client.post("/auth/register", json={"email": email, "password": PASSWORD}).is_success
        promoted = subprocess.run(
            [sys.executable, "-m", "api.admin", "promote", email, "--database-url", db_url],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert promoted.returncode == 0, promoted.stderr
        token = client.post("/auth/login", data={"username": email, "password": PASSWORD}).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        response = client.post("/api/benchmarks/run", json=LONG_SWEEP)
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]

        assert server.process is not None
        root = psutil.Process(server.process.pid)
        deadline = time.monotonic() + 120
        cells = _cell_processes(root)
        while not cells:
            assert time.monotonic() < deadline, f"no cell process started: {server.log()}"
            assert client.get(f"/api/jobs/{job_id}").json()["status"] in ("queued", "processing")
            time.sleep(0.1)
            cells = _cell_processes(root)
        time.sleep(0.5)  # well inside the cell's tens of seconds

        started = time.monotonic()
        server.process.terminate()  # SIGTERM: uvicorn's graceful shutdown
        try:
            server.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            pytest.fail(f"SIGTERM did not stop the server in 60 s: {server.log()}")
        took = time.monotonic() - started
    print(f"SIGTERM to exit: {took:.2f} s")
    assert took < SHUTDOWN_LIMIT_S, f"shutdown took {took:.1f} s: {server.log()}"
    # uvicorn re-raises the signal it handled once its shutdown is done: -15 or 0, never -9.
    assert server.process.returncode in (0, -signal.SIGTERM), server.log()
    assert "stopped: running jobs stopped" in server.log()  # the lifespan's shutdown ran
    assert all(not cell.is_running() or cell.status() == psutil.STATUS_ZOMBIE for cell in cells)
    engine = make_engine(db_url, check=False)
    with Session(engine) as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status == "queued"  # resumes at the next start
    engine.dispose()
