"""`nogilbench import FILE`: load a result bundle into this store (idempotent)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from nogilbench.results.bundle import load_bundle, read_bundle
    from nogilbench.store.repository import open_store

    bundle = read_bundle(args.file)  # a bad file fails before the store is touched
    engine = open_store(args.database_url)
    with Session(engine) as session:
        summary = load_bundle(session, bundle, name=args.name)
    verb = "imported new" if summary.created else "imported into existing"
    print(summary.line(verb))
    return 0
