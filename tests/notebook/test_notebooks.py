"""matrix.ipynb and report.ipynb run through papermill with injected parameters into a
temporary database; the rendered HTML holds the headline tables and the figures, no code."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from sqlmodel import Session

from nogilbench.report import render
from nogilbench.store import repository

pytestmark = pytest.mark.slow

TINY = {
    "workloads": ["pillow", "pure-python"],
    "images": [2],
    "workers": [1, 2],
    "methods": ["sync", "threading", "multiprocessing", "free-threaded"],
    "repeats": 1,
    "image_size": "96x64",
}


def _outputs(notebook: Path) -> str:
    book = nbformat.read(notebook, as_version=4)
    texts = []
    for cell in book.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[render.ReportPaths, str, Path]:
    folder = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{folder / 'nb.db'}"
    paths = render.build_report(
        url, ["nb-test"], matrix_parameters=TINY, html=folder / "out" / "report.html"
    )
    return paths, url, folder / "out"


def test_matrix_notebook_stores_the_sweep(rendered) -> None:
    paths, url, _ = rendered
    engine = repository.open_store(url)
    with Session(engine) as session:
        sweep = repository.get_sweep_by_name(session, "nb-test")
        assert sweep is not None and sweep.status == "completed"
        results = repository.results_for(session, [sweep.id])
        assert len(results) == sweep.cell_count >= 16
        assert sweep.parameters["image_size"] == [96, 64]
    engine.dispose()
    assert paths.matrix_notebook is not None
    text = _outputs(paths.matrix_notebook)
    assert "workers: 1, 2" in text
    assert "nb-test: " in text or "sweep nb-test:" in text


def test_html_report_has_tables_figures_and_no_code(rendered) -> None:
    paths, _, out = rendered
    html = paths.html.read_text()
    for section in ("Environment", "The final table", "Conclusions", "Which model when"):
        assert section in html
    for workload in ("pillow", "pure-python"):
        assert re.search(rf"<h3[^>]*>{workload}: 2 workers", html), workload
    assert "2 images (s)" in html and "memory (MB)" in html and "CPU %" in html
    assert "free-threaded (GIL off)" in html
    embedded = re.findall(r'<img[^>]+src="data:image/png;base64,', html)
    assert len(embedded) >= 5
    assert "load_sweeps" not in html and "import pandas" not in html  # code cells excluded
    figures = {path.stem for path in (out / "figures").glob("*.png")}
    assert {"wall_time", "speedup", "efficiency", "memory", "cpu"} <= figures
    csv = (out / "results.csv").read_text().splitlines()
    assert csv[0].startswith("sweep,sweep_id,workload")
    assert len(csv) > 16


def test_rerunning_the_same_sweep_name_resumes(rendered) -> None:
    _paths, url, out = rendered
    again = render.execute(
        render.NOTEBOOKS_DIR / "matrix.ipynb",
        out / "matrix-again.ipynb",
        {**TINY, "sweep_name": "nb-test", "database_url": url},
    )
    text = _outputs(again)
    assert re.search(r"resuming: (\d+) of \1 rounds already stored; 0 to run", text)


def test_a_failing_notebook_is_one_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(render.NotebookFailed, match="InvalidParameter: unknown workload 'nope'"):
        render.execute(
            render.NOTEBOOKS_DIR / "matrix.ipynb",
            tmp_path / "matrix.ipynb",
            {**TINY, "workloads": ["nope"], "sweep_name": "bad", "database_url": url},
        )
