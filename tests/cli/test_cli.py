"""CLI: bad input is one line on stderr, exit code 2, and the store is untouched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nogilbench.cli", *args],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip


@pytest.mark.parametrize(
    "args,needle",
    [
        (["sweep", "--methods", "sync,teleport"], "unknown method 'teleport'"),
        (["sweep", "--workers", "0,2"], "workers must be between"),
        (["sweep", "--image-size", "huge"], "image size must look like"),
        (["sweep", "--image-size", "5x5"], "between 32 and 8192"),
        (["sweep", "--repeats", "0"], "repeats must be between"),
        (["sweep", "--workers", "two"], "workers must be a comma-separated list"),
        (["sweep", "--database-url", "postgresql+psycopg://u:pw@127.0.0.1:1/db"], "cannot reach"),
        (["export", "--sweep", "nope"], "no sweep named 'nope'"),
        (["race", "--threads", "0"], "--threads must be at least 1"),
        (["sweep", "--scaling", "medium"], "invalid choice: 'medium'"),
        (["sweep", "--past-cores", "some"], "invalid choice: 'some'"),
        (["sweep", "--scaling", "weak", "--images-per-worker", "0"], "images per worker must"),
        (
            ["sweep", "--scaling", "weak", "--workers", "256", "--images-per-worker", "100"],
            "weak scaling needs 25600 images",
        ),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_errors_are_one_line_exit_2(args: list[str], needle: str, tmp_path: Path) -> None:
    db = tmp_path / "keep.db"
    if "--database-url" not in args:
        args = (
            [*args, "--database-url", f"sqlite:///{db}"] if args[0] in ("sweep", "export") else args
        )
    done = cli(*args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], done.stderr
    assert "Traceback" not in done.stderr and "pw" not in done.stderr


def test_bad_input_leaves_stored_results_alone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    tiny = ["--workloads", "pillow", "--images", "2", "--workers", "1", "--methods", "sync",
            "--image-size", "64x48", "--no-baseline", "--database-url", url]  # fmt: skip
    assert cli("sweep", "--name", "one", "--repeats", "1", *tiny).returncode == 0
    out = tmp_path / "r.json"
    export = ("export", "--format", "json", "--output", str(out), "--database-url", url)
    assert cli(*export).returncode == 0
    before = json.loads(out.read_text())
    bad = cli("sweep", "--name", "one", "--repeats", "2", *tiny)
    assert bad.returncode == 2 and "other parameters" in bad.stderr
    assert cli("sweep", "--methods", "bogus", "--database-url", url).returncode == 2
    assert cli(*export).returncode == 0
    after = json.loads(out.read_text())
    assert after == before and len(after) == 1
    assert after[0]["status"] == "ok" and after[0]["sweep"] == "one"


def test_info_json_lists_interpreters_and_host() -> None:
    done = cli("info", "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["host"]["logical_cores"] >= 1
    assert "current" in info["interpreters"]


def test_weak_scaling_sweep_stores_its_mode(tmp_path: Path) -> None:
    """--scaling weak: worker count W measured on W x K images, sync beside it; the mode and K
    are in the sweep's parameters (keys `scaling`, `images_per_worker`, `past_cores`)."""
    from sqlmodel import Session

    from nogilbench.store import repository

    url = f"sqlite:///{tmp_path / 'weak.db'}"
    done = cli(
        "sweep", "--name", "weak", "--scaling", "weak", "--images-per-worker", "2",
        "--workloads", "pure-python", "--workers", "1,2", "--methods", "sync,threading",
        "--repeats", "1", "--max-rounds", "1", "--image-size", "64x48", "--no-baseline",
        "--database-url", url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    engine = repository.open_store(url)
    with Session(engine) as session:
        sweep = repository.get_sweep_by_name(session, "weak")
        rows = repository.results_for(session, [sweep.id])
    assert sweep.parameters["scaling"] == "weak" and sweep.parameters["images_per_worker"] == 2
    assert sweep.parameters["past_cores"] == "same-binary"
    cells = sorted((r.images, r.method, r.workers) for r in rows)
    assert cells == [(2, "sync", 1), (2, "threading", 1), (4, "sync", 1), (4, "threading", 2)]
    assert all(r.status == "ok" for r in rows), [r.error for r in rows]
