"""The `nogilbench` command: info, sweep, race, export, report, compare, import.

Every error a user can cause ends in one line on stderr and exit code 2; Ctrl-C during a
sweep keeps every finished cell and says how to resume (exit 130).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from nogilbench.cli import compare, export, import_, info, race, report, sweep
from nogilbench.cli.parser import EXIT_USAGE, build_parser
from nogilbench.errors import NogilbenchError

EXIT_INTERRUPTED = 130

HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "info": info.run, "sweep": sweep.run, "race": race.run, "export": export.run,
    "report": report.run, "compare": compare.run, "import": import_.run,
}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return HANDLERS[args.command](args)
    except NogilbenchError as exc:
        print(f"nogilbench {args.command}: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        hint = " re-run the same command to resume" if args.command in ("sweep", "report") else ""
        print(f"nogilbench {args.command}: interrupted;{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
