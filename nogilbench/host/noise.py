"""What the host was doing around a measurement: load, CPU steal, clock frequency.

Read before and after each cell process, so the report can show whether a slow round met a
busy or throttled host. Every reading is optional: a value the OS does not expose is None.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class HostSnapshot:
    load_1m: float | None
    steal_s: float | None  # cumulative host-wide steal time (virtual machines)
    total_s: float  # cumulative host-wide CPU time, all states
    cpu_mhz: float | None


def snapshot() -> HostSnapshot:
    times = psutil.cpu_times()
    try:
        load: float | None = os.getloadavg()[0]
    except OSError:
        load = None
    try:
        frequency = psutil.cpu_freq()
        mhz = round(frequency.current, 1) if frequency and frequency.current else None
    except (OSError, NotImplementedError, AttributeError):
        mhz = None
    return HostSnapshot(load, getattr(times, "steal", None), sum(times), mhz)


def noise_between(before: HostSnapshot, after: HostSnapshot) -> dict[str, float | None]:
    """The measurement's noise columns: load when it started, steal %, mean frequency."""
    steal = None
    elapsed = after.total_s - before.total_s
    if before.steal_s is not None and after.steal_s is not None and elapsed > 0:
        steal = round(100 * (after.steal_s - before.steal_s) / elapsed, 2)
    frequencies = [mhz for mhz in (before.cpu_mhz, after.cpu_mhz) if mhz]
    return {
        "load_1m": round(before.load_1m, 2) if before.load_1m is not None else None,
        "steal_percent": steal,
        "cpu_mhz": round(sum(frequencies) / len(frequencies), 1) if frequencies else None,
    }
