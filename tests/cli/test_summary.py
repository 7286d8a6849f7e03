"""`nogilbench report --print` of a sweep measured elsewhere: its own cores, not this machine's."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from nogilbench.cli.main import main
from nogilbench.results import summarize
from nogilbench.store import repository
from nogilbench.store.models import Sweep

FAR_CORES = 96  # more than any machine this test runs on


def _store_far_sweep(url: str) -> None:
    """A sweep whose host record lacks usable_cores (an older bundle); its cells ran on 96."""
    engine = repository.open_store(url)
    with Session(engine) as session:
        sweep = Sweep(name="far", parameters={}, host={"cpu_model": "far CPU"}, cell_count=2)
        session.add(sweep)
        session.commit()
        for number, wall in enumerate((10.0, 11.0, 9.5)):
            for method, workers, speedup in (("sync", 1, 1), ("threading", 8, 6.0)):
                repository.save_measurement(session, sweep.id, {
                    "workload": "pillow", "method": method, "workers": workers, "images": 100,
                    "interpreter": "cpython-3.13.5t", "round": number, "status": "ok",
                    "wall_s": wall / speedup, "digest": "d", "details": {"cores": FAR_CORES},
                })  # fmt: skip
        summarize.refresh_results(session, sweep.id)
    engine.dispose()


def test_print_uses_the_cores_the_sweep_recorded(tmp_path: Path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'far.db'}"
    _store_far_sweep(url)
    assert main(["report", "--print", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert f"{FAR_CORES} usable cores" in out
    assert "median wall time at 8 workers" in out  # the headline: the most workers <= its cores
    assert "oversubscribed" not in out
