"""`nogilbench report`: the printed tables of a stored sweep, one-line errors."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from nogilbench.cli.main import main
from nogilbench.results import summarize
from nogilbench.store import repository
from nogilbench.store.models import Sweep
from tests.support.results import FT


def _store_synthetic_sweep(url: str) -> None:
    engine = repository.open_store(url)
    with Session(engine) as session:
        sweep = Sweep(name="synthetic", parameters={}, host={"usable_cores": 2}, cell_count=3)
        session.add(sweep)
        session.commit()
        for number, wall in enumerate((10.0, 11.0, 9.5)):
            for method, workers, speedup in (("sync", 1, 1), ("threading", 2, 1.9)):
                repository.save_measurement(session, sweep.id, {
                    "workload": "pillow", "method": method, "workers": workers, "images": 100,
                    "interpreter": FT, "round": number, "status": "ok",
                    "wall_s": wall / speedup, "digest": "d", "details": {"cores": 2},
                })  # fmt: skip
        summarize.refresh_results(session, sweep.id)
    engine.dispose()


def test_cli_report_print_keeps_the_tables(tmp_path: Path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    _store_synthetic_sweep(url)
    assert main(["report", "--print", "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert "pillow: median wall time at 2 workers" in out
    assert "threading" in out


def test_cli_report_errors_are_one_line(tmp_path: Path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    assert main(["report", "--no-sweep", "--database-url", url]) == 2
    assert "holds no sweep yet" in capsys.readouterr().err
    code = main(["report", "--params", str(tmp_path / "missing.yaml"), "--database-url", url])
    assert code == 2
    assert "no parameter file" in capsys.readouterr().err
    assert main(["report", "--no-sweep", "--sweep", "nope", "--database-url", url]) == 2
    assert "no sweep named 'nope'" in capsys.readouterr().err
