"""The race the GIL used to hide: threads incrementing one shared counter.

`counter.value += 1` is a read, an add and a write. With the GIL, CPython only switches
threads at a few points in the bytecode (not between that read and write), so in practice
no update is lost. With the GIL off, two threads really run at once and overwrite each
other's writes: updates are lost. Three variants are measured per trial:

- `unsafe`: one shared counter, no lock;
- `locked`: the same counter behind a `threading.Lock`;
- `per-thread`: each thread counts privately, results merged at the end (no sharing).

    python -X gil=0 -m nogilbench.sweep.race --threads 4 --increments 200000 --trials 5

runs the trials in this interpreter and prints JSON; `race_demo` runs that in a fresh
process per GIL mode and is what the CLI and the notebook call.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass

from nogilbench.concurrency.base import gil_enabled
from nogilbench.host.interpreters import InterpreterInfo
from nogilbench.paths import PROJECT_ROOT

VARIANTS = ("unsafe", "locked", "per-thread")


class SharedCounter:
    def __init__(self) -> None:
        self.value = 0


def _unsafe(counter: SharedCounter, increments: int, start: threading.Barrier) -> None:
    start.wait()
    for _ in range(increments):
        counter.value += 1  # read-modify-write: not atomic without the GIL


def _locked(
    counter: SharedCounter, increments: int, start: threading.Barrier, lock: threading.Lock
) -> None:
    start.wait()
    for _ in range(increments):
        with lock:
            counter.value += 1


def _per_thread(totals: list[int], slot: int, increments: int, start: threading.Barrier) -> None:
    start.wait()
    local = 0
    for _ in range(increments):
        local += 1
    totals[slot] = local  # each thread writes only its own slot


@dataclass(frozen=True)
class RaceTrial:
    variant: str
    trial: int
    threads: int
    increments: int
    expected: int
    observed: int
    lost: int
    seconds: float
    gil_enabled: bool


def run_trial(variant: str, threads: int, increments: int, trial: int = 0) -> RaceTrial:
    start = threading.Barrier(threads)
    counter = SharedCounter()
    totals = [0] * threads
    lock = threading.Lock()
    workers = []
    for slot in range(threads):
        if variant == "unsafe":
            target, args = _unsafe, (counter, increments, start)
        elif variant == "locked":
            target, args = _locked, (counter, increments, start, lock)
        else:
            target, args = _per_thread, (totals, slot, increments, start)
        workers.append(threading.Thread(target=target, args=args))
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    observed = sum(totals) if variant == "per-thread" else counter.value
    expected = threads * increments
    return RaceTrial(
        variant, trial, threads, increments, expected, observed, expected - observed,
        round(elapsed, 4), gil_enabled(),
    )  # fmt: skip


def run_trials(threads: int, increments: int, trials: int) -> list[RaceTrial]:
    return [
        run_trial(variant, threads, increments, trial)
        for trial in range(trials)
        for variant in VARIANTS
    ]


def race_demo(
    interpreter: InterpreterInfo, threads: int = 4, increments: int = 200_000, trials: int = 5
) -> list[dict[str, object]]:
    """Trials in a fresh process per GIL mode (off and on where the build allows both)."""
    from nogilbench.sweep.launch import cell_environment  # not needed in the worker

    modes: list[bool | None] = [False, True] if interpreter.free_threaded_build else [None]
    rows: list[dict[str, object]] = []
    for gil in modes:
        command = [interpreter.path]
        if gil is not None:
            command += ["-X", f"gil={int(gil)}"]
        command += ["-m", "nogilbench.sweep.race", "--threads", str(threads)]
        command += ["--increments", str(increments), "--trials", str(trials)]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=600, check=False,
            env=cell_environment(), cwd=PROJECT_ROOT,
        )  # fmt: skip
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"race trials failed on {interpreter.path}: {last}")
        for trial in json.loads(done.stdout):
            rows.append({**trial, "gil_requested": gil, "interpreter": interpreter.version})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nogilbench.sweep.race")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--increments", type=int, default=200_000)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args(argv)
    trials = run_trials(args.threads, args.increments, args.trials)
    json.dump([asdict(trial) for trial in trials], sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
