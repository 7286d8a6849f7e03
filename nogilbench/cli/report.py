"""`nogilbench report`: run (or resume) a sweep through the notebooks and render the report,
or (--print) print a stored sweep's tables."""

from __future__ import annotations

import argparse
import sys

from nogilbench.cli.stored import pick_sweep
from nogilbench.cli.summary import print_summary
from nogilbench.errors import InvalidParameter


def run(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from nogilbench.store.db import database_url, safe_url
    from nogilbench.store.repository import get_sweep_by_name, open_store

    if args.workers is not None and args.workers < 1:
        raise InvalidParameter("--workers must be at least 1")
    names = args.sweep or []
    engine = open_store(args.database_url)
    if args.print_tables:
        with Session(engine) as session:
            sweep_id = pick_sweep(session, names[-1] if names else None).id
        print_summary(engine, sweep_id, args.workers)
        return 0

    from nogilbench.report.render import build_report, matrix_parameters_for, read_parameters

    url = database_url(args.database_url)
    run_sweep = not args.no_sweep and len(names) <= 1
    matrix_parameters = None
    if run_sweep:
        params_file = args.params
        if params_file is not None and not params_file.is_file():
            raise InvalidParameter(f"no parameter file {params_file}")
        name = names[0] if names else None
        if name is None:
            from nogilbench.report.render import FULL_PARAMS

            name = str(read_parameters(params_file or FULL_PARAMS).get("sweep_name", "default"))
        with Session(engine) as session:
            stored = get_sweep_by_name(session, name)
            stored_parameters = dict(stored.parameters) if stored is not None else None
        matrix_parameters = matrix_parameters_for(name, params_file, stored_parameters)
        names = [name]
        print(f"sweep {name!r} in {safe_url(url)}: running/resuming", file=sys.stderr)
    elif not names:
        with Session(engine) as session:
            names = [pick_sweep(session, None).name]
    engine.dispose()
    paths = build_report(
        url, names, matrix_parameters=matrix_parameters, html=args.output, workers=args.workers,
        progress=sys.stderr,
    )  # fmt: skip
    print(f"report: {paths.html}")
    return 0
