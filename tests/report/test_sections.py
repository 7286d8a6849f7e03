"""The report's weak-scaling, sub-interpreter cost and hosts-side-by-side sections, from
synthetic measurements summarised by nogilbench.results.stats as a sweep summarises them, and from
the real bundle under docs/hosts/ (a second host made by editing a copy, as test data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib
import pytest
from sqlmodel import Session

from nogilbench.report import costs, data, figures, hosts, weak
from nogilbench.results import stats, summarize
from nogilbench.results.bundle import import_bundle
from nogilbench.store.models import Result
from tests.support import ROOT

matplotlib.use("Agg")

FT = "cpython-3.13.5t"
DEFAULT = "cpython-3.13.5"
SHIPPED = ROOT / "docs" / "hosts" / "dev-xeon-2cores-small.json"


def _rows(measurements: list[dict[str, Any]], cores: int) -> list[Result]:
    return [
        Result(sweep_id=1, interpreter_version="3.13.5", free_threaded_build=s["interpreter"] == FT,
               **{k: v for k, v in s.items() if k in Result.model_fields})
        for s in summarize.summarize_sweep(measurements, cores, None)
    ]  # fmt: skip


def _measurement(method: str, workers: int, images: int, wall: float, number: int) -> dict:
    return {
        "workload": "pure-python", "method": method, "workers": workers, "images": images,
        "interpreter": FT, "round": number, "status": "ok", "digest": "same",
        "wall_s": wall * (1.0, 1.03, 0.98, 1.01)[number], "gil_enabled": method != "free-threaded",
        "workers_observed": workers, "details": {"cores": 2},
    }  # fmt: skip


def weak_measurements(per_image: float = 0.1) -> list[dict[str, Any]]:
    """k = 10 images per worker on 2 cores: free-threaded stays flat up to the cores, then
    doubles (oversubscribed); threading with the GIL grows with the workers."""
    found = []
    for workers in (1, 2, 4):
        images = 10 * workers
        for number in range(4):
            found.append(_measurement("sync", 1, images, per_image * images, number))
            flat = per_image * 10 * max(1, workers / 2)
            found.append(_measurement("free-threaded", workers, images, flat, number))
            found.append(_measurement("threading", workers, images, per_image * images, number))
    return found


def test_weak_efficiency_is_flat_for_free_threading_and_falls_for_gil_threads() -> None:
    frame = data.results_frame(_rows(weak_measurements(), 2), "weak")
    table = weak.weak_frame(frame, cores=2, main=FT)
    ft = table[table["method"] == "free-threaded"].set_index("workers")
    threads = table[table["method"] == "threading"].set_index("workers")
    assert ft.loc[2, "efficiency_low"] <= 1.0 <= ft.loc[2, "efficiency_high"] * 1.05
    assert ft.loc[4, "ideal"] == 0.5 and bool(ft.loc[4, "oversubscribed"])
    assert threads.loc[2, "efficiency_high"] < 0.6  # twice the images, one core's worth
    sentences = " ".join(weak.weak_sentences(table, cores=2))
    assert "free-threaded (GIL off) on pure-python with 2 workers" in sentences
    assert "indistinguishable from flat" in sentences
    assert "slower than flat" in sentences  # the GIL-bound threads
    fig = figures.weak_scaling_figure(table, cores=2)
    assert fig is not None and len(fig.axes) == 2
    assert figures.weak_scaling_figure(table.iloc[0:0], cores=2) is None


def test_weak_efficiency_interval_covers_a_known_ratio() -> None:
    ratio = stats.weak_efficiency([1.0, 1.02, 0.99, 1.01], [2.0, 2.04, 1.98, 2.02])
    assert ratio.low < 0.5 < ratio.high and ratio.method.startswith("Welch")
    assert stats.ideal_weak_efficiency("free-threaded", 8, 2) == 0.25
    assert stats.ideal_weak_efficiency("threading", 2, 4) == 1.0


def test_subinterpreter_costs_and_the_unavailable_reason() -> None:
    details = {
        "interpreters_start_s": 0.03, "imports_s": 0.004,
        "last_map": {"items": 10, "prepare_s": 0.05, "transfer_s": 0.01, "kernel_s": 0.19},
    }  # fmt: skip
    measurements = [
        {**_measurement("subinterpreters", 2, 10, 0.2, number), "details": details}
        for number in range(3)
    ] + [{
        "workload": "pillow", "method": "subinterpreters", "workers": 2, "images": 10,
        "interpreter": DEFAULT, "round": 0, "status": "unavailable",
        "error": "ImportError: module PIL._imaging does not support loading in subinterpreters",
    }]  # fmt: skip
    table = costs.subinterpreter_costs(measurements)
    assert len(table) == 1 and table.iloc[0]["build"] == "free-threaded"
    assert table.iloc[0]["transfer_ms_per_image"] == pytest.approx(1.0)
    assert table.iloc[0]["transfer_share"] == pytest.approx(0.05)
    (sentence,) = costs.cost_sentences(table)
    assert "2 workers" in sentence and "5.0% of the time inside" in sentence
    (reason,) = costs.unavailable_reasons(measurements)
    assert reason.startswith("pillow on the default build") and "PIL._imaging" in reason


def _second_host(tmp_path: Path) -> Path:
    """A copy of the shipped bundle as if measured on a 16-core host (test data only)."""
    bundle = json.loads(SHIPPED.read_text())
    bundle["sweep"]["name"] = "edited-16-cores"
    bundle["host"].update(cpu_model="Test CPU (edited copy)", usable_cores=16, logical_cores=16,
                          physical_cores=16)  # fmt: skip
    path = tmp_path / "second.json"
    path.write_text(json.dumps(bundle))
    return path


def test_two_hosts_side_by_side(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hosts.db'}"
    with Session(_store(url)) as session:
        import_bundle(session, SHIPPED)
        import_bundle(session, _second_host(tmp_path))
    loaded = data.load_sweeps(url, ["dev-xeon-2cores-small", "edited-16-cores"])
    table = hosts.hosts_frame(loaded)
    assert set(table["host_cores"]) == {2, 16} and table["host"].nunique() == 2
    fig = hosts.hosts_figure(table)
    assert fig is not None
    marked = {text.get_text().strip() for ax in fig.axes for text in ax.texts}
    assert {"2 cores", "16 cores"} <= marked
    shown = hosts.hosts_table(table).to_numpy().ravel().tolist()
    flagged = table["anomaly"].map(lambda text: isinstance(text, str) and bool(text))
    assert sum("(anomaly)" in text for text in shown) <= int(flagged.sum())
    assert any("at 2 workers" in text for text in shown)  # each host at its own cores
    summary = hosts.hosts_summary(loaded)
    assert any("16 usable cores" in line for line in summary)
    # two runs on one host are not two hosts
    assert hosts.hosts_frame([loaded[0], loaded[0]]).empty


def _store(url: str) -> Any:
    from nogilbench.store.repository import open_store

    return open_store(url)


def test_the_report_renders_two_bundles_side_by_side(tmp_path: Path) -> None:
    """The whole report (papermill + nbconvert) over two imported bundles from two hosts."""
    from nogilbench.cli.main import main

    url = f"sqlite:///{tmp_path / 'two.db'}"
    assert main(["import", str(SHIPPED), "--database-url", url]) == 0
    assert main(["import", str(_second_host(tmp_path)), "--database-url", url]) == 0
    output = tmp_path / "report.html"
    names = ["--sweep", "dev-xeon-2cores-small", "--sweep", "edited-16-cores"]
    command = ["report", "--no-sweep", *names, "--database-url", url, "--output", str(output)]
    assert main(command) == 0
    page = output.read_text(encoding="utf-8")
    section = page[page.index('id="Hosts-side-by-side"') :]
    assert "Intel(R) Xeon(R) Processor, 2 usable cores" in section
    assert "Test CPU (edited copy), 16 usable cores" in section
    assert (output.parent / "figures" / "hosts.png").is_file()
