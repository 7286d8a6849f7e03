"""`make performance`: every measurement of issue 5, back to back, into reports/performance.md.

1. Load: the same bounded load (upload -> process -> download) against a fresh server on
   stock CPython, on the free-threaded build with the GIL on and with it off, for the Pillow
   pipeline and for the pure-Python operation; each run then checked for lost or orphaned
   data. Ratios are taken against the stock run and GIL-on vs GIL-off.
2. The API's image throughput (`POST /process` only) against the library's thread runner on
   the same interpreter at concurrency = cores (target >= 80%), and the free-threaded server
   with the GIL off against on (target >= 1.8x on the pure-Python operation), in interleaved
   rounds with intervals, by httpx and by wrk.
3. The library's Pillow pipeline against Pillow called directly (the limit).
4. The sweep's own overhead and the spread of repeats, from a small real sweep.
5. The job engine's worker pools under the same batch load.
6. The schemathesis summary written by `make schemathesis-long`, when present.

    python -m loadtest.report [--out reports/performance.md] [--quick]

The measuring is `loadtest.measure`, the writing `loadtest.render`; this runs both.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from loadtest.measure import environment, measure, schemathesis_summary
from loadtest.render import render
from nogilbench.paths import PROJECT_ROOT

DEFAULT_OUT = PROJECT_ROOT / "reports" / "performance.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    env = environment()
    with tempfile.TemporaryDirectory(prefix="nogilbench-perf-") as work:
        results = measure(Path(work), args.quick)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(results, env, schemathesis_summary()))
    if args.json:
        load = {f"{w} / {label}": s for (w, label), s in results["load"].items()}
        raw = {**results, "load": load}
        args.json.write_text(json.dumps({"environment": env, **raw}, indent=2) + "\n")
    print(f"wrote {args.out}")
    bad = [key for key, s in results["load"].items() if not s["integrity_ok"] or s["errors"]]
    if bad:
        print(f"load runs with errors or lost data: {bad}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
