"""JupyterLab as `make lab` starts it (nogilbench.notebook.lab), on a free loopback port with a
token, in Chromium with no network beyond loopback: explore.ipynb (pointed at a store with
two tiny sweeps) runs to the end through the Run menu on the project's kernel, no cell shows
an error, figures are drawn, and the ipywidgets panel redraws on a new choice."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook
from playwright.sync_api import expect

from nogilbench.notebook import lab
from nogilbench.report.render import NOTEBOOKS_DIR
from tests.support.browser import Browsing, TinyStore
from tests.support.servers import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN_TIMEOUT_MS = 240_000
# Lab's own settings for this run (not the user's): every cell attached to the page, so the
# test sees all of them.
SETTINGS = {"@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"}}

CELL_STATES = """() => Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell')).map(
  (cell) => cell.querySelector('.jp-InputPrompt')?.textContent.trim() ?? '')"""
ERRORS = """() => Array.from(document.querySelectorAll(
  '.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
  .map((el) => el.textContent).filter((text) => /Traceback|Error/.test(text))"""
FIGURES = """() => Array.from(document.querySelectorAll('.jp-Notebook .jp-OutputArea-output img'))
  .filter((img) => img.complete && img.naturalWidth > 0).length"""


@dataclass
class LabServer:
    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, path: str) -> dict:
        with urllib.request.urlopen(f"{self.url}/api/{path}?token={self.token}", timeout=10) as r:
            return json.loads(r.read())

    def setting_default(self, plugin: str, name: str) -> object:
        """A Lab setting's default as the server hands it out (the schema with overrides)."""
        url = f"{self.url}/lab/api/settings/{plugin}?token={self.token}"
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.loads(r.read())["schema"]["properties"][name]["default"]


def _explore_copy(root: Path, store: TinyStore) -> None:
    """explore.ipynb with papermill's injected parameters (the two tiny sweeps), and the
    jupytext pair alone in a folder of its own."""
    book = load_notebook_node(str(NOTEBOOKS_DIR / "explore.ipynb"))  # as papermill reads it
    book = parameterize_notebook(
        book,
        {
            "database_url": store.database_url,
            "sweep_name": store.sweeps[0],
            "compare_with": store.sweeps[1],
            "workload": "pure-python",
            "method": "free-threaded",
            "workers": 2,
            "images": 2,
        },
    )
    nbformat.write(book, root / "explore.ipynb")
    (root / "pair").mkdir()
    shutil.copy(NOTEBOOKS_DIR / "explore.py", root / "pair" / "explore.py")


@pytest.fixture
def lab_server(two_sweeps: TinyStore, tmp_path: Path) -> Iterator[LabServer]:
    problem = lab.kernel_problem()
    assert problem is None, problem
    root = tmp_path / "notebooks"
    root.mkdir()
    _explore_copy(root, two_sweeps)
    settings = tmp_path / "lab-settings"
    for name, values in SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
    }
    token = secrets.token_urlsafe(16)
    port = free_port()
    log = tmp_path / "lab.log"
    command = [sys.executable, "-m", "nogilbench.notebook.lab", "--root", str(root)]
    command += ["--port", str(port), f"--token={token}"]  # a token may start with "-"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = LabServer(f"http://127.0.0.1:{port}", token, root, process, log)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, f"Lab exited: {log.read_text()[-3000:]}"
            try:
                server.api("status")
                break
            except (urllib.error.URLError, OSError):
                assert time.monotonic() < deadline, f"Lab did not start: {log.read_text()[-3000:]}"
                time.sleep(0.5)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def test_lab_runs_explore_notebook_through_the_ui(
    lab_server: LabServer, browsing: Browsing
) -> None:
    # The token guards the server; jupytext serves the .py pair as a notebook.
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{lab_server.url}/api/contents", timeout=10)
    pair = lab_server.api("contents/pair/explore.py")
    assert pair["type"] == "notebook"
    assert pair["content"]["metadata"]["kernelspec"]["name"] == lab.KERNEL_NAME
    # The environment's Lab defaults (setup: nogilbench/notebook/lab-overrides.json): Lab
    # neither asks to fetch Jupyter news nor checks for updates.
    notification = "@jupyterlab/apputils-extension:notification"
    assert lab_server.setting_default(notification, "fetchNews") == "false"
    assert lab_server.setting_default(notification, "checkForUpdates") is False

    page = browsing.page
    page.goto(f"{lab_server.url}/lab/tree/explore.ipynb?token={lab_server.token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-CodeCell", timeout=90_000)
    # The notebook's own kernel started by itself (no kernel dialog): the project's.
    kernel = page.locator(".jp-NotebookPanel-toolbar .jp-KernelName")
    expect(kernel).to_contain_text("nogilbench", timeout=90_000)
    page.wait_for_selector(
        ".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator[data-status='idle']",
        timeout=90_000,
    )

    page.locator(".lm-MenuBar-itemLabel").get_by_text("Run", exact=True).click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()

    cells = page.evaluate(CELL_STATES)
    assert len(cells) >= 8
    page.wait_for_function(
        f"() => ({CELL_STATES})().every((p) => /^\\[\\d+\\]/.test(p))", timeout=RUN_TIMEOUT_MS
    )
    assert page.evaluate(ERRORS) == []
    assert page.evaluate(FIGURES) >= 3  # one cell's values, the overlay, the widget panel's

    # The ipywidgets panel: a new workload redraws the cell below it.
    dropdown = page.locator(".widget-dropdown", has_text="workload").first.locator("select")
    dropdown.select_option("pillow")
    redrawn = page.get_by_text("pillow / free-threaded (GIL off) / 2 workers / 2 images")
    expect(redrawn.first).to_be_visible(timeout=60_000)

    assert browsing.blocked == [], f"Lab reached beyond loopback: {browsing.blocked}"
    # Shown (when asked) as soon as Lab is restored; by now it would be on the page.
    assert page.get_by_text("official Jupyter news").count() == 0
