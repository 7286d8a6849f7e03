"""A sweep's plan (nogilbench.sweep.plan, .config): the matrix with sync once per group, the
rows past the cores, the default build's rows, weak scaling, seeded round orders, bad
configurations, 'auto' workers under an affinity mask."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from nogilbench.errors import InvalidParameter
from nogilbench.host.interpreters import InterpreterInfo, current
from nogilbench.sweep.config import SweepConfig
from nogilbench.sweep.plan import Interpreters, group_cells, plan


def test_default_config_is_the_matrix_with_sync_once_per_group() -> None:
    config = SweepConfig().validate()
    stock = current()
    cells = plan(config, [f"{i}.jpg" for i in range(100)], Interpreters(stock, None, "none", None),
                 cores=2)  # fmt: skip
    per_workload = [c for c in cells if c.spec.workload == "pillow"]
    # per image count: sync once (it ignores workers) + 3 matrix methods x 4 worker counts
    # + asyncio and subinterpreters up to the 2 cores only
    assert len(per_workload) == 3 * (1 + 3 * 4 + 2 * 2) and len(cells) == 2 * len(per_workload)
    assert all(c.unavailable for c in cells if c.spec.method == "free-threaded")
    groups = group_cells(cells)
    assert len(groups) == 6 and all(len(g.cells) == 17 for g in groups)
    matrix = [c for c in cells if c.spec.method in ("threading", "multiprocessing")]
    assert {c.spec.workers for c in matrix} == {1, 2, 4, 8}
    extra = [c for c in cells if c.spec.method in ("asyncio", "subinterpreters")]
    assert {c.spec.workers for c in extra} == {1, 2}


def test_past_cores_all_measures_every_row_oversubscribed() -> None:
    config = SweepConfig(workloads=["pillow"], images=[10], past_cores="all").validate()
    cells = plan(config, ["a"] * 10, Interpreters(current(), None, "none", None), cores=2)
    assert {c.spec.workers for c in cells if c.spec.method == "asyncio"} == {1, 2, 4, 8}
    only_past = SweepConfig(workloads=["pillow"], images=[10], workers=[4, 8]).validate()
    cells = plan(only_past, ["a"] * 10, Interpreters(current(), None, "none", None), cores=2)
    assert {c.spec.workers for c in cells if c.spec.method == "asyncio"} == {4}
    with pytest.raises(InvalidParameter, match="past-cores"):
        SweepConfig(past_cores="some").validate()


def test_default_build_measures_every_method_but_free_threaded(
    ft_interpreter: InterpreterInfo,
) -> None:
    baseline = replace(ft_interpreter, free_threaded_build=False, path="/x/python3.13")
    cells = plan(SweepConfig().validate(), ["a"] * 100,
                 Interpreters(ft_interpreter, ft_interpreter, "", baseline), cores=2)  # fmt: skip
    on_default = [c for c in cells if c.interpreter is baseline]
    assert {c.spec.method for c in on_default} == {
        "sync",
        "asyncio",
        "threading",
        "multiprocessing",
        "subinterpreters",
    }
    assert all(c.spec.gil_requested is None for c in on_default)
    # the default build's rows are what users run today: measured up to the cores only
    assert max(c.spec.workers for c in on_default) == 2
    # on the free-threaded build, the GIL is on only for the same-binary rows
    gil = {c.spec.method: c.spec.gil_requested for c in cells if c.interpreter is ft_interpreter}
    assert gil == {
        "sync": True,
        "threading": True,
        "multiprocessing": True,
        "free-threaded": False,
        "asyncio": False,
        "subinterpreters": False,
    }


def test_weak_scaling_plans_images_per_worker() -> None:
    config = SweepConfig(workloads=["pure-python"], workers=[1, 2, 4], methods=["sync",
                         "threading", "free-threaded"], scaling="weak", images_per_worker=5,
                         baseline=False).validate()  # fmt: skip
    assert config.image_counts() == [5, 10, 20]
    cells = plan(config, ["a"] * 20, Interpreters(current(), None, "none", None), cores=2)
    groups = {g.images: g for g in group_cells(cells)}
    assert sorted(groups) == [5, 10, 20]
    for images, group in groups.items():
        # sync (the paired baseline) once, every other method at images / 5 workers
        assert {(c.spec.method, c.spec.workers) for c in group.cells} == {
            ("sync", 1),
            ("threading", images // 5),
            ("free-threaded", images // 5),
        }
    assert config.parameters()["scaling"] == "weak"
    assert config.parameters()["images_per_worker"] == 5
    with pytest.raises(InvalidParameter, match="weak scaling needs"):
        SweepConfig(scaling="weak", images_per_worker=5000, workers=[8]).validate()
    with pytest.raises(InvalidParameter, match="scaling"):
        SweepConfig(scaling="sideways").validate()


def test_round_orders_are_seeded_shuffles() -> None:
    cells = plan(SweepConfig(workloads=["pillow"], images=[10]).validate(), ["a"] * 10,
                 Interpreters(current(), None, "none", None))  # fmt: skip
    (group,) = group_cells(cells)
    assert group.shuffled(0, 0) == group.shuffled(0, 0)
    assert group.shuffled(0, 0) != group.shuffled(0, 1)
    assert sorted(map(str, group.shuffled(0, 0))) == sorted(str(c.order_key) for c in cells)


@pytest.mark.parametrize(
    "change",
    [{"methods": ["warp"]}, {"workers": [0]}, {"images": []}, {"repeats": 0},
     {"image_size": (10, 10)}, {"workloads": ["numpy"]}, {"name": ""},
     {"repeats": 4, "max_rounds": 3}, {"target": 0}, {"budget_s": -1}],
)  # fmt: skip
def test_bad_configs(change: dict) -> None:
    with pytest.raises(InvalidParameter):
        SweepConfig(**change).validate()


def test_workers_auto_follows_the_affinity_mask() -> None:
    """Pinned to one CPU, 'auto' plans 1 and 2 workers and 2 is oversubscribed."""
    script = (
        "import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})\n"
        "from nogilbench.notebook import matrix\n"
        "from nogilbench.sweep.plan import Interpreters, plan\n"
        "from nogilbench.host.interpreters import current\n"
        "c = matrix.sweep_config('a', ['pure-python'], [4], 'auto', ['sync', 'threading'], 1,"
        " '64x48', False)\n"
        "cells = plan(c, ['x'] * 4, Interpreters(current(), None, 'none', None))\n"
        "print(c.workers, sorted({cell.spec.workers for cell in cells}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["[1,", "2]", "[1,", "2]"]
