"""Which model when per kind of work, the pros and cons table and the limits of free-threaded
Python, on tiny synthetic sweeps summarised as a sweep summarises them (tests.support.results)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from nogilbench.report import limits, proscons, sharing
from nogilbench.report import workloads as kinds
from nogilbench.report.data import SweepData
from nogilbench.results.decisions import leader_set
from nogilbench.results.questions import cell_rounds
from nogilbench.store import repository
from nogilbench.store.hostfacts import GIL_SCAN, RACE, host_fact, record_host_fact
from nogilbench.store.models import Sweep
from tests.support.results import DEFAULT, FT, make_rows

N = 100  # items per cell
USER = "mymod:make_workload"


def _walls(workload: str, per_method: dict[str, dict[int, float]]) -> dict:
    return {(workload, m, w, N): wall for m, by in per_method.items() for w, wall in by.items()}


def _race_rows() -> list[dict[str, Any]]:
    rows = []
    for gil, lost in ((False, 1500), (True, 0)):
        for trial in range(2):
            for variant in ("unsafe", "locked", "per-thread"):
                rows.append({
                    "variant": variant, "trial": trial, "threads": 4, "increments": 1000,
                    "expected": 4000, "final": 4000 - (lost if variant == "unsafe" else 0),
                    "lost": lost if variant == "unsafe" else 0, "seconds": 0.01,
                    "gil_enabled": gil, "gil_requested": gil, "interpreter": "3.13.5",
                })  # fmt: skip
    return rows


SCAN = {
    "python": "/ft/bin/python",
    "rows": [
        {"distribution": "numpy", "version": "2.4", "module": "numpy", "gil_enabled": False,
         "warning": None, "failed": []},
        {"distribution": "badext", "version": "0.1", "module": "badext", "gil_enabled": True,
         "warning": "The global interpreter lock (GIL) has been enabled", "failed": []},
    ],
}  # fmt: skip


def _sweep(name: str, workloads: list[str], host: dict[str, Any] | None = None) -> Sweep:
    parameters = {"workloads": workloads, "image_size": [960, 640]}
    return Sweep(name=name, parameters=parameters, host={"usable_cores": 2, **(host or {})})


@pytest.fixture(scope="module")
def main_sweep() -> SweepData:
    walls = _walls("pure-python", {"sync": {1: 10.0}, "threading": {1: 10.0, 2: 10.0},
                                   "free-threaded": {1: 10.0, 2: 5.5}})  # fmt: skip
    rows = make_rows(walls, baseline={("pure-python", N): 8.0})
    return SweepData(_sweep("main", ["pure-python"]), rows)


@pytest.fixture(scope="module")
def workloads_sweep() -> SweepData:
    walls: dict = {}
    walls |= _walls("io", {"sync": {1: 2.0}, "asyncio-loop": {1: 2.0, 16: 0.140},
                           "free-threaded": {1: 2.0, 16: 0.141},
                           "threading": {1: 2.0, 16: 0.3}})  # fmt: skip
    walls |= _walls("pure-python", {"sync": {1: 10.0}, "asyncio-loop": {1: 11.0, 2: 11.0},
                                    "free-threaded": {1: 10.0, 2: 5.5}})  # fmt: skip
    walls |= _walls("shared-dict", {"sync": {1: 1.0}, "free-threaded": {1: 1.0, 2: 5.0}})
    walls |= _walls("share-nothing", {"sync": {1: 1.0}, "free-threaded": {1: 1.0, 2: 0.55}})
    walls |= _walls("transfer-path", {"sync": {1: 3.2}, "multiprocessing": {1: 3.2}})
    walls |= _walls("transfer-pickle", {"sync": {1: 3.2}, "multiprocessing": {1: 3.6}})
    walls |= _walls(USER, {"sync": {1: 4.0}, "free-threaded": {1: 4.0, 2: 2.1}})
    rows = make_rows(walls)
    measured = [
        {"workload": "transfer-pickle", "method": "multiprocessing", "workers": 1,
         "interpreter": FT, "status": "ok",
         "details": {"workload": {"receive_ms_per_item": receive, "work_ms_per_item": 1.0}}}
        for receive in (0.1, 0.2, 0.3)
    ]  # fmt: skip
    host = {RACE: {"threads": 4, "increments": 1000, "trials": 2, "rows": _race_rows()},
            GIL_SCAN: SCAN}  # fmt: skip
    sweep = _sweep("workloads", sorted({key[0] for key in walls}), host)
    return SweepData(sweep, rows, measured)


@pytest.fixture(scope="module")
def found(main_sweep: SweepData, workloads_sweep: SweepData) -> list[kinds.KindAnswer]:
    return kinds.answers([main_sweep, workloads_sweep])


def _answer(found: list[kinds.KindAnswer], sweep: str, workload: str) -> kinds.KindAnswer:
    return next(a for a in found if a.sweep == sweep and a.question.workload == workload)


def test_workloads_fall_into_their_kinds_and_a_users_own_is_its_own_kind() -> None:
    assert kinds.kind_of("pillow").title == "CPU-bound"
    assert kinds.kind_of("io").waits and kinds.kind_of("mixed").waits
    assert kinds.kind_of("share-nothing").title == "Shared state"
    assert kinds.kind_of("transfer-shm").title == "Moving data"
    assert kinds.kind_of(USER) is kinds.USER_KIND
    assert not kinds.is_workloads_sweep(_sweep("a", ["pillow", "pure-python"]))
    assert kinds.is_workloads_sweep(_sweep("b", ["pure-python", USER]))


def test_answers_are_ordered_by_kind_and_use_the_one_leader_rule(
    found: list[kinds.KindAnswer], workloads_sweep: SweepData
) -> None:
    titles = [answer.kind.title for answer in found]
    order = [kind.title for kind in (*kinds.KINDS, kinds.USER_KIND)]
    assert titles == sorted(titles, key=order.index)
    assert titles[-1] == kinds.USER_KIND.title
    io = _answer(found, "workloads", "io")
    assert io.question.workers == 16  # waiting work: the most workers measured, not the cores
    rounds = cell_rounds(workloads_sweep.results)
    direct = leader_set({name: rounds[key] for name, key in io.question.cells.items()})
    assert io.found.leaders == direct.leaders
    assert {method for method, _ in io.found.leaders} == {"asyncio-loop", "free-threaded"}
    cpu = _answer(found, "workloads", "pure-python")
    assert cpu.question.workers == 2  # CPU work: the most workers within the cores


def test_kind_lines_state_leaders_versus_sync_with_levels(found: list[kinds.KindAnswer]) -> None:
    lines = kinds.kind_lines(found)
    io = next(line for line in lines if "**Waiting on I/O**, io" in line)
    assert "asyncio on the loop was" in io and "faster than sync" in io
    assert "100 items wait 20 ms each upstream: 2.00 s of waiting in all" in io
    assert "%)" in io  # every interval states its level
    cpu = next(line for line in lines if "**CPU-bound**, pure-python" in line
               and "asyncio on the loop" in line)  # fmt: skip
    assert "asyncio on the loop was" in cpu and "slower than sync" in cpu
    assert any(USER in line and "Your own workloads" in line for line in lines)
    table = kinds.kinds_frame(found)
    assert list(table["workload"]).count("pure-python") == 2  # main and workloads sweeps


def test_each_row_of_the_kinds_table_describes_its_own_workload(
    found: list[kinds.KindAnswer],
) -> None:
    assert set(kinds.WHAT_ONE_ITEM_DOES) == kinds.BUILTIN  # every built-in workload has one
    texts = list(kinds.WHAT_ONE_ITEM_DOES.values())
    assert len(set(texts)) == len(texts)  # and no two share it (the CPU-bound pair included)
    assert "Pillow's C code" in kinds.what_one_item_does("pillow")
    assert "in Python" in kinds.what_one_item_does("pure-python")
    table = kinds.kinds_frame(found)
    by_workload = table.groupby("workload")["what one item does"]
    assert (by_workload.nunique() == 1).all()  # one workload, one text, in every sweep
    assert by_workload.first().is_unique
    user = table[table["workload"] == USER].iloc[0]
    assert user["what one item does"] == kinds.USER_WHAT


def test_contention_threads_on_a_shared_dict_lose_to_sync_share_nothing_wins(
    workloads_sweep: SweepData,
) -> None:
    decided = sharing.contention_decisions(workloads_sweep)
    assert decided[("shared-dict", "free-threaded")][1].outcome == "slower"
    assert decided[("share-nothing", "free-threaded")][1].outcome == "faster"
    lines = sharing.contention_lines(workloads_sweep)
    assert any(line.startswith("shared-dict:") and "slower than sync" in line for line in lines)


def test_transfer_costs_per_item_over_a_path(workloads_sweep: SweepData) -> None:
    table = sharing.transfer_frame(workloads_sweep)
    pickled = table[(table["workload"] == "transfer-pickle")
                    & (table["method"] == "multiprocessing")].iloc[0]  # fmt: skip
    assert 3.5 < pickled["over a path (ms per item)"] < 4.5  # 3.6 s vs 3.2 s over 100 items
    assert pickled["receive per item (ms)"] == pytest.approx(0.2)
    lines = sharing.transfer_lines(workloads_sweep)
    assert any("transfer-pickle with multiprocessing" in line for line in lines)
    assert "960x640" in lines[-1]


def _moving_sweep(receives: dict[str, float]) -> SweepData:
    """Path, pickle and shared memory with sync and multiprocessing; each transfer's stored
    receive step per item (ms) in the multiprocessing measurements."""
    walls: dict = {}
    extras = {"transfer-path": 0.0, "transfer-pickle": 0.4, "transfer-shm": 0.1}
    for workload, extra in extras.items():
        walls |= _walls(workload, {"sync": {1: 3.2}, "multiprocessing": {1: 3.2 + extra}})
    measured = [
        {"workload": workload, "method": "multiprocessing", "workers": 1, "interpreter": FT,
         "status": "ok", "details": {"workload": {"receive_ms_per_item": receive}}}
        for workload, receive in receives.items()
    ]  # fmt: skip
    return SweepData(_sweep("moving", sorted(receives)), make_rows(walls), measured)


def test_transfer_lines_state_a_zero_or_tiny_receive_step_and_leave_sync_out() -> None:
    lines = sharing.transfer_lines(_moving_sweep({"transfer-pickle": 0.0, "transfer-shm": 0.004}))
    pickled = next(line for line in lines if line.startswith("transfer-pickle with multi"))
    assert "no receive step in the worker" in pickled and "0.00 ms" not in pickled
    shm = next(line for line in lines if line.startswith("transfer-shm with multi"))
    assert "receive step under 0.01 ms" in shm and "0.00 ms" not in shm
    # sync hands nothing to another thread or process: no transfer cost is stated for it.
    assert not any(" with sync " in line for line in lines)
    assert sharing.SYNC_MOVES_NOTHING in lines[-1]
    measured = sharing.transfer_lines(_moving_sweep({"transfer-shm": 0.25}))
    assert any("the worker's own receive step 0.25 ms" in line for line in measured)


def test_pros_and_cons_one_row_per_model_every_cell_measured_or_said_missing(
    found: list[kinds.KindAnswer], main_sweep: SweepData, workloads_sweep: SweepData
) -> None:
    table = proscons.pros_cons_frame(found, workloads_sweep, [main_sweep])
    assert table["model"].is_unique
    rows = table.set_index("model")
    free = rows.loc["free-threaded (GIL off)"]
    assert (
        "pure-python" in free["speed, CPU-bound (x sync)"]
        and "x [" in free["speed, CPU-bound (x sync)"]
    )
    assert "io:" in free["speed, waiting on I/O (x sync)"]
    assert "lost updates in 2 of 2 trials" in free["safety (race demo)"]
    assert free["peak memory (PSS, MiB)"] == "pure-python: 40"
    moving = "moving a 960x640 image (ms per item over a path)"
    assert rows.loc["multiprocessing", moving].startswith("pickle +")
    assert rows.loc["sync", moving] == sharing.SYNC_MOVES_NOTHING  # no pickle cost for sync
    assert rows.loc["free-threaded (GIL off)", moving] == proscons.MISSING
    assert "does not apply" in rows.loc["multiprocessing", "safety (race demo)"]
    assert "no update lost" in rows.loc["threading (GIL on)", "safety (race demo)"]
    assert not table.isna().any().any()


def test_limits_from_what_was_stored(main_sweep: SweepData, workloads_sweep: SweepData) -> None:
    lines = limits.limits_lines(main_sweep, workloads_sweep)
    text = "\n".join(lines)
    assert "Single-thread cost of the free-threaded build on pure-python" in text
    assert DEFAULT in text
    assert "1 of 2 extension modules kept the GIL off" in text and "badext" in text
    assert "the GIL hid the race" in text
    assert "shared-dict:" in text
    bare = limits.limits_lines(None, None)
    assert any("not stored" in line for line in bare)
    assert any("no shared-state workload" in line for line in bare)


def test_the_workloads_sweep_is_found_in_the_store_and_facts_are_stored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    engine = repository.open_store(url)
    with Session(engine) as session:
        session.add(_sweep("main", ["pillow", "pure-python"]))
        session.commit()
    assert kinds.find_workloads_sweep(url, []) is None
    with Session(engine) as session:
        session.add(_sweep("workloads", ["io", "share-nothing"]))
        session.commit()
    record_host_fact(engine, "workloads", RACE, {"rows": []})
    found = kinds.find_workloads_sweep(url, [])
    assert found is not None and found.name == "workloads"
    assert host_fact(found.sweep.host, RACE) == {"rows": []}
    assert found.sweep.host["usable_cores"] == 2  # the rest of the host record kept
