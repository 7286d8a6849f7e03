"""Rounds: every cell of a group once, in a seeded shuffled order stored before the round
starts, each measurement committed as it is taken; then extra rounds for imprecise groups."""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from nogilbench.errors import SweepCancelled
from nogilbench.model import CellKey, GroupKey, cell_key
from nogilbench.results import summarize
from nogilbench.results.questions import (
    LEADERS,
    Question,
    cell_rounds,
    questions,
    settled,
    within_reach,
)
from nogilbench.store import repository
from nogilbench.store.models import Sweep
from nogilbench.sweep.config import SweepConfig
from nogilbench.sweep.disturbance import disturbance, least_disturbed
from nogilbench.sweep.launch import measure_once
from nogilbench.sweep.plan import Group, PlannedCell, unavailable_row
from nogilbench.sweep.scaling import plan_pinning

LEASE_TTL_S = 1800.0  # longer than any cell (cell timeout 900 s): renewed after each one


# on_cell(done, total, row): once with row=None before the first measurement, then once per
# measurement (one round of one cell); total grows when extra rounds are scheduled.
OnCell = Callable[[int, int, dict[str, Any] | None], None]


@dataclass
class Progress:
    """Rounds measured so far, for the on_cell callback (its total grows with extra rounds)."""

    done: int = 0
    total: int = 0
    callback: OnCell | None = None

    def step(self, row: dict[str, Any] | None) -> None:
        if row is not None:
            self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total, row)


class RoundRunner:
    """Runs rounds of groups for one sweep, skipping what is already stored."""

    def __init__(
        self, session: Session, sweep: Sweep, owner: str, progress: Progress,
        timeout_s: float, stop_event: threading.Event | None,
    ) -> None:  # fmt: skip
        assert sweep.id is not None
        self.session, self.sweep, self.sweep_id, self.owner = session, sweep, sweep.id, owner
        self.progress, self.timeout_s, self.stop_event = progress, timeout_s, stop_event
        self.measured = repository.measured_rounds(session, self.sweep_id)
        # kept beside `measured` so neither question scans every measurement of the sweep
        self.failed_keys = {key for (key, _), status in self.measured.items() if status != "ok"}
        self.rounds: dict[GroupKey, int] = {}
        for key, number in self.measured:
            group_key = (key[0], key[3])
            self.rounds[group_key] = max(self.rounds.get(group_key, 0), number + 1)
        self.pin = False
        self.measurements = self.remeasured = 0
        # each cell's ok rows so far: the evidence a disturbed measurement is judged against
        self.history: dict[CellKey, list[dict[str, Any]]] = {}
        for row in repository.measurements_of(session, self.sweep_id):
            if row["status"] == "ok":
                self.history.setdefault(cell_key(row), []).append(row)
        self.durations: dict[tuple[str, int], list[float]] = {}

    def rounds_done(self, group: Group) -> int:
        return self.rounds.get((group.workload, group.images), 0)

    def failed(self, cell: PlannedCell) -> bool:
        """A cell that errored or is unavailable is not measured again in this sweep."""
        return cell.key in self.failed_keys

    def pending(self, group: Group, number: int) -> int:
        return sum(
            (cell.key, number) not in self.measured and not self.failed(cell)
            for cell in group.cells
        )

    def order_seed(self, seed: int) -> str | int:
        """The seed of the rounds' orders: the sweep's own draw beside the image seed, so two
        runs of the same parameters put cells in different positions (None: an older sweep)."""
        drawn = self.sweep.order_seed
        return seed if drawn is None else f"{seed}:{drawn}"

    def run(
        self, group: Group, number: int, seed: int, order: list[list[Any]] | None = None
    ) -> None:
        """Round `number` of `group`: its stored order, else `order` (a focused round: some
        cells only), else a fresh shuffle of every cell; stored rounds are skipped."""
        proposed = order if order is not None else group.shuffled(self.order_seed(seed), number)
        order = repository.round_order(
            self.session, self.sweep_id, group.workload, group.images, number, proposed
        )
        started = time.perf_counter()
        for position, order_key in enumerate(order):
            cell = group.cell(order_key)
            if cell is None or (cell.key, number) in self.measured or self.failed(cell):
                continue
            if self.stop_event is not None and self.stop_event.is_set():
                raise SweepCancelled(f"sweep {self.sweep.name!r} was cancelled")
            row = unavailable_row(cell) if cell.interpreter is None else self._measure(cell)
            row.update(round=number, position=position)
            repository.save_measurement(self.session, self.sweep_id, row)
            self.measured[(cell.key, number)] = row["status"]
            if row["status"] != "ok":
                self.failed_keys.add(cell.key)
            else:
                self.history.setdefault(cell.key, []).append(row)
            name = (group.workload, group.images)
            self.rounds[name] = max(self.rounds.get(name, 0), number + 1)
            repository.acquire_lease(self.session, self.sweep, self.owner, LEASE_TTL_S)
            self.progress.step(row)
        self.durations.setdefault((group.workload, group.images), []).append(
            time.perf_counter() - started
        )

    def _measure(self, cell: PlannedCell) -> dict[str, Any]:
        """One measurement; taken once more at once when its own evidence says the machine
        was taken from it (`disturbance`), keeping the less disturbed of the two."""
        assert cell.interpreter is not None
        cpus = None
        if self.pin:  # sync uses one core whatever its workers setting
            workers = 1 if cell.spec.method == "sync" else cell.spec.workers
            cpus = plan_pinning(workers).cpus
        history = self.history.get(cell.key, [])
        row = measure_once(cell.spec, cell.interpreter, self.timeout_s, self.stop_event, cpus)
        reason = disturbance(row, history)
        self.measurements += 1
        # at most one measurement in ten is taken again: a host that is disturbed all the
        # time is what the report must describe, not what the budget should chase
        if reason is not None and self.remeasured < 1 + self.measurements // 10:
            self.remeasured += 1
            again = measure_once(cell.spec, cell.interpreter, self.timeout_s, self.stop_event, cpus)
            kept = least_disturbed(row, again) if again["status"] == "ok" else row
            dropped = again if kept is row else row
            kept["details"]["remeasured"] = {
                "reason": reason, "dropped_wall_s": dropped.get("wall_s"),
                "still": disturbance(kept, history),
            }  # fmt: skip
            row = kept
        row["details"]["gil_requested"] = cell.spec.gil_requested
        return row

    def round_cost(self, group: Group) -> float:
        """Seconds one more round of `group` is expected to take (0 if none ran here yet)."""
        spent = self.durations.get((group.workload, group.images))
        return statistics.median(spent) if spent else 0.0


def widest(results: list[Any], group: Group) -> float:
    """The widest relative interval among the group's measured cells (0 if none)."""
    widths = [
        max(r.wall_high_s / r.wall_median_s - 1, 1 - r.wall_low_s / r.wall_median_s)
        for r in results
        if r.workload == group.workload and r.images == group.images and r.status == "ok"
        and r.wall_median_s and r.wall_low_s is not None and r.wall_high_s is not None
    ]  # fmt: skip
    return max(widths, default=0.0)


def has_anomaly(results: list[Any], group: Group) -> bool:
    return any(
        r.anomaly for r in results if r.workload == group.workload and r.images == group.images
    )


def extra_rounds(
    runner: RoundRunner, config: SweepConfig, groups: list[Group], started: float
) -> None:
    """More rounds for imprecise groups (widest first) and one more for an anomaly."""
    remeasured: set[tuple[str, int]] = set()
    skipped: set[tuple[str, int]] = set()
    results = summarize.refresh_results(runner.session, runner.sweep_id)
    while True:
        wanted = []
        for group in groups:
            name = (group.workload, group.images)
            rounds = runner.rounds_done(group)
            anomaly = has_anomaly(results, group) and name not in remeasured
            width = widest(results, group)
            cap = config.max_rounds + (1 if anomaly else 0)
            if name in skipped or rounds >= cap or not (anomaly or width > config.target):
                continue
            wanted.append((not anomaly, -width, group))
        if not wanted:
            return
        _, _, group = min(wanted, key=lambda item: item[:2])
        name = (group.workload, group.images)
        elapsed = time.perf_counter() - started
        if config.budget_s is not None and elapsed + runner.round_cost(group) > config.budget_s:
            skipped.add(name)  # a cheaper group may still fit
            continue
        if has_anomaly(results, group):
            remeasured.add(name)
        runner.progress.total += runner.pending(group, runner.rounds_done(group))
        runner.run(group, runner.rounds_done(group), config.seed)
        # only this group's measurements changed: recompute its rows from them
        results = summarize.refresh_results(runner.session, runner.sweep_id, [name])


# ------------------------------------------------------------------ rounds for the questions


MAX = 10**9


def _focus_cost(runner: RoundRunner, cells: set[CellKey], group: Group) -> float:
    """Seconds a round of `cells` should take: their measurements' own durations so far."""
    spent = []
    for key in cells:
        rows = runner.history.get(key, [])
        durations = [row.get("cell_wall_s") for row in rows if row.get("cell_wall_s")]
        if durations:
            spent.append(statistics.median(durations))
    if spent:
        return sum(spent) * len(cells) / len(spent)
    return runner.round_cost(group) * len(cells) / max(len(group.cells), 1)


def focus_rounds(
    runner: RoundRunner,
    config: SweepConfig,
    groups: list[Group],
    started: float,
    cores: int,
    labels: tuple[str | None, str | None],
    guaranteed: int = 0,
    limit: int | None = None,
) -> list[Question]:
    """Rounds of only the cells of the report's undecided questions, until every question is
    settled, its cells have `max_rounds` rounds, or the time budget ends; returns the
    questions left unsettled. A group with fewer than `guaranteed` rounds gets its passes
    whatever the budget: two rounds give a t interval one degree of freedom, which no
    sentence can use, so a slow host makes the sweep longer rather than its answers empty.
    `limit`: stop at this many rounds of a group (the guaranteed passes come before the other
    groups' rounds; the rest of the budget after them).

    Each pass measures one workload's question cells twice: once in a fresh shuffled order
    and once in the mirror of that order, so a drift of the host's speed within the pass
    falls on both sides of every pair alike (the cells of a pass are seconds apart, within
    one of the host's speed states more often than a whole group's round).
    """
    by_group = {(group.workload, group.images): group for group in groups}
    skipped: set[tuple[str, int]] = set()
    while True:
        results = summarize.refresh_results(runner.session, runner.sweep_id)
        rounds = cell_rounds(results)
        open_questions = [
            question
            for question in questions(results, cores, *labels)
            if not settled(question, rounds)
        ]
        wanted: dict[tuple[str, int], set[CellKey]] = {}
        leading: set[tuple[str, int]] = set()  # groups whose leading tier is still open
        for question in open_questions:
            name = (question.workload, question.images)
            reachable = within_reach(question, rounds, config.max_rounds or 0)
            if name in by_group and name not in skipped and reachable:
                wanted.setdefault(name, set()).update(question.all_cells)
                if question.kind == LEADERS:
                    leading.add(name)
        wanted = {
            name: cells
            for name, cells in wanted.items()
            if runner.rounds_done(by_group[name]) + 2 <= min(limit or MAX, config.max_rounds or 0)
        }
        if not wanted:
            return open_questions
        # an open leading tier first (the question the report is for), then the group whose
        # cells have had the fewest rounds
        name = min(
            wanted,
            key=lambda group_name: (
                group_name not in leading,
                runner.rounds_done(by_group[group_name]),
            ),
        )
        group, cells = by_group[name], wanted[name]
        cost = 2 * _focus_cost(runner, cells, group)
        elapsed = time.perf_counter() - started
        owed = runner.rounds_done(group) < guaranteed
        if not owed and config.budget_s is not None and elapsed + cost > config.budget_s:
            skipped.add(name)  # another workload's pass may still fit
            continue
        focus = [cell.order_key for cell in group.cells if cell.key in cells]
        number = runner.rounds_done(group)
        forward = [focus[i] for i in random.Random(
            f"{runner.order_seed(config.seed)}:focus:{group.workload}:{group.images}:{number}"
        ).sample(range(len(focus)), len(focus))]  # fmt: skip
        for offset, order in enumerate((forward, forward[::-1])):
            runner.progress.total += len(order)
            runner.run(group, number + offset, config.seed, order)
