"""`nogilbench info`: the interpreters found for each role, and the host."""

from __future__ import annotations

import argparse
import json

from nogilbench.cli.output import console


def run(args: argparse.Namespace) -> int:
    from nogilbench.host.interpreters import discover, host_info

    found = discover()
    host = host_info()
    scan = _gil_scan(found) if args.gil_scan else None
    if args.json:
        interpreters = {
            role: {"unavailable": item.reason} if isinstance(item, Exception) else item.as_dict()
            for role, item in found.items()
        }
        extra = {} if scan is None else {"gil_scan": scan}
        print(json.dumps({"host": host, "interpreters": interpreters, **extra}, indent=2))
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
        if key == "machine_id" and value is None:
            from nogilbench.host.machine_id import UNKNOWN

            value = UNKNOWN
        host_table.add_row(key, str(value))
    out.print(host_table)
    if scan is not None:
        _print_scan(out, scan)
    return 0


def _gil_scan(found: dict) -> list[dict] | None:
    """The free-threaded interpreter's extension modules, each imported in a fresh process:
    does the GIL stay off? (None: no free-threaded interpreter was found.)"""
    from nogilbench.host.gilscan import gil_scan
    from nogilbench.model import ROLE_FREE_THREADED

    interpreter = found.get(ROLE_FREE_THREADED)
    if interpreter is None or isinstance(interpreter, Exception):
        return None
    return gil_scan(interpreter.path)


def _print_scan(out: object, scan: list[dict] | None) -> None:
    from rich.table import Table

    if scan is None:
        out.print("GIL scan: no free-threaded interpreter found")  # type: ignore[attr-defined]
        return
    table = Table(title="Will the installed extensions keep the GIL off? (free-threaded build)")
    for column in ("distribution", "version", "module", "GIL after import", "warning"):
        table.add_column(column)
    for row in scan:
        state = {True: "[red]back on[/]", False: "off", None: "import did not finish"}[
            row["gil_enabled"]
        ]
        table.add_row(
            row["distribution"], row["version"], row["module"], state,
            (row.get("warning") or "")[:80],
        )  # fmt: skip
    out.print(table)  # type: ignore[attr-defined]
