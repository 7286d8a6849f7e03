"""The start-up sweep with DATA_DIR shared by several hosts: a file another host has written
but not yet committed is never deleted by a host that restarts; one left long ago is."""

from __future__ import annotations

import os
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.core.storage import FileStore
from api.main import create_app
from tests.support.api import make_settings


def test_a_file_written_but_not_committed_survives_another_process_start(tmp_path: Path) -> None:
    shared = FileStore(tmp_path / "uploads", orphan_grace_s=60.0)
    in_flight = FileStore.new_name("png")
    shared.write(in_flight, b"written by host B, its row not committed yet")
    # Host A starts after the write: its own cut-off (its start time) is after the file.
    removed = shared.sweep(set(), older_than=time.time() + 10)
    assert removed == [] and shared.exists(in_flight)
    # Long past the grace, still unreferenced: abandoned (its writer died before the commit).
    past = time.time() - 61
    os.utime(shared.path(in_flight), (past, past))
    assert shared.sweep(set(), older_than=time.time() + 10) == [in_flight]
    assert not shared.exists(in_flight)


def test_restarting_app_keeps_another_hosts_uncommitted_upload(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'api.db'}", tmp_path / "data")
    with TestClient(create_app(settings)):
        pass
    uploads = settings.uploads_dir
    in_flight = uploads / f"{'d' * 32}.png"  # another host's write, its row not committed yet
    in_flight.write_bytes(b"x")
    two_minutes_ago = time.time() - 120  # older than this process, younger than the grace
    os.utime(in_flight, (two_minutes_ago, two_minutes_ago))
    abandoned = uploads / f"{'e' * 32}.png"
    abandoned.write_bytes(b"x")
    long_ago = time.time() - settings.orphan_grace_seconds - 60
    os.utime(abandoned, (long_ago, long_ago))
    with TestClient(create_app(settings)):
        assert in_flight.exists()
        assert not abandoned.exists()
