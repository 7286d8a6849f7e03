"""`python -X gil=0 -m tests.contract.fuzz_server PORT` (from the repository root): the service
under a real uvicorn whose benchmark jobs store an empty sweep instead of running one.

Everything else is `api.main:app` as `uvicorn api.main:app` serves it (settings from the
environment). Only the sweep is replaced, because a fuzzer that posts hundreds of valid
`POST /api/benchmarks/run` bodies must not start hundreds of real sweeps on a 2-core CI host.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn
from sqlmodel import Session

import api.main
from nogilbench.store import repository


def empty_sweep_runner(database: Any, _image_dir: Path) -> Callable[[Any, Any, Any], int]:
    def run(job: Any, progress: Callable[[int, int], None], _stop: Any) -> int:
        with Session(database.engine) as session:
            sweep = repository.start_or_resume_sweep(
                session, f"contract-{job.id}-{time.time_ns()}", dict(job.parameters), cell_count=0
            )
            repository.finish_sweep(session, sweep, "completed")
            sweep_id = int(sweep.id)  # type: ignore[arg-type]
        progress(0, 0)
        return sweep_id

    return run


def main() -> None:
    api.main.sweep_runner = empty_sweep_runner  # read by create_app's lifespan at start-up
    uvicorn.run(api.main.app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")


if __name__ == "__main__":
    main()
