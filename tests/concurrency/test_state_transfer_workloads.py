"""Shared-state workloads give sync's outputs under contention (GIL on and off); the three
ways of moving pixels to a worker deliver the same bytes and clean up after themselves."""

from __future__ import annotations

import hashlib
import json
import subprocess
from multiprocessing import shared_memory
from pathlib import Path

import pytest
from PIL import Image

from nogilbench.concurrency import contention
from nogilbench.concurrency.runners import make_runner
from nogilbench.concurrency.workloads import resolve_workload
from nogilbench.paths import PROJECT_ROOT
from tests.support.images import tiny_images

SHARED = ("shared-dict", "shared-lock", "shared-list", "share-nothing")
TRANSFER = ("transfer-path", "transfer-pickle", "transfer-shm")


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return tiny_images(tmp_path_factory.mktemp("state-images"), 4)


def _outputs(name: str, method: str, workers: int, paths: list[str]) -> list[str]:
    workload = resolve_workload(name)
    with workload.opened(paths) as items, make_runner(method, workers) as runner:
        return [workload.digest(o) for o in runner.map(workload.compute, items, load=workload.load)]


@pytest.mark.parametrize("name", SHARED)
def test_shared_state_outputs_do_not_depend_on_the_interleaving(
    name: str, paths: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contention, "OPERATIONS", 2000)  # in-process: small is enough
    expected = _outputs(name, "sync", 1, paths)
    assert len(set(expected)) == len(paths)  # each item its own answer
    assert _outputs(name, "threading", 4, paths) == expected


def test_shared_state_on_free_threaded_threads(ft_python: str, paths: list[str]) -> None:
    """GIL off: the threads really run the shared loops at once; outputs are still sync's."""
    script = (
        "import json, sys\n"
        "from nogilbench.concurrency import contention\n"
        "from nogilbench.concurrency.runners import make_runner\n"
        "from nogilbench.concurrency.workloads import resolve_workload\n"
        "contention.OPERATIONS = 2000\n"
        "out = {}\n"
        "for name in sys.argv[1:]:\n"
        "    w = resolve_workload(name)\n"
        "    items = list(range(4))\n"
        "    with make_runner('sync', 1) as s, make_runner('free-threaded', 2) as f:\n"
        "        out[name] = [s.map(w.compute, items), f.map(w.compute, items)]\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [ft_python, "-X", "gil=0", "-c", script, *SHARED], capture_output=True, text=True,
        timeout=300, cwd=PROJECT_ROOT, env={"PYTHONPATH": str(PROJECT_ROOT)}, check=True,
    )  # fmt: skip
    for name, (sync, free) in json.loads(done.stdout).items():
        assert sync == free, name


def test_every_transfer_delivers_the_same_pixels(paths: list[str]) -> None:
    with Image.open(paths[0]) as image:
        pixels = image.convert("RGB").tobytes()
    digests = {name: _outputs(name, "sync", 1, paths) for name in TRANSFER}
    assert len({tuple(d) for d in digests.values()}) == 1  # same bytes, three ways
    assert digests["transfer-path"][0] == hashlib.sha1(pixels).hexdigest()[:16]


@pytest.mark.parametrize("name", TRANSFER)
def test_transfer_through_a_process_pool(name: str, paths: list[str]) -> None:
    workload = resolve_workload(name)
    with workload.opened(paths) as items:
        with make_runner("sync", 1) as sync:
            expected = sync.map(workload.compute, items)
        with make_runner("multiprocessing", 2) as pool:
            outputs = pool.map(workload.compute, items)
        summary = workload.summary(outputs)
    assert [workload.digest(o) for o in outputs] == [workload.digest(o) for o in expected]
    assert set(summary) == {"receive_ms_per_item", "work_ms_per_item"}
    assert summary["work_ms_per_item"] > 0
    received = summary["receive_ms_per_item"]
    assert received == 0 if name == "transfer-pickle" else received > 0


def test_transfer_items_are_cleaned_up(paths: list[str]) -> None:
    with resolve_workload("transfer-shm").opened(paths) as references:
        names = [name for name, _ in references]
        assert all(size == 64 * 48 * 3 for _, size in references)
    for name in names:
        with pytest.raises(FileNotFoundError):
            shared_memory.SharedMemory(name)
    with resolve_workload("transfer-path").opened(paths) as files:
        folder = Path(files[0]).parent
        assert Path(files[0]).stat().st_size == 64 * 48 * 3
    assert not folder.exists()
