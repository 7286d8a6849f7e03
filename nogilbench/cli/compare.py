"""`nogilbench compare A B`: two stored sweeps cell by cell; exit 1 on a regression (--fail-on)."""

from __future__ import annotations

import argparse
import json

from nogilbench.cli.output import console
from nogilbench.cli.stored import results_of
from nogilbench.errors import InvalidParameter


def run(args: argparse.Namespace) -> int:
    from rich.table import Table

    from nogilbench.results.compare import compare_sweeps, regressions, summary_line

    a_rows = results_of(args.database_url, args.a)
    b_rows = results_of(args.database_url_b or args.database_url, args.b)
    compared = compare_sweeps(a_rows, b_rows, relative=args.relative)
    if not compared:
        raise InvalidParameter(f"sweeps {args.a!r} and {args.b!r} have no measured cell in common")
    failing = regressions(compared, args.fail_on) if args.fail_on is not None else []
    if args.json:
        print(json.dumps({"a": args.a, "b": args.b, "relative": args.relative,
                          "cells": [c.as_dict() for c in compared],
                          "regressions": [c.as_dict() for c in failing]}, indent=2))  # fmt: skip
    else:
        out = console()
        what = "(time / sync time)(B) / (same)(A)" if args.relative else "time(B) / time(A)"
        table = Table(title=f"{args.b} vs {args.a}: {what}, 95% interval")
        for column in ("workload", "method", "build", "workers", "images", "A (s)", "B (s)",
                       "B / A", "verdict"):  # fmt: skip
            table.add_column(column)
        for cell in compared:
            if cell.verdict == "not significant" and not args.all:
                continue
            workload, method, workers, images, build = cell.key
            table.add_row(
                workload, method, build, str(workers), str(images), f"{cell.a_median_s:.3f}",
                f"{cell.b_median_s:.3f}", cell.ratio.text("x", 3), cell.verdict,
            )  # fmt: skip
        out.print(table)
        out.print(summary_line(compared, args.relative))
        if failing:
            out.print(
                f"[red]{len(failing)} cell(s) of {args.b} are significantly slower than "
                f"{args.a} by {args.fail_on:.0%} or more[/]"
            )
    return 1 if failing else 0
