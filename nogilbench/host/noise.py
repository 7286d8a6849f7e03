"""What the host was doing around a measurement: load, CPU steal, clock frequency.

Read before and after each cell process, so the report can show whether a slow round met a
busy or throttled host. Every reading is optional: a value the OS does not expose is None.
"""

from __future__ import annotations

import math
import os
import statistics
import time
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


# ------------------------------------------------------------------ the host's speed states

PROBE_CHUNK_S = 0.1  # one speed sample: a fixed pure-Python loop of about this long


def _loop(iterations: int) -> int:
    total = 0
    for value in range(iterations):
        total += value & 7
    return total


def speed_state(duration_s: float = 10.0) -> dict[str, float | int | None]:
    """How long the host's speed stays the same: a fixed loop timed back to back.

    On a shared VM the machine's speed drifts in states that last seconds (steal, a noisy
    neighbour, frequency): two measurements taken within one state pair well, two taken in
    different states do not. The autocorrelation of the loop's speed tells how long a state
    lasts: `timescale_s` is the first lag where it falls under 1/e (None: never, within half
    the probe), and `sd_percent` the speed's spread. The sweep spends `duration_s` on it once,
    before its first round.
    """
    calibrate = time.perf_counter()
    iterations = 20_000
    while time.perf_counter() - calibrate < PROBE_CHUNK_S / 4:
        _loop(iterations)
        iterations *= 2
    per_chunk = max(1, int(iterations * PROBE_CHUNK_S / max(time.perf_counter() - calibrate, 1e-3)))
    speeds: list[float] = []
    started = time.perf_counter()
    while time.perf_counter() - started < duration_s:
        tick = time.perf_counter()
        _loop(per_chunk)
        speeds.append(1.0 / (time.perf_counter() - tick))
    chunk_s = duration_s / max(len(speeds), 1)
    logs = [math.log(speed) for speed in speeds]
    if len(logs) < 8:
        return {"timescale_s": None, "sd_percent": None, "samples": len(logs)}
    mean = statistics.fmean(logs)
    variance = statistics.fmean([(value - mean) ** 2 for value in logs])
    timescale = None
    if variance > 0:
        for lag in range(1, len(logs) // 2):
            pairs = zip(logs, logs[lag:], strict=False)
            covariance = statistics.fmean([(a - mean) * (b - mean) for a, b in pairs])
            if covariance / variance < 1 / math.e:
                timescale = round(lag * chunk_s, 2)
                break
    return {
        "timescale_s": timescale,
        "sd_percent": round(100 * math.sqrt(variance), 2),
        "samples": len(logs),
        "duration_s": round(duration_s, 1),
    }
