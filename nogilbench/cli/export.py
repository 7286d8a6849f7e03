"""`nogilbench export`: a sweep's rows as CSV or JSON, or a result bundle (--bundle)."""

from __future__ import annotations

import argparse
import csv
import json

from nogilbench.cli.stored import pick_sweep
from nogilbench.paths import PROJECT_ROOT


def run(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from nogilbench.store import repository
    from nogilbench.store.repository import open_store

    engine = open_store(args.database_url)
    if args.bundle is not None:
        from nogilbench.results.bundle import export_bundle

        with Session(engine) as session:
            sweep_id = pick_sweep(session, args.sweep).id
            summary = export_bundle(session, sweep_id, args.bundle)
        print(f"{summary.line('exported')} to {args.bundle}")
        return 0
    with Session(engine) as session:
        sweep = pick_sweep(session, args.sweep)
        rows = [
            {"sweep": sweep.name, **row.model_dump(mode="json")}
            for row in repository.results_for(session, [sweep.id])
        ]
    output = args.output or PROJECT_ROOT / "reports" / f"results.{args.format}"
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".part")
    with partial.open("w", newline="") as handle:
        if args.format == "json":
            json.dump(rows, handle, indent=2)
        elif rows:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(
                {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in row.items()}
                for row in rows
            )
    partial.replace(output)
    print(f"wrote {len(rows)} rows of sweep {sweep.name!r} to {output}")
    return 0
