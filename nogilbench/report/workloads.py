"""Which model when, per kind of work: CPU-bound (the main sweep's image workloads), waiting on
I/O, mixed, shared state, moving data, and a user's own workloads (the workloads sweep,
`notebooks/params/workloads.yaml`, stored in the same database as the main sweep).

Every verdict comes from `results.decisions` through the report's questions
(`results.questions`): the candidates at a workload's headline point are one `leader_set`
family; a comparison with sync is read off that family (`LeaderSet.decision`), so a sentence
can never contradict the set. The only choice made here is the headline point of work that
waits: the cores do not bound its useful workers, so its point is the most workers measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlmodel import Session

from nogilbench.concurrency.upstream import LATENCY_S
from nogilbench.report.conclusions.common import (
    main_of,
    name_of,
    questions_of,
    rounds_of,
    row_of,
    wall_text,
    workers_text,
)
from nogilbench.report.conclusions.findings import leaders_of
from nogilbench.report.data import SweepData, load_sweeps, ok_rows, resolve_database_url
from nogilbench.results.decisions import EQUIVALENCE_MARGIN, LeaderSet, level_text
from nogilbench.results.questions import LEADERS, Question
from nogilbench.store import repository
from nogilbench.store.models import Sweep

IMAGE_WORKLOADS = ("pillow", "pure-python")  # the main sweep's CPU-bound pair
WORKLOADS_PARAMS = "notebooks/params/workloads.yaml"
HOW_TO = (
    "No workloads sweep in this database yet. It is kept apart from the default sweep so "
    "`make report` stays within its 15 minutes; to add it (320 measurements, about 15 minutes "
    "on 2 busy cores): "
    "`papermill notebooks/matrix.ipynb reports/workloads.ipynb -f "
    f"{WORKLOADS_PARAMS}` (same database), then render the report again."
)


@dataclass(frozen=True)
class Kind:
    """A kind of work and the built-in workloads that stand for it."""

    title: str
    workloads: tuple[str, ...]
    waits: bool  # useful workers go well past the cores (the headline point: the most measured)


KINDS = (
    Kind("CPU-bound", IMAGE_WORKLOADS, False),
    Kind("Waiting on I/O", ("io",), True),
    Kind("Mixed", ("mixed",), True),
    Kind("Shared state", ("shared-dict", "shared-lock", "shared-list", "share-nothing"), False),
    Kind("Moving data", ("transfer-path", "transfer-pickle", "transfer-shm"), False),
)
USER_KIND = Kind("Your own workloads", (), False)
BUILTIN = {name for kind in KINDS for name in kind.workloads}
# What one item of each built-in workload does (each row of the kinds table says its own).
WHAT_ONE_ITEM_DOES = {
    "pillow": "decode one image, resize, blur, sharpen, watermark, encode it as JPEG: Pillow's "
    "C code, which releases the GIL for most of it",
    "pure-python": "decode and downscale one image with Pillow, then a 3x3 convolution written "
    "in Python over its grey pixels: the GIL serialises that part",
    "io": f"a GET from a loopback upstream that answers after {LATENCY_S * 1000:g} ms, then a "
    "hash of the body: the wait is the work",
    "mixed": "GET one image over HTTP, then the Pillow pipeline on it",
    "shared-dict": "a loop that reads and writes one dict every thread shares",
    "shared-lock": "a loop that increments one counter under one lock every thread shares",
    "shared-list": "a loop that appends to, reads and pops from one list every thread shares",
    "share-nothing": "the shared-dict loop on a dict of the item's own (the baseline: nothing "
    "shared)",
    "transfer-path": "the worker reads an image's pixels from a file (the item is its path), "
    "then hashes them",
    "transfer-pickle": "the item is an image's pixels as bytes (pickled through a process "
    "pool's pipe, a reference for threads), hashed by the worker",
    "transfer-shm": "the worker maps an image's pixels from a shared-memory block (the item is "
    "its name), then hashes them",
}
USER_WHAT = "a user's workload, given as module:function or an entry point"


def what_one_item_does(workload: str) -> str:
    return WHAT_ONE_ITEM_DOES.get(workload, USER_WHAT)


def kind_of(workload: str) -> Kind:
    """The kind a workload stands for; anything not built in is a user's own."""
    for kind in KINDS:
        if workload in kind.workloads:
            return kind
    return USER_KIND


def is_workloads_sweep(sweep: Sweep) -> bool:
    """A sweep that measured more than the main sweep's image pair."""
    named = (sweep.parameters or {}).get("workloads") or []
    return any(name not in IMAGE_WORKLOADS for name in named)


def find_workloads_sweep(database_url: str | None, loaded: Sequence[SweepData]) -> SweepData | None:
    """The workloads sweep of this report: one of the loaded sweeps, else the newest stored in
    the same database; None when there is none."""
    for data in loaded:
        if is_workloads_sweep(data.sweep):
            return data
    engine = repository.open_store(resolve_database_url(database_url))
    try:
        with Session(engine) as session:
            stored = [s.name for s in repository.list_sweeps(session) if is_workloads_sweep(s)]
    finally:
        engine.dispose()
    return load_sweeps(database_url, [stored[-1]])[0] if stored else None


def main_sweeps(loaded: Sequence[SweepData]) -> list[SweepData]:
    """The loaded sweeps that are not workloads sweeps (the CPU-bound pair)."""
    return [data for data in loaded if not is_workloads_sweep(data.sweep)]


@dataclass(frozen=True)
class KindAnswer:
    """One workload's leaders at its headline point, in the sweep that measured it."""

    kind: Kind
    sweep: str
    question: Question
    found: LeaderSet
    frame: pd.DataFrame


def answers(sweeps: Sequence[SweepData]) -> list[KindAnswer]:
    """The leader set of every workload of every sweep, ordered by kind (KINDS, then a user's)."""
    found: list[KindAnswer] = []
    for data in sweeps:
        frame = data.frame()
        rounds = rounds_of(frame)
        for workload in dict.fromkeys(ok_rows(frame)["workload"]):
            kind = kind_of(workload)
            mine = frame[frame["workload"] == workload]
            cores = data.cores
            if kind.waits:  # the waits overlap well past the cores: the most workers measured
                cores = max(int(w) for w in ok_rows(mine)["workers"])
            for question in questions_of(mine, cores):
                if question.kind != LEADERS:
                    continue
                leaders = leaders_of(question, rounds)
                if leaders is not None:
                    found.append(KindAnswer(kind, data.name, question, leaders, frame))
    order = [*KINDS, USER_KIND]
    return sorted(found, key=lambda answer: order.index(answer.kind))


def _leaders_text(answer: KindAnswer) -> str:
    found, main = answer.found, main_of(answer.frame)
    names = [f"{name_of(name, main)} ({found.times[name]:.3f} s)" for name in found.leaders]
    if found.winner is not None:
        head = (
            f"the fastest was {names[0]}; every other one was slower than one of the others "
            f"by more than the {EQUIVALENCE_MARGIN:.0%} margin"
        )
    elif found.decided:
        head = f"lead: {', '.join(names)}, within {EQUIVALENCE_MARGIN:.0%} of each other"
    elif len(found.leaders) == len(found.order):
        head = f"this run cannot tell the {len(found.order)} configurations apart"
    else:
        head = f"lead: {', '.join(names)}; this run cannot order them, every other was slower"
    return (
        f"{head} (geometric means over {found.rounds} shared rounds; every pair of the "
        f"{len(found.order)} in one Holm family of {found.family} at "
        f"{level_text(1 - found.alpha)} family-wise)"
    )


def versus_sync(answer: KindAnswer) -> list[str]:
    """Each leader, and asyncio on the loop wherever it ran, against sync of the main build,
    on the family's own intervals (`Decision.sentence`)."""
    found, main = answer.found, main_of(answer.frame)
    sync = next((name for name in found.order if name == ("sync", main)), None)
    if sync is None:
        return []
    shown = [name for name in found.leaders if name != sync]
    if not shown:  # sync alone leads: say by how much each model lost to it
        shown = [name for name in found.order if name != sync]
    shown += [n for n in found.order if n[0] == "asyncio-loop" and n not in shown]
    return [found.decision(name, sync).sentence(name_of(name, main), "sync") for name in shown]


def _waiting_text(answer: KindAnswer) -> str:
    """'32 items wait 20 ms each: 0.64 s of waiting in all; sync took ...'."""
    question, main = answer.question, main_of(answer.frame)
    waits = question.images * LATENCY_S
    sync = row_of(answer.frame, question.cells[("sync", main)]) if (
        ("sync", main) in question.cells
    ) else None  # fmt: skip
    text = (
        f"{question.images} items wait {LATENCY_S * 1000:g} ms each upstream: {waits:.2f} s of "
        "waiting in all"
    )
    if sync is not None:
        text += f"; sync took {wall_text(sync)}"
    for name in answer.found.leaders:
        cell = row_of(answer.frame, question.cells[name])
        if cell is not None and name[0] != "sync":
            text += f"; {name_of(name, main)} {wall_text(cell)}"
    return text


def kind_lines(found: Sequence[KindAnswer], several: bool = False) -> list[str]:
    """Markdown lines: per kind, per workload, who leads and how the leaders compare with sync."""
    lines = []
    for answer in found:
        q = answer.question
        where = f", sweep {answer.sweep}" if several else ""
        line = (
            f"**{answer.kind.title}**, {q.workload} ({q.images} items, "
            f"{workers_text(q.workers)}{where}): {_leaders_text(answer)}."
        )
        compared = versus_sync(answer)
        if compared:
            line += " " + "; ".join(compared) + "."
        if answer.kind.waits:
            line += " " + _waiting_text(answer) + "."
        lines.append(line)
    return lines


def kinds_frame(found: Sequence[KindAnswer]) -> pd.DataFrame:
    """One row per workload: its kind, what it does, the point and the leaders (a summary)."""
    rows = []
    for answer in found:
        main = main_of(answer.frame)
        rows.append({
            "kind of work": answer.kind.title, "workload": answer.question.workload,
            "what one item does": what_one_item_does(answer.question.workload),
            "items": answer.question.images,
            "workers": answer.question.workers,
            "leaders": ", ".join(name_of(name, main) for name in answer.found.leaders),
            "configurations compared": len(answer.found.order),
        })  # fmt: skip
    return pd.DataFrame(rows)
