"""`nogilbench race`: a shared counter without and with a lock, GIL off and on."""

from __future__ import annotations

import argparse
import json
import sys

from nogilbench.cli.output import console
from nogilbench.errors import InvalidParameter


def run(args: argparse.Namespace) -> int:
    from nogilbench.host.interpreters import InterpreterUnavailable, current, find_free_threaded
    from nogilbench.sweep.race import VARIANTS, race_demo

    for name in ("threads", "increments", "trials"):
        if getattr(args, name) < 1:
            raise InvalidParameter(f"--{name} must be at least 1")
    if args.threads > 256:
        raise InvalidParameter("--threads must be at most 256")
    try:
        interpreter = find_free_threaded()
    except InterpreterUnavailable as exc:
        print(
            f"free-threaded interpreter unavailable ({exc.reason}); GIL build only", file=sys.stderr
        )
        interpreter = current()
    rows = race_demo(interpreter, args.threads, args.increments, args.trials)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.table import Table

    table = Table(
        title=f"Lost updates: {args.threads} threads x {args.increments:,} increments, "
        f"{args.trials} trials on {interpreter.path} ({interpreter.version})"
    )
    for column in ("GIL", "variant", "expected", "lost per trial", "lost (mean %)"):
        table.add_column(column)
    for gil in dict.fromkeys(row["gil_requested"] for row in rows):
        observed = next(row["gil_enabled"] for row in rows if row["gil_requested"] == gil)
        for variant in VARIANTS:
            trials = [r for r in rows if r["gil_requested"] == gil and r["variant"] == variant]
            lost = [int(r["lost"]) for r in trials]
            share = 100 * sum(lost) / sum(int(r["expected"]) for r in trials)
            table.add_row(
                "on" if observed else "off", variant, f"{trials[0]['expected']:,}",
                ", ".join(f"{value:,}" for value in lost), f"{share:.2f}",
            )  # fmt: skip
    console().print(table)
    return 0
