"""``python3 -m nogilbench.host.provision``: find or build the base interpreters.

The report goes to stderr; ``--print-ft``, ``--print-gil`` and ``--shell`` write
machine-readable results to stdout. Stdlib only: this runs before any virtual environment.
"""

from __future__ import annotations

import argparse
import json
import shlex
from collections.abc import Sequence

from nogilbench.host.provision.base import log
from nogilbench.host.provision.plan import provision


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m nogilbench.host.provision",
        description="Find or build the free-threaded and default CPython builds nogilbench uses.",
    )
    parser.add_argument(
        "--no-build", action="store_true", help="only discover: no uv install, no source build"
    )
    parser.add_argument(
        "--require-ft", action="store_true", help="exit 1 if no free-threaded interpreter"
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--print-ft", action="store_true", help="print the free-threaded path")
    output.add_argument("--print-gil", action="store_true", help="print the default-build path")
    output.add_argument("--shell", action="store_true", help="print FT_PYTHON=... GIL_PYTHON=...")
    output.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    result = provision(build=not args.no_build)
    ft_path = result.free_threaded.path if result.free_threaded else ""
    gil_path = result.default_build.path if result.default_build else ""
    if args.print_ft:
        if not ft_path:
            return 1
        print(ft_path)
    elif args.print_gil:
        if not gil_path:
            return 1
        print(gil_path)
    elif args.shell:
        print(f"FT_PYTHON={shlex.quote(ft_path)}")
        print(f"FT_VERSION={shlex.quote(result.free_threaded.version if ft_path else '')}")
        print(f"FT_REASON={shlex.quote(result.ft_reason)}")
        print(f"GIL_PYTHON={shlex.quote(gil_path)}")
    elif args.json:
        print(
            json.dumps(
                {
                    "free_threaded": result.free_threaded.__dict__ if ft_path else None,
                    "default_build": result.default_build.__dict__ if gil_path else None,
                    "free_threaded_reason": result.ft_reason,
                    "default_build_reason": result.gil_reason,
                },
                indent=2,
            )
        )
    if args.require_ft and not ft_path:
        log("a free-threaded interpreter is required (--require-ft) and none could be had")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
