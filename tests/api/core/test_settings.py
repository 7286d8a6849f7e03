"""Settings the service refuses to start with: one line on stderr, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from api.core.settings import Settings
from tests.support import ROOT


def test_short_secret_key_refuses_to_start(tmp_path):
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(_env_file=None, secret_key="x" * 31)  # type: ignore[call-arg]
    env = {
        **os.environ,
        "SECRET_KEY": "too-short",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "DATA_DIR": str(tmp_path / "data"),
    }
    started = subprocess.run(
        [sys.executable, "-c", "import api.main"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert started.returncode != 0
    assert "Traceback" not in started.stderr
    last = started.stderr.strip().splitlines()[-1]
    assert last.startswith("nogilbench api: refusing to start: SECRET_KEY: ")
    assert "must be at least 32 bytes" in last
