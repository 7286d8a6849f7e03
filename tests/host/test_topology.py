"""Usable cores (affinity mask and cgroup quota), topology from sysfs, worker planning, pinning.

Parsers read fabricated /proc and /sys trees; the affinity tests restrict a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nogilbench.errors import InvalidParameter
from nogilbench.host.topology import (
    cgroup_cpu_quota,
    parse_cpu_list,
    read_topology,
    usable_cores,
)
from nogilbench.model import is_oversubscribed
from nogilbench.results.stats import ideal_speedup
from nogilbench.sweep.scaling import (
    auto_worker_counts,
    choose_pinned_cpus,
    pin_process,
    resolve_worker_counts,
    weak_scaling_cells,
)

needs_affinity = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity"), reason="needs os.sched_setaffinity (Linux)"
)


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def cgroup_v2(root: Path, cgroup: str, limits: dict[str, str]) -> None:
    write(root, "proc/self/mountinfo", "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")
    write(root, "proc/self/cgroup", f"0::{cgroup}\n")
    for directory, value in limits.items():
        write(root, f"sys/fs/cgroup/{directory}/cpu.max".replace("//", "/"), value + "\n")


def test_cpu_list() -> None:
    assert parse_cpu_list("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11]
    assert parse_cpu_list("") == []


def test_cgroup_v2_quota_limits_a_big_host(tmp_path: Path) -> None:
    cgroup_v2(tmp_path, "/app", {"app": "400000 100000"})
    assert cgroup_cpu_quota(tmp_path).cpus == 4.0  # type: ignore[union-attr]
    assert usable_cores(tmp_path, affinity=list(range(64))) == 4
    assert usable_cores(tmp_path, affinity=[0, 1]) == 2  # the mask is tighter


def test_cgroup_v2_tightest_ancestor_and_rounding_up(tmp_path: Path) -> None:
    cgroup_v2(tmp_path, "/a/b", {"a": "150000 100000", "a/b": "max 100000", "": "max 100000"})
    assert cgroup_cpu_quota(tmp_path).cpus == 1.5  # type: ignore[union-attr]
    assert usable_cores(tmp_path, affinity=list(range(8))) == 2  # 1.5 CPUs keep 2 cores busy


def test_cgroup_unlimited(tmp_path: Path) -> None:
    cgroup_v2(tmp_path, "/", {"": "max 100000"})
    assert cgroup_cpu_quota(tmp_path) is None
    assert usable_cores(tmp_path, affinity=list(range(16))) == 16
    assert cgroup_cpu_quota(tmp_path / "nothing-here") is None  # no /proc: no quota


def test_cgroup_v1_quota(tmp_path: Path) -> None:
    write(
        tmp_path, "proc/self/mountinfo",
        "25 1 0:22 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "26 1 0:23 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
    )  # fmt: skip
    write(tmp_path, "proc/self/cgroup", "4:memory:/x\n3:cpu,cpuacct:/docker/abc\n")
    write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "300000\n")
    write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n")
    write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n")
    write(tmp_path, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n")
    assert usable_cores(tmp_path, affinity=list(range(32))) == 3


def two_socket_smt(root: Path, slow: tuple[int, ...] = ()) -> Path:
    """8 logical CPUs: 2 sockets x 2 cores x 2 threads; node0 = socket 0, node1 = socket 1."""
    sys_root = root / "sys"
    write(sys_root, "devices/system/cpu/online", "0-7\n")
    siblings = {0: "0,2", 2: "0,2", 1: "1,3", 3: "1,3", 4: "4,6", 6: "4,6", 5: "5,7", 7: "5,7"}
    for cpu in range(8):
        base = f"devices/system/cpu/cpu{cpu}"
        write(sys_root, f"{base}/topology/physical_package_id", str(cpu // 4))
        write(sys_root, f"{base}/topology/thread_siblings_list", siblings[cpu])
        write(sys_root, f"{base}/cpufreq/scaling_governor", "performance\n")
        write(sys_root, f"{base}/cpufreq/cpuinfo_max_freq", "2000000" if cpu in slow else "3500000")
    write(sys_root, "devices/system/cpu/cpu0/cpufreq/scaling_driver", "intel_pstate\n")
    write(sys_root, "devices/system/cpu/intel_pstate/no_turbo", "0\n")
    write(sys_root, "devices/system/cpu/smt/active", "1\n")
    write(sys_root, "devices/system/node/node0/cpulist", "0-3\n")
    write(sys_root, "devices/system/node/node1/cpulist", "4-7\n")
    return sys_root


def test_topology_from_sysfs(tmp_path: Path) -> None:
    topology = read_topology(two_socket_smt(tmp_path))
    assert topology.summary() == {
        "sockets": 2, "numa_nodes": 2, "physical_cores": 4, "logical_cpus": 8,
        "threads_per_core": 2, "smt_active": True, "governor": "performance",
        "cpufreq_driver": "intel_pstate", "boost": True,
    }  # fmt: skip
    assert read_topology(tmp_path / "empty").summary()["physical_cores"] is None


def test_this_host_topology_is_consistent() -> None:
    topology = read_topology()
    if not topology.cpus:
        pytest.skip("no sysfs CPU topology here")
    assert topology.logical_cpus == len(topology.cpus) >= (topology.physical_cores or 0) >= 1


def test_pinning_distinct_cores_of_one_node(tmp_path: Path) -> None:
    topology = read_topology(two_socket_smt(tmp_path))
    plan = choose_pinned_cpus(2, topology, allowed=range(8))
    assert plan.cpus == (0, 1) and plan.node == 0 and plan.distinct_cores == 2
    plan = choose_pinned_cpus(3, topology, allowed=range(8))  # node 0 has 2 cores: a sibling
    assert plan.cpus == (0, 1, 2) and plan.distinct_cores == 2
    plan = choose_pinned_cpus(2, topology, allowed=[3, 4, 5, 6])  # the mask prefers node 1
    assert plan.cpus == (4, 5) and plan.node == 1
    slow_node0 = read_topology(two_socket_smt(tmp_path / "hybrid", slow=(1, 3)))
    plan = choose_pinned_cpus(2, slow_node0, allowed=range(8))  # node 1: two fast cores
    assert plan.cpus == (4, 5)


def test_auto_workers_and_weak_scaling() -> None:
    assert auto_worker_counts(1) == [1, 2]
    assert auto_worker_counts(2) == [1, 2, 4]
    assert auto_worker_counts(6) == [1, 2, 4, 6, 12]
    assert auto_worker_counts(64) == [1, 2, 4, 8, 16, 32, 64, 128]
    assert auto_worker_counts(200)[-1] == 256  # never past the runners' bound
    assert [(c.workers, c.images) for c in weak_scaling_cells(5, [4, 1, 2])] == [
        (1, 5), (2, 10), (4, 20),
    ]  # fmt: skip
    assert resolve_worker_counts("auto", 3) == [1, 2, 3, 6]
    assert resolve_worker_counts(" 4,1,2,2 ", 3) == [1, 2, 4]
    for bad in ("", "0,1", "two", "1,999"):
        with pytest.raises(InvalidParameter):
            resolve_worker_counts(bad, 2)
    with pytest.raises(InvalidParameter):
        auto_worker_counts(0)
    with pytest.raises(InvalidParameter):
        weak_scaling_cells(0, [1])


# Runs under a 1-CPU affinity mask: what a sweep would plan there.
PLAN_SCRIPT = """
import json, os
from nogilbench.model import is_oversubscribed
from nogilbench.sweep.scaling import auto_worker_counts
from nogilbench.results.stats import ideal_speedup
from nogilbench.host.interpreters import usable_cores, host_info
cores = usable_cores()
plan = auto_worker_counts(cores)
print(json.dumps({
    "cores": cores, "host": host_info()["usable_cores"], "plan": plan,
    "oversubscribed": [is_oversubscribed("threading", w, cores) for w in plan],
    "ideal": [ideal_speedup("threading", w, cores, 10) for w in plan],
}))
"""


@needs_affinity
def test_one_core_mask_plans_one_and_two_workers() -> None:
    """Under a 1-core affinity mask: usable cores 1, auto plans [1, 2], 2 is oversubscribed,
    and the ideal speedup line stays at 1 (pin_process on a real child process)."""
    first = min(os.sched_getaffinity(0))
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; exec(sys.stdin.read())"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    pin_process(child.pid, [first])  # before it reads its script, as a launcher would
    out, _ = child.communicate(PLAN_SCRIPT, timeout=120)
    facts = json.loads(out)
    assert facts == {
        "cores": 1, "host": 1, "plan": [1, 2], "oversubscribed": [False, True],
        "ideal": [1.0, 1.0],
    }  # fmt: skip
    assert is_oversubscribed("sync", 2, 1) is False
    assert ideal_speedup("threading", 2, 2, 10) == 2.0  # unmasked, 2 cores would be the ideal


@needs_affinity
def test_a_cell_pinned_at_spawn_sees_its_cpus(tmp_path: Path) -> None:
    """pin_process between spawn and spec (as the launcher would): the cell's own usable
    cores, hence its oversubscription and ideal, follow the pin."""
    from dataclasses import asdict

    from nogilbench.sweep.launch import cell_environment
    from nogilbench.sweep.worker import CellSpec
    from tests.support import ROOT
    from tests.support.images import tiny_images

    first = min(os.sched_getaffinity(0))
    spec = CellSpec("pure-python", "threading", 2, tiny_images(tmp_path, 2))
    cell = subprocess.Popen(
        [sys.executable, "-m", "nogilbench.sweep.worker"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True, env=cell_environment(), cwd=ROOT,
    )  # fmt: skip
    pin_process(cell.pid, [first])
    out, _ = cell.communicate(json.dumps(asdict(spec)), timeout=120)
    outcome = json.loads(out.strip().splitlines()[-1])
    assert outcome["status"] == "ok", outcome["error"]
    assert outcome["cores"] == 1 and is_oversubscribed("threading", spec.workers, 1)
