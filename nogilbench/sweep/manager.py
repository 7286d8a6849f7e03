"""A sweep: the matrix of cells, measured in interleaved rounds, stored as it goes.

Cells that are compared with each other (one workload and image count: every method, worker
count and interpreter) form a group. A round runs every cell of a group once, each in a
fresh process, in a seeded shuffled order that is stored before the round starts; slow
minutes on a noisy host then fall on every method alike, and speedups are paired by round.
After the minimum number of rounds, groups whose cells' intervals are still wider than the
target get more rounds (widest first, up to a cap, within a time budget), and a group with
a physically impossible speedup is measured once more.

Every measurement is committed as it is taken and keyed by (cell, round), so a sweep killed
at any moment resumes where it stopped and never measures a round twice. One process at a
time measures a sweep (a lease in the store), and a resume on another host, interpreter or
commit is refused.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from nogilbench.host.interpreters import (
    host_info,
    usable_cores,
)
from nogilbench.host.noise import speed_state
from nogilbench.imaging.samples import generate_images
from nogilbench.paths import PROJECT_ROOT
from nogilbench.results import summarize
from nogilbench.store import repository
from nogilbench.sweep.config import ADDED_PARAMETERS, SweepConfig
from nogilbench.sweep.launch import DEFAULT_CELL_TIMEOUT_S, interpreter_label
from nogilbench.sweep.plan import Interpreters, group_cells, plan
from nogilbench.sweep.provenance import git_commit, library_versions
from nogilbench.sweep.rounds import (
    LEASE_TTL_S,
    OnCell,
    Progress,
    RoundRunner,
    extra_rounds,
    focus_rounds,
)

DEFAULT_IMAGE_DIR = PROJECT_ROOT / "data" / "images"
SPEED_PROBE_S = 8.0  # the host's speed-state probe before a new sweep's first round
GUARANTEED_FOCUS_ROUNDS = 4  # two mirrored passes over the questions' cells, budget or not


def run_sweep(
    config: SweepConfig,
    engine: Engine,
    *,
    on_cell: OnCell | None = None,
    interpreters: Interpreters | None = None,
    image_dir: Path = DEFAULT_IMAGE_DIR,
    cell_timeout_s: float = DEFAULT_CELL_TIMEOUT_S,
    stop_event: threading.Event | None = None,
    retry_errors: bool = False,
) -> int:
    """Run (or resume) the sweep `config.name`; return its id. Ctrl-C keeps every finished
    measurement; `stop_event` (set from another thread) kills the running cell and raises
    SweepCancelled; `retry_errors` measures failed (error, timeout) rounds again."""
    config.validate()
    started = time.perf_counter()
    interpreters = interpreters or Interpreters.discover(config.baseline)
    size_dir = image_dir / f"{config.image_size[0]}x{config.image_size[1]}"
    paths = [
        str(path)
        for path in generate_images(
            size_dir, max(config.image_counts()), config.image_size, config.seed, stop_event
        )
    ]
    cores = usable_cores()
    cells = plan(config, paths, interpreters, cores)
    # the headline groups (largest image count) first: the report's sentences are about them
    groups = sorted(group_cells(cells), key=lambda group: -group.images)
    owner = f"pid {os.getpid()} on {socket.gethostname()}"
    with Session(engine) as session:
        host = host_info()
        adaptive = config.budget_s != 0 and (config.max_rounds or 0) > config.repeats
        if adaptive and repository.get_sweep_by_name(session, config.name) is None:
            # how long the host's speed states last, once, before the first round
            host["speed_state"] = speed_state(SPEED_PROBE_S)
        sweep = repository.start_or_resume_sweep(
            session,
            config.name,
            config.parameters(),
            host=host,
            interpreters=interpreters.as_list(),
            library_versions=library_versions(),
            git_commit=git_commit(),
            cell_count=len(cells),
            order_seed=secrets.randbelow(2**62),  # kept when the sweep is resumed
            parameter_defaults=ADDED_PARAMETERS,
        )
        if sweep.status == "completed" and not retry_errors:
            summarize.refresh_results(session, sweep.id)  # type: ignore[arg-type]
            measured = len(repository.measurements_of(session, sweep.id))  # type: ignore[arg-type]
            if on_cell is not None:
                on_cell(measured, measured, None)
            return sweep.id  # type: ignore[return-value]
        repository.acquire_lease(session, sweep, owner, LEASE_TTL_S)
        try:
            if retry_errors:
                repository.forget_errors(session, sweep.id)  # type: ignore[arg-type]
            progress = Progress(callback=on_cell)
            runner = RoundRunner(session, sweep, owner, progress, cell_timeout_s, stop_event)
            runner.pin = config.pin
            beyond = sum(1 for _, number in runner.measured if number >= config.repeats)
            progress.total = beyond + sum(len(group.cells) * config.repeats for group in groups)
            progress.done = progress.total - sum(
                runner.pending(group, number)
                for group in groups
                for number in range(config.repeats)
            )
            progress.step(None)
            labels = (
                interpreter_label(interpreters.main),
                interpreter_label(interpreters.baseline)
                if config.baseline and interpreters.baseline
                else None,
            )
            # The report's questions are about the largest image count of each workload:
            # those groups, then passes over the questions' cells (a guaranteed minimum),
            # then every other group, then more passes while the budget lasts.
            most: dict[str, int] = {}
            for group in groups:
                most[group.workload] = max(most.get(group.workload, 0), group.images)
            headline = [group for group in groups if group.images == most[group.workload]]
            others = [group for group in groups if group not in headline]
            guaranteed = config.repeats + GUARANTEED_FOCUS_ROUNDS if config.budget_s != 0 else 0
            for part, limit in ((headline, guaranteed), (others, None)):
                for number in range(config.repeats):
                    for group in part:
                        runner.run(group, number, config.seed)
                focus_rounds(runner, config, headline, started, cores, labels, guaranteed, limit)
            extra_rounds(runner, config, groups, started)
        except BaseException:
            session.rollback()
            summarize.refresh_results(session, sweep.id)  # type: ignore[arg-type]
            repository.finish_sweep(session, sweep, "interrupted")
            repository.release_lease(session, sweep, owner)
            raise
        summarize.refresh_results(session, sweep.id)  # type: ignore[arg-type]
        repository.finish_sweep(session, sweep, "completed")
        repository.release_lease(session, sweep, owner)
        return sweep.id  # type: ignore[return-value]
