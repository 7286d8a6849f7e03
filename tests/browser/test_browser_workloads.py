"""The report of a store holding a main sweep and a workloads sweep (with its stored race demo
and GIL scan), in Chromium: the "per kind of work" section, the pros and cons table and the
limits of free-threaded Python are on the page and visible, and the page still fits."""

from __future__ import annotations

from pathlib import Path

import pytest

from nogilbench.store import repository
from nogilbench.sweep.config import SweepConfig
from nogilbench.sweep.manager import run_sweep
from nogilbench.sweep.plan import Interpreters
from tests.browser.test_browser_report import _fits
from tests.support.browser import Browsing

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MAIN = {"workloads": ["pure-python"], "images": [2], "workers": [1, 2],
        "methods": ["sync", "threading", "free-threaded"], "baseline": True}  # fmt: skip
WORKLOADS = {"workloads": ["io", "share-nothing", "shared-dict", "transfer-path",
                           "transfer-pickle"], "images": [2], "workers": [1, 2],
             "methods": ["sync", "asyncio-loop", "free-threaded", "multiprocessing"],
             "baseline": False}  # fmt: skip


@pytest.fixture(scope="module")
def workloads_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nogilbench.report import render
    from nogilbench.sweep.checks import record_checks

    folder = tmp_path_factory.mktemp("workloads-store")
    url = f"sqlite:///{folder / 'w.db'}"
    engine = repository.open_store(url)
    for name, values in (("main", MAIN), ("workloads", WORKLOADS)):
        config = SweepConfig(name=name, repeats=2, max_rounds=2, budget_s=0,
                             image_size=(96, 64), **values)  # fmt: skip
        interpreters = Interpreters.discover(want_baseline=config.baseline)
        run_sweep(config, engine, image_dir=folder / "images", interpreters=interpreters)
    record_checks(url, "workloads", threads=2, increments=20_000, trials=1)
    paths = render.build_report(url, ["main"], html=folder / "report" / "report.html")
    return paths.html


def test_report_shows_the_workloads_section_pros_cons_and_limits(
    workloads_report: Path, browsing: Browsing
) -> None:
    page = browsing.page
    page.goto(workloads_report.as_uri())
    page.wait_for_load_state("load")
    for heading in ("Which model when, per kind of work", "Pros and cons of each model",
                    "Limits of free-threaded Python today"):  # fmt: skip
        assert page.get_by_role("heading", name=heading).first.is_visible(), heading
    text = page.locator("main").inner_text()
    for kind in ("CPU-bound", "Waiting on I/O", "Shared state", "Moving data"):
        assert kind in text, kind
    assert "No workloads sweep in this database" not in text
    table = page.locator("table.pros-cons")
    assert table.count() == 1 and table.is_visible()
    headers = " ".join(table.locator("th").all_inner_texts())
    for column in ("speed, CPU-bound", "peak memory (PSS, MiB)", "start-up", "safety"):
        assert column in headers, headers
    models = table.locator("tbody tr").count()
    assert models >= 3
    assert "asyncio on the loop" in table.inner_text()
    assert "Race demo (2 threads" in text and "GIL scan of" in text
    _fits(page, "1280 px")
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(200)
    _fits(page, "390 px")
    assert browsing.blocked == []
