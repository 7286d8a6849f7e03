"""What CPUs this process may really use, and how they are laid out.

- `usable_cores()`: the CPU affinity mask AND the cgroup CPU quota (v2 `cpu.max`, v1
  `cpu.cfs_quota_us / cpu.cfs_period_us`, the tightest along the cgroup's ancestors). A
  container limited to 4 CPUs on a 64-core host has 4, whatever `os.cpu_count()` says.
- `read_topology()`: sockets, NUMA nodes, physical cores vs logical CPUs (SMT), cpufreq
  governor, driver and boost, from Linux sysfs; whatever is unreadable is None.

Stdlib only (benchmark cells import this on every interpreter). Every reader takes the
filesystem root as a parameter so tests can point it at a fabricated tree.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path("/")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def parse_cpu_list(text: str) -> list[int]:
    """'0-3,8,10-11' -> [0, 1, 2, 3, 8, 10, 11] (the kernel's cpulist format)."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part.strip():
            continue
        first, _, last = part.partition("-")
        cpus.extend(range(int(first), int(last or first) + 1))
    return sorted(set(cpus))


# --------------------------------------------------------------------------- usable cores


def affinity_cpus() -> list[int]:
    """The CPUs this process may be scheduled on (all of them where there is no mask)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


@dataclass(frozen=True)
class CpuQuota:
    """A cgroup CPU bandwidth limit: `cpus` CPUs' worth of time per period."""

    cpus: float
    source: str  # the file it was read from


def _mounts(root: Path) -> list[tuple[str, str, str, set[str]]]:
    """(mount root, mount point, fs type, super options) of every mount, from mountinfo."""
    text = _read(root / "proc/self/mountinfo") or ""
    mounts = []
    for line in text.splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) >= 5 and len(tail) >= 3:
            mounts.append((fields[3], fields[4], tail[0], set(tail[2].split(","))))
    return mounts


def _cgroup_paths(root: Path) -> dict[str, str]:
    """Controller ('' for the v2 unified hierarchy) -> this process's cgroup path."""
    paths: dict[str, str] = {}
    for line in (_read(root / "proc/self/cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else [""]:
                paths[controller] = parts[2]
    return paths


def _ancestors(root: Path, mount_root: str, mount_point: str, cgroup: str) -> list[Path]:
    """The cgroup's directory and its parents up to the mount point, innermost first."""
    relative = os.path.relpath(cgroup, mount_root) if cgroup.startswith(mount_root) else cgroup
    relative = "" if relative in (".", "/") else relative.strip("/")
    base = root / mount_point.lstrip("/")
    directory = base / relative if relative else base
    chain = [directory]
    while directory != base and base in directory.parents:
        directory = directory.parent
        chain.append(directory)
    return chain


def _v2_limit(directory: Path) -> float | None:
    text = _read(directory / "cpu.max")
    if not text:
        return None
    quota, _, period = text.partition(" ")
    if quota == "max":
        return None
    try:
        return int(quota) / int(period or "100000")
    except (ValueError, ZeroDivisionError):
        return None


def _v1_limit(directory: Path) -> float | None:
    quota, period = _read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")
    try:
        if quota is None or period is None or int(quota) <= 0 or int(period) <= 0:
            return None
        return int(quota) / int(period)
    except ValueError:
        return None


def cgroup_cpu_quota(root: Path = ROOT) -> CpuQuota | None:
    """The tightest cgroup CPU quota on this process (v2 and v1), or None if unlimited."""
    cgroups = _cgroup_paths(root)
    limits: list[CpuQuota] = []
    for mount_root, mount_point, fstype, options in _mounts(root):
        if fstype == "cgroup2" and "" in cgroups:
            reader, cgroup = _v2_limit, cgroups[""]
        elif fstype == "cgroup" and "cpu" in options and "cpu" in cgroups:
            reader, cgroup = _v1_limit, cgroups["cpu"]
        else:
            continue
        for directory in _ancestors(root, mount_root, mount_point, cgroup):
            cpus = reader(directory)
            if cpus is not None:
                source = "cpu.max" if reader is _v2_limit else "cpu.cfs_quota_us"
                limits.append(CpuQuota(cpus, str(directory / source)))
    return min(limits, key=lambda quota: quota.cpus) if limits else None


def usable_cores(root: Path = ROOT, affinity: list[int] | None = None) -> int:
    """CPUs this process can keep busy: min(affinity mask, ceil(cgroup quota)), at least 1."""
    cores = len(affinity if affinity is not None else affinity_cpus()) or 1
    quota = cgroup_cpu_quota(root)
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota.cpus - 1e-9)))
    return cores


# --------------------------------------------------------------------------- topology


@dataclass(frozen=True)
class Cpu:
    """One logical CPU: its socket, physical core (first sibling's number) and NUMA node."""

    cpu: int
    package: int | None
    core: int  # the lowest logical CPU of its thread siblings: one value per physical core
    node: int | None
    max_khz: int | None  # cpuinfo_max_freq, to tell performance from efficiency cores


@dataclass(frozen=True)
class Topology:
    cpus: list[Cpu] = field(default_factory=list)
    sockets: int | None = None
    numa_nodes: int | None = None
    physical_cores: int | None = None
    logical_cpus: int | None = None
    threads_per_core: int | None = None
    smt_active: bool | None = None
    governor: str | None = None  # cpufreq scaling governor (of every CPU, or 'mixed')
    cpufreq_driver: str | None = None
    boost: bool | None = None  # turbo/boost enabled, where the driver says

    def summary(self) -> dict[str, Any]:
        """The host-record fields (the per-CPU table is left out)."""
        facts = asdict(self)
        del facts["cpus"]
        return facts


def _cpu_numbers(sys_root: Path) -> list[int]:
    online = _read(sys_root / "devices/system/cpu/online")
    if online:
        return parse_cpu_list(online)
    found = []
    for entry in (sys_root / "devices/system/cpu").glob("cpu[0-9]*"):
        found.append(int(entry.name[3:]))
    return sorted(found)


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _nodes(sys_root: Path) -> dict[int, int]:
    """Logical CPU -> NUMA node."""
    owner: dict[int, int] = {}
    for node in (sys_root / "devices/system/node").glob("node[0-9]*"):
        for cpu in parse_cpu_list(_read(node / "cpulist") or ""):
            owner[cpu] = int(node.name[4:])
    return owner


def _boost(sys_root: Path) -> bool | None:
    cpu_dir = sys_root / "devices/system/cpu"
    generic = _read(cpu_dir / "cpufreq/boost")  # acpi-cpufreq, amd-pstate
    if generic in ("0", "1"):
        return generic == "1"
    no_turbo = _read(cpu_dir / "intel_pstate/no_turbo")
    if no_turbo in ("0", "1"):
        return no_turbo == "0"
    return None


def read_topology(sys_root: Path = ROOT / "sys") -> Topology:
    cpu_dir = sys_root / "devices/system/cpu"
    numbers = _cpu_numbers(sys_root)
    if not numbers:
        return Topology()
    nodes = _nodes(sys_root)
    cpus = []
    for number in numbers:
        base = cpu_dir / f"cpu{number}"
        siblings = parse_cpu_list(_read(base / "topology/thread_siblings_list") or str(number))
        cpus.append(
            Cpu(
                cpu=number,
                package=_int(_read(base / "topology/physical_package_id")),
                core=min(siblings or [number]),
                node=nodes.get(number),
                max_khz=_int(_read(base / "cpufreq/cpuinfo_max_freq")),
            )
        )
    per_core: dict[tuple[int | None, int], int] = {}
    for cpu in cpus:
        per_core[(cpu.package, cpu.core)] = per_core.get((cpu.package, cpu.core), 0) + 1
    governors = {_read(cpu_dir / f"cpu{n}/cpufreq/scaling_governor") for n in numbers} - {None}
    smt = _read(cpu_dir / "smt/active")
    packages = {cpu.package for cpu in cpus if cpu.package is not None}
    return Topology(
        cpus=cpus,
        sockets=len(packages) or None,
        numa_nodes=len(set(nodes.values())) or None,
        physical_cores=len(per_core),
        logical_cpus=len(cpus),
        threads_per_core=max(per_core.values()),
        smt_active=None if smt not in ("0", "1") else smt == "1",
        governor=(governors.pop() if len(governors) == 1 else "mixed") if governors else None,
        cpufreq_driver=_read(cpu_dir / "cpufreq/policy0/scaling_driver")
        or _read(cpu_dir / "cpu0/cpufreq/scaling_driver"),
        boost=_boost(sys_root),
    )


def host_topology(root: Path = ROOT) -> dict[str, Any]:
    """For the host record: topology summary, affinity, cgroup quota and usable cores."""
    quota = cgroup_cpu_quota(root)
    affinity = affinity_cpus()
    return {
        **read_topology(root / "sys").summary(),
        "affinity_cpus": len(affinity),
        "cgroup_cpu_quota": round(quota.cpus, 3) if quota else None,
        "usable_cores": usable_cores(root, affinity),
    }
