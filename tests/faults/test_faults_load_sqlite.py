"""Concurrent writers on the SQLite default: a small bounded load run loses nothing.

Real uvicorn on loopback, several users uploading, processing and downloading at once; then
the database and the storage folders are compared with every acknowledgement the clients
got (loadtest.load.check_integrity). No timing is asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import text

from loadtest.load import LoadConfig, check_integrity, run_load
from nogilbench.store.db import make_engine
from tests.support.servers import ServerProcess


def test_concurrent_load_on_sqlite_loses_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'load.db'}"
    config = LoadConfig(
        workload="pillow",
        users=3,
        images_per_user=3,
        concurrency=6,
        image_size=(320, 213),
        deadline_s=120,
        image_dir=tmp_path / "images",
    )
    with ServerProcess(sys.executable, tmp_path / "data", url) as server:
        result = run_load(server.url, config)
    summary = result.summary()
    assert summary["errors"] == 0, summary["error_samples"]
    assert not result.timed_out
    assert summary["flows_completed"] == 9 and len(result.uploaded) == 9
    report = check_integrity(url, tmp_path / "data", result)
    assert report.ok, report.problems
    assert report.rows == report.upload_files == report.output_files == 9
    engine = make_engine(url, check=False)
    with engine.connect() as connection:
        mode = connection.execute(text("PRAGMA journal_mode")).scalar()
    engine.dispose()
    assert mode == "wal"


def test_integrity_check_notices_loss(tmp_path: Path) -> None:
    """The checker itself: a deleted output and a stray file are both reported."""
    url = f"sqlite:///{tmp_path / 'load.db'}"
    config = LoadConfig(users=1, images_per_user=2, concurrency=2, image_size=(160, 120))
    with ServerProcess(sys.executable, tmp_path / "data", url) as server:
        result = run_load(server.url, config)
    outputs = tmp_path / "data" / "outputs"
    next(outputs.iterdir()).unlink()
    (tmp_path / "data" / "uploads" / ("f" * 32 + ".png")).write_bytes(b"stray")
    problems = check_integrity(url, tmp_path / "data", result).problems
    assert any("missing" in problem for problem in problems), problems
    assert any("orphan" in problem for problem in problems), problems
