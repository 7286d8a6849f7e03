"""schemathesis against the service's own OpenAPI document, in-process, as a logged-in user.

Every operation gets generated requests (valid and invalid) and every response is checked
against the schema: no 5xx, documented status codes, documented bodies and content types,
schema-valid data accepted and schema-violating data refused.
Any failure fails the test; there is no list of tolerated defects.

Bounded here (NOGILBENCH_SCHEMATHESIS_EXAMPLES, default 4 per operation); `make
schemathesis-long` runs the same test with more examples and writes a summary JSON
(NOGILBENCH_SCHEMATHESIS_SUMMARY) that `make performance` puts into reports/performance.md.
Benchmark jobs are accepted and recorded, but their sweep is a stub that stores an empty
sweep: a fuzzer must not start real sweeps.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi
from sqlmodel import Session

from api.core.settings import Settings
from api.main import create_app
from nogilbench.store import repository
from tests.support import ROOT
from tests.support.images import image_bytes

EXAMPLES = int(os.environ.get("NOGILBENCH_SCHEMATHESIS_EXAMPLES", "4"))
SUMMARY_PATH = os.environ.get("NOGILBENCH_SCHEMATHESIS_SUMMARY")
PASSWORD = "hostile-input-password"
# Every check runs, positive-data acceptance included: the document states every constraint the
# server enforces. The upload's file part gets real images (the contract tests' hooks).
runpy.run_path(str(ROOT / "tests" / "contract" / "st_hooks.py"))
EXCLUDED_CHECKS: list[Any] = []
STATUSES: dict[str, Counter[int | str]] = defaultdict(Counter)
FAILURES: dict[str, str] = {}


def _app() -> Any:
    """Built at import (no lifespan runs until the session fixture enters its client)."""
    root = Path(tempfile.mkdtemp(prefix="nogilbench-schemathesis-"))
    settings_ = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=f"sqlite:///{root / 'api.db'}",
        data_dir=root / "data",
        secret_key="schemathesis-secret-" + "0123456789abcdef" * 4,
        bcrypt_rounds=4,
        max_upload_bytes=300_000,
        max_pixels=2_000_000,
        cpu_workers=2,
        job_concurrency=1,
        batch_max_images=5,
        sse_poll_seconds=0.05,
    )
    return create_app(settings_)


APP = _app()
# from_dict + app: schemathesis's from_asgi would run the app's lifespan at collection time.
# (schemathesis.pytest.from_fixture does not work with pytest 9: it reads a removed attribute.)
# Not fuzzed: "log out everywhere" would end the fuzzing session's own token (every later
# case a 401); tests/api/test_api_sessions.py covers it.
# The same configuration as `st run` (tests/contract/schemathesis.toml): `process` may refuse a
# schema-valid pipeline whose output would pass MAX_PIXELS (400), which JSON Schema cannot state.
CONFIG = SchemathesisConfig.from_path(str(ROOT / "tests" / "contract" / "schemathesis.toml"))
schema = schemathesis.openapi.from_dict(APP.openapi(), config=CONFIG).exclude(
    path="/auth/logout-all"
)
schema.app = APP
schema.location = "/openapi.json"


def _stub_sweep(engine: Any) -> Any:
    def run(job: Any, progress: Any, stop: Any = None) -> int:
        with Session(engine) as session:
            sweep = repository.start_or_resume_sweep(
                session, f"fuzz-{job.id}-{time.time_ns()}", dict(job.parameters), cell_count=0
            )
            repository.finish_sweep(session, sweep, "completed")
            progress(0, 0)
            return int(sweep.id)  # type: ignore[arg-type]

    return run


@pytest.fixture(scope="module")
def session() -> Iterator[Any]:
    """An in-process client logged in as a user who owns a processed image and a job."""
    with asgi.get_client(APP) as client:
        services = APP.state.services
        services.jobs.benchmark_runner = _stub_sweep(services.database.engine)
        email = "fuzzer@example.com"
        assert (
            client.post("/auth/register", json={"email": email, "password": PASSWORD}).status_code
            == 201
        )
        token = client.post("/auth/login", data={"username": email, "password": PASSWORD}).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        image = client.post(
            "/api/images/upload",
            files={"file": ("a.png", image_bytes((48, 32), color=(10, 120, 200)), "image/png")},
        )
        assert image.status_code == 201, image.text
        image_id = image.json()["id"]
        pipeline = {"operations": [{"op": "grayscale"}], "format": "png"}
        assert client.post(f"/api/images/{image_id}/process", json=pipeline).status_code == 200
        batch = {"image_ids": [image_id], "pipeline": pipeline, "method": "sync", "workers": 1}
        assert client.post("/api/jobs/batch", json=batch).status_code == 202
        try:
            yield client
        finally:
            _write_summary()
    asgi.shutdown_lifespans()  # stops the app's job pool; the lifespan outlives the client
    shutil.rmtree(APP.state.services.settings.data_dir.parent, ignore_errors=True)


def _write_summary() -> None:
    if not SUMMARY_PATH:
        return
    summary = {
        "examples_per_operation": EXAMPLES,
        "operations": len(STATUSES),
        "requests": sum(sum(counter.values()) for counter in STATUSES.values()),
        "server_errors": sum(
            n
            for counter in STATUSES.values()
            for status, n in counter.items()
            if isinstance(status, int) and status >= 500
        ),
        "failures": FAILURES,
        "statuses": {
            operation: {str(status): n for status, n in sorted(counter.items(), key=str)}
            for operation, counter in sorted(STATUSES.items())
        },
    }
    Path(SUMMARY_PATH).parent.mkdir(parents=True, exist_ok=True)
    Path(SUMMARY_PATH).write_text(json.dumps(summary, indent=2) + "\n")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the bounded run is the same every time
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_schema_conformance(case: Any, session: Any) -> None:
    label = f"{case.method} {case.path}"
    try:
        response = case.call_and_validate(session=session, excluded_checks=EXCLUDED_CHECKS)
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is the latter
        # No known-defect ledger: any 5xx or schema violation fails the test.
        FAILURES[label] = str(exc).strip().splitlines()[0][:300] or type(exc).__name__
        STATUSES[label]["failure"] += 1
        raise
    STATUSES[label][response.status_code] += 1
