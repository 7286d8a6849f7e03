"""Browser tests: the distribution's headless Chromium (/usr/bin/chromium, installed by
scripts/setup.sh) driven by Playwright, with every request that leaves loopback blocked.

Chromium itself cannot reach outside (a dead proxy for everything but loopback, no DNS), and
each page records and aborts any request for a non-loopback address, so a test can assert
that a page needed nothing from the network. A failing test leaves a full-page screenshot
in its pytest temp dir (the path is printed in the failure report).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Browsing,
    TinyStore,
    browser_required,
    is_loopback,
)


@pytest.fixture
def chromium() -> Iterator[object]:
    """The distribution's Chromium under Playwright (no browser download); skips where it is
    not installed, fails instead in CI (NOGILBENCH_REQUIRE_BROWSER=1).

    One per test, not per session: Playwright's sync API keeps an asyncio loop running in
    the main thread while it is open, which would break later tests that call asyncio.run.
    """
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        message = f"no Chromium at {CHROMIUM} (scripts/setup.sh installs the 'chromium' package)"
        if browser_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """On a failure, a full-page screenshot of the test's page into its temp dir."""
    report = yield
    browsing = getattr(item, "funcargs", {}).get("browsing")
    if report.when == "call" and report.failed and isinstance(browsing, Browsing):
        shot = browsing.screenshot_dir / "failure.png"
        try:
            browsing.page.screenshot(path=str(shot), full_page=True)  # type: ignore[attr-defined]
            report.sections.append(("screenshot", f"the failing page: {shot}"))
        except Exception as exc:  # a crashed page cannot be photographed: say so
            report.sections.append(("screenshot", f"none taken: {exc}"))
    return report


@pytest.fixture
def browsing(chromium: object, tmp_path: Path) -> Iterator[Browsing]:
    """A fresh page (1280x900) that aborts and records requests beyond loopback."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    context.set_default_timeout(30_000)
    result = Browsing(context.new_page(), tmp_path)

    def guard(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        if is_loopback(url):
            route.continue_()  # type: ignore[attr-defined]
        else:
            result.blocked.append(url)
            route.abort("internetdisconnected")  # type: ignore[attr-defined]

    context.route("**/*", guard)
    try:
        yield result
    finally:
        context.close()


# --------------------------------------------------------------------------- tiny stored sweeps
# Both workloads, 2 images, 1 and 2 workers, every matrix method, 2 repeats of small images
# (as tests/notebook/test_notebooks.py runs them): tens of seconds. A second, smaller sweep gives
# explore.ipynb something to overlay.
TINY_A = {
    "workloads": ["pillow", "pure-python"],
    "images": [2],
    "workers": [1, 2],
    "methods": ["sync", "threading", "multiprocessing", "free-threaded"],
    "repeats": 2,
    "image_size": "96x64",
}
TINY_B = {**TINY_A, "workloads": ["pure-python"], "baseline": False}


@pytest.fixture(scope="session")
def tiny_report(tmp_path_factory: pytest.TempPathFactory) -> TinyStore:
    """Sweep `browser-a` run through matrix.ipynb and rendered by `nogilbench report`'s code."""
    from nogilbench.report import render

    folder = tmp_path_factory.mktemp("browser-store")
    url = f"sqlite:///{folder / 'browser.db'}"
    paths = render.build_report(
        url, ["browser-a"], matrix_parameters=TINY_A, html=folder / "report" / "report.html"
    )
    return TinyStore(url, folder, paths.html, ("browser-a",))


@pytest.fixture(scope="session")
def two_sweeps(tiny_report: TinyStore) -> TinyStore:
    """The same store with a second sweep, `browser-b`."""
    from nogilbench.report import render

    render.execute(
        render.NOTEBOOKS_DIR / "matrix.ipynb",
        tiny_report.folder / "matrix-b.ipynb",
        {**TINY_B, "sweep_name": "browser-b", "database_url": tiny_report.database_url},
    )
    return TinyStore(
        tiny_report.database_url, tiny_report.folder, tiny_report.report_html,
        ("browser-a", "browser-b"),
    )  # fmt: skip
