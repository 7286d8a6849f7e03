"""A measurement whose own evidence says the machine was taken from it, and is measured again.

On a shared host a few measurements lose a core or a slice of the machine for a few seconds:
the wall time jumps while the CPU time the cell used stays normal, or the hypervisor reports
steal. Those rounds say nothing about the method; pairing by round cannot cancel them (they
hit one cell, not the round). Such a measurement is taken once more at once; the kept row
records what was seen (`details["remeasured"]`) so the report can count them.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

STEAL_LIMIT_PERCENT = 5.0  # more of the host's CPU time given to other machines than this
SYNC_SHARE_LIMIT = 0.80  # a single-threaded cell below this share of one core was crowded out
SHARE_DROP = 0.70  # a cell's CPU share under this fraction of its usual share ...
WALL_RISE = 1.25  # ... while its wall time rose by this much: a core was taken away
# CPU time moves in 10 ms clock ticks per process: a share read off a shorter run is noise.
MIN_JUDGED_WALL_S = 0.5


def cpu_share(row: dict[str, Any]) -> float | None:
    """Cores' worth of CPU the cell's process tree used while it was timed."""
    wall, cpu = row.get("wall_s"), row.get("cpu_s")
    if not wall or cpu is None:
        return None
    return float(cpu) / float(wall)


def disturbance(row: dict[str, Any], history: Sequence[dict[str, Any]]) -> str | None:
    """Why `row` looks disturbed, or None. `history`: the same cell's earlier ok rows."""
    if row.get("status") != "ok":
        return None
    steal = row.get("steal_percent")
    if steal is not None and steal >= STEAL_LIMIT_PERCENT:
        return f"CPU steal {steal:.1f}% (limit {STEAL_LIMIT_PERCENT:.0f}%)"
    share = cpu_share(row)
    if share is None or row["wall_s"] < MIN_JUDGED_WALL_S:
        return None
    if row.get("method") == "sync" and share < SYNC_SHARE_LIMIT:
        return f"sync got {share:.0%} of a core (another process took the rest)"
    shares = [value for value in map(cpu_share, history) if value is not None]
    walls = [float(past["wall_s"]) for past in history if past.get("wall_s")]
    if len(shares) < 2 or not walls:
        return None
    usual_share, usual_wall = statistics.median(shares), statistics.median(walls)
    if share < SHARE_DROP * usual_share and row["wall_s"] > WALL_RISE * usual_wall:
        return (
            f"used {share:.2f} cores' worth of CPU against {usual_share:.2f} in its other rounds "
            f"while its wall time rose {row['wall_s'] / usual_wall:.2f}x: a core was taken away"
        )
    return None


def least_disturbed(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Of two measurements of the same cell and round, the one with more CPU per wall second."""
    return max((first, second), key=lambda row: cpu_share(row) or 0.0)
