"""`nogilbench info`: the interpreters found for each role, and the host."""

from __future__ import annotations

import argparse
import json

from nogilbench.cli.output import console


def run(args: argparse.Namespace) -> int:
    from nogilbench.host.interpreters import discover, host_info

    found = discover()
    host = host_info()
    if args.json:
        interpreters = {
            role: {"unavailable": item.reason} if isinstance(item, Exception) else item.as_dict()
            for role, item in found.items()
        }
        print(json.dumps({"host": host, "interpreters": interpreters}, indent=2))
        return 0
    from rich.table import Table

    out = console()
    table = Table(title="Interpreters")
    for column in ("role", "path", "version", "build", "GIL can be disabled", "Pillow", "psutil"):
        table.add_column(column)
    for role, item in found.items():
        if isinstance(item, Exception):
            table.add_row(role, f"[yellow]unavailable: {item.reason}[/]", "", "", "", "", "")
            continue
        build = "free-threaded" if item.free_threaded_build else "default (GIL)"
        table.add_row(
            role, item.path, item.version, build, "yes" if item.can_disable_gil else "no",
            item.pillow_version or "-", item.psutil_version or "-",
        )  # fmt: skip
    out.print(table)
    host_table = Table(title="Host", show_header=False)
    for key, value in host.items():
        host_table.add_row(key, str(value))
    out.print(host_table)
    return 0
