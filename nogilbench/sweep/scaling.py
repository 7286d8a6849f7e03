"""Planning cells for many-core hosts: worker counts, weak scaling, CPU pinning.

Pure functions (no measurement here), so a sweep, the CLI and the tests plan the same way:

- `auto_worker_counts(cores)`: 1, 2, 4, ... up to the usable cores, the core count itself,
  then 2x cores once (oversubscription, marked by `is_oversubscribed`).
- `weak_scaling_cells(images_per_worker, worker_counts)`: images grow with the workers, so the
  ideal wall time stays flat (strong scaling keeps the images fixed instead).
- `choose_pinned_cpus(workers, topology, allowed)`: CPUs for a cell on distinct physical cores
  of one NUMA node, fastest cores first (as CPython's Tools/ftscalingbench picks them);
  `pin_process(pid, cpus)` applies it to a freshly started cell before it gets its spec.
Stdlib only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from nogilbench.concurrency.base import MAX_WORKERS
from nogilbench.errors import InvalidParameter
from nogilbench.host.topology import Topology, affinity_cpus, read_topology


def auto_worker_counts(cores: int, max_workers: int = MAX_WORKERS) -> list[int]:
    """1, 2, 4, ... up to `cores` (which is always included), then 2 x cores once.

    >>> auto_worker_counts(1), auto_worker_counts(6)
    ([1, 2], [1, 2, 4, 6, 12])
    """
    if cores < 1:
        raise InvalidParameter(f"usable cores must be at least 1, got {cores}")
    counts = []
    count = 1
    while count < cores:
        counts.append(count)
        count *= 2
    counts += [cores, 2 * cores]
    return sorted({min(count, max_workers) for count in counts})


def resolve_worker_counts(text: str, cores: int, max_workers: int = MAX_WORKERS) -> list[int]:
    """A `--workers` value: 'auto' (see `auto_worker_counts`) or a comma list like '1,2,4'."""
    if text.strip().lower() == "auto":
        return auto_worker_counts(cores, max_workers)
    try:
        counts = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise InvalidParameter(
            f"workers must be a comma-separated list of integers or 'auto', got {text!r}"
        ) from None
    if not counts or counts[0] < 1 or counts[-1] > max_workers:
        raise InvalidParameter(f"workers must be between 1 and {max_workers}, got {text!r}")
    return counts


@dataclass(frozen=True)
class WeakCell:
    workers: int
    images: int


def weak_scaling_cells(images_per_worker: int, worker_counts: Iterable[int]) -> list[WeakCell]:
    """One cell per worker count with `images_per_worker x workers` images.

    Ideal: the same wall time at every count. The baseline of a weak-scaling cell is sync
    at the same image count (so sync cells are planned at every image count used here).
    """
    if images_per_worker < 1:
        raise InvalidParameter(f"images per worker must be at least 1, got {images_per_worker}")
    counts = sorted(set(worker_counts))
    if not counts or counts[0] < 1:
        raise InvalidParameter(f"worker counts must be at least 1, got {counts}")
    return [WeakCell(workers, workers * images_per_worker) for workers in counts]


@dataclass(frozen=True)
class PinPlan:
    """Where a cell runs: `cpus` for the cell process (its pool workers inherit them)."""

    cpus: tuple[int, ...]
    node: int | None
    distinct_cores: int  # physical cores among `cpus`; < workers means SMT siblings shared

    def as_dict(self) -> dict[str, object]:
        return {"cpus": list(self.cpus), "node": self.node, "distinct_cores": self.distinct_cores}


def choose_pinned_cpus(
    workers: int, topology: Topology, allowed: Sequence[int] | None = None
) -> PinPlan:
    """CPUs for `workers` workers: one per distinct physical core of one NUMA node.

    Among the allowed CPUs, only the fastest cores (highest max frequency, so not efficiency
    cores) count; the node with the most such cores wins (ties: lowest node). If `workers`
    exceeds its cores, their SMT siblings are added, and past that the cell simply gets the
    whole node (the row is oversubscribed then, and says so).
    """
    if workers < 1:
        raise InvalidParameter(f"workers must be at least 1, got {workers}")
    permitted = set(allowed if allowed is not None else affinity_cpus())
    cpus = [cpu for cpu in topology.cpus if cpu.cpu in permitted]
    if not cpus:
        return PinPlan(tuple(sorted(permitted)), None, len(permitted))
    fastest = max((cpu.max_khz or 0) for cpu in cpus)
    by_node: dict[int | None, list] = {}
    for cpu in cpus:
        by_node.setdefault(cpu.node, []).append(cpu)

    def fast_cores(node: int | None) -> int:
        return len({c.core for c in by_node[node] if (c.max_khz or 0) == fastest})

    node = max(by_node, key=lambda n: (fast_cores(n), -(n if n is not None else -1)))
    ordered = sorted(by_node[node], key=lambda c: (-(c.max_khz or 0), c.cpu))
    chosen: list[int] = []
    cores: set[tuple[int | None, int]] = set()
    for cpu in ordered:  # first pass: one CPU per physical core
        if len(chosen) < workers and (cpu.package, cpu.core) not in cores:
            chosen.append(cpu.cpu)
            cores.add((cpu.package, cpu.core))
    for cpu in ordered:  # then SMT siblings of those cores, if there are more workers
        if len(chosen) < workers and cpu.cpu not in chosen:
            chosen.append(cpu.cpu)
    return PinPlan(tuple(sorted(chosen)), node, len(cores))


def plan_pinning(workers: int) -> PinPlan:
    """`choose_pinned_cpus` for this host and this process's affinity mask."""
    return choose_pinned_cpus(workers, read_topology(), affinity_cpus())


def pin_process(pid: int, cpus: Sequence[int]) -> None:
    """Restrict a process (and the children it starts later) to `cpus`.

    Call it right after starting a cell, before writing its spec: the cell blocks reading
    the spec, so no measured work runs unpinned, and its pool workers inherit the mask."""
    if not hasattr(os, "sched_setaffinity"):
        raise InvalidParameter("pinning needs os.sched_setaffinity (Linux)")
    os.sched_setaffinity(pid, set(cpus))


def pin_preexec(cpus: Sequence[int]) -> Callable[[], None]:
    """A subprocess `preexec_fn` doing `pin_process` in the child (single-threaded parents)."""
    wanted = set(cpus)

    def pin() -> None:
        os.sched_setaffinity(0, wanted)

    return pin
