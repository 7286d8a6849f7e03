"""schemathesis' own command line against a real uvicorn on the free-threaded build, GIL off.

`st run` on SQLite and on PostgreSQL, with every phase (examples, coverage, fuzzing, stateful
over the OpenAPI links) and
every default check, positive-data acceptance included: the run must end with no failure, no
error and no warning of any kind (a "schema validation mismatch" or "missing test data"
warning means the document promises something other than what the server does).
Bounded by NOGILBENCH_ST_EXAMPLES (default 25 per operation, as a user would run it) and a
fixed seed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.api import seed
from tests.support.servers import contract_server, live_server

EXAMPLES = os.environ.get("NOGILBENCH_ST_EXAMPLES", "25")
ST = Path(sys.executable).with_name("st")
CONFIG = ROOT / "tests/contract/schemathesis.toml"  # a pipeline's output size: 400 expected


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'api.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.mark.freethreaded
@pytest.mark.slow
def test_st_run_against_free_threaded_uvicorn(ft_python: str, db_url: str, tmp_path: Path) -> None:
    server = contract_server(
        ft_python, tmp_path, db_url, gil=0, args=["-m", "tests.contract.fuzz_server", "{port}"]
    )
    with live_server(server) as base:
        start = seed(base, operator_database_url=db_url)  # benchmarks need an operator
        report_dir = tmp_path / "report"
        st_command = [
            str(ST), "--config-file", str(CONFIG), "run", f"{base}/openapi.json",
            "-H", f"Authorization: Bearer {start.access_token}",
            "--phases", "examples,coverage,fuzzing,stateful",
            # "Log out everywhere" would end the run's own token (every later case a 401);
            # tests/api/test_api_sessions.py covers it.
            "--exclude-path", "/auth/logout-all",
            "--max-examples", EXAMPLES, "--workers", "2", "--seed", "1",
            "--report", "json", "--report-dir", str(report_dir),
        ]  # fmt: skip
        st_env = {**os.environ, "SCHEMATHESIS_HOOKS": str(ROOT / "tests/contract/st_hooks.py")}
        run = subprocess.run(
            st_command, cwd=tmp_path, env=st_env, capture_output=True, text=True, timeout=540
        )
    (report,) = report_dir.glob("json-*.json")
    summary = json.loads(report.read_text())
    print(
        f"st run: {summary['test_cases']['generated']} cases, "
        f"{len(summary['failures'])} failures, {len(summary['errors'])} errors, "
        f"{sum(len(v) for v in summary['warnings'].values())} warnings "
        f"in {summary['running_time']:.0f} s"
    )
    output = run.stdout[-6000:]
    assert run.returncode == 0, output
    assert summary["complete"], output
    assert summary["failures"] == [] and summary["errors"] == [], output
    assert {name: ops for name, ops in summary["warnings"].items() if ops} == {}, output
    assert all(phase["status"] == "success" for phase in summary["phases"].values()), output
    operations = summary["operations"]
    assert operations["selected"] == operations["total"] - 1, output  # all but logout-all
    assert operations["tested"] == operations["selected"], output
    assert summary["test_cases"]["generated"] > 0
