"""The host checks a workloads sweep stores beside its cells, so the report reads them instead
of running anything: the race demo (lost updates without a lock, GIL off and on) and the GIL
scan of the free-threaded build's installed extension modules."""

from __future__ import annotations

from nogilbench.host.gilscan import GilScanError, gil_scan
from nogilbench.host.interpreters import InterpreterUnavailable, find_free_threaded
from nogilbench.store import repository
from nogilbench.store.hostfacts import GIL_SCAN, RACE, record_host_fact
from nogilbench.sweep.race import race_demo

RACE_THREADS = 4
RACE_INCREMENTS = 100_000  # per thread: enough to lose updates with the GIL off, ~1 s a mode
RACE_TRIALS = 3


def record_checks(
    database_url: str | None,
    sweep_name: str,
    *,
    threads: int = RACE_THREADS,
    increments: int = RACE_INCREMENTS,
    trials: int = RACE_TRIALS,
) -> list[str]:
    """Run the race demo and the GIL scan on the free-threaded build and store both with the
    named sweep; returns one line per check saying what was stored."""
    engine = repository.open_store(database_url)
    try:
        try:
            interpreter = find_free_threaded()
        except InterpreterUnavailable as exc:
            reason = f"free-threaded interpreter unavailable: {exc.reason}"
            for key in (RACE, GIL_SCAN):
                record_host_fact(engine, sweep_name, key, {"error": reason})
            return [reason]
        rows = race_demo(interpreter, threads, increments, trials)
        race = {"threads": threads, "increments": increments, "trials": trials, "rows": rows}
        record_host_fact(engine, sweep_name, RACE, race)
        lines = [f"race demo: {len(rows)} trials stored ({interpreter.path})"]
        try:
            scanned = {"python": interpreter.path, "rows": gil_scan(interpreter.path)}
            lines.append(f"GIL scan: {len(scanned['rows'])} modules stored")
        except GilScanError as exc:
            scanned = {"python": interpreter.path, "error": str(exc)}
            lines.append(f"GIL scan failed: {exc}")
        record_host_fact(engine, sweep_name, GIL_SCAN, scanned)
        return lines
    finally:
        engine.dispose()
