"""SECRET_KEY is required once more than one process serves: a key generated per DATA_DIR would
differ between hosts (tokens refused at random). Start-up refuses with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.core.settings import Settings
from tests.support import ROOT
from tests.support.api import SECRET

SIGNALS = {
    "WEB_CONCURRENCY=2": {"web_concurrency": 2},
    "REDIS_URL is set": {"redis_url": "redis://127.0.0.1:6379/0"},
    "DATABASE_URL is not SQLite": {"database_url": "postgresql+psycopg://u:p@127.0.0.1/db"},
}


@pytest.mark.parametrize("reason", sorted(SIGNALS))
def test_several_processes_need_an_explicit_key(reason: str, tmp_path: Path) -> None:
    values = {"data_dir": tmp_path, **SIGNALS[reason]}
    with pytest.raises(ValidationError, match=f"SECRET_KEY must be set .*\\({reason}\\)"):
        Settings(_env_file=None, **values)  # type: ignore[arg-type]
    settings = Settings(_env_file=None, secret_key=SECRET, **values)  # type: ignore[arg-type]
    assert settings.multi_process_reason == reason


def test_one_process_on_sqlite_may_generate_its_key(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'a.db'}"
    )
    assert settings.secret_key is None and settings.multi_process_reason is None


def test_start_up_refuses_in_one_line_naming_secret_key(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SECRET_KEY", "REDIS_URL", "DATABASE_URL")
    }
    env.update(
        {
            "WEB_CONCURRENCY": "4",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "DATA_DIR": str(tmp_path / "data"),
        }
    )
    started = subprocess.run(
        [sys.executable, "-c", "import api.main"],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert started.returncode != 0
    assert "Traceback" not in started.stderr
    lines = started.stderr.strip().splitlines()
    assert lines[-1].startswith("nogilbench api: refusing to start: SECRET_KEY must be set")
    assert "WEB_CONCURRENCY=4" in lines[-1]
    assert not (tmp_path / "data" / "secret_key").exists()
