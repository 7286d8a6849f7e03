"""`nogilbench sweep --help` names every built-in workload (by kind) and every method."""

from __future__ import annotations

from nogilbench.cli.parser import build_parser
from nogilbench.concurrency.runners import ALL_METHODS
from nogilbench.concurrency.workloads import BUILTIN_NAMES


def test_sweep_help_lists_the_kinds_of_work_and_every_method(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # no line breaks inside hyphenated names
    parser = build_parser()
    sweep = next(
        action.choices["sweep"] for action in parser._actions if getattr(action, "choices", None)
    )
    text = " ".join(sweep.format_help().split())
    for name in BUILTIN_NAMES:
        assert name in text, name
    for method in ALL_METHODS:
        assert method in text, method
    for kind in ("CPU-bound", "waiting on I/O", "shared state", "moving data", "module:function"):
        assert kind in text, kind
