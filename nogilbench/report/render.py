"""The report pipeline: papermill runs `matrix.ipynb` (the sweep) and `report.ipynb` (tables,
figures, conclusions), then nbconvert renders the executed report as HTML without code.

    matrix.ipynb --papermill--> reports/matrix.ipynb      (sweep run/resumed in the store)
    report.ipynb --papermill--> reports/report.ipynb      (+ reports/figures/*.png, results.csv)
                 --nbconvert--> reports/report.html       (code cells excluded, figures embedded)
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from nogilbench.errors import InvalidParameter, NogilbenchError
from nogilbench.paths import PROJECT_ROOT, REPORTS_DIR
from nogilbench.report.data import project_path

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
PARAMS_DIR = NOTEBOOKS_DIR / "params"
FULL_PARAMS = PARAMS_DIR / "full.yaml"
TINY_PARAMS = PARAMS_DIR / "tiny.yaml"
# Kernel spec written at run time for the interpreter running this code, so papermill's kernel
# is always this environment (with nogilbench importable), whatever "python3" means elsewhere.
KERNEL_NAME = "nogilbench-python"
HIDE_TAG = "hide-in-report"  # cells with this tag are left out of the HTML


class NotebookFailed(NogilbenchError):
    """A notebook raised; the message names the notebook, the cell and the error."""


def read_parameters(path: Path) -> dict[str, Any]:
    """A papermill parameter file (YAML mapping) as a dict."""
    import yaml

    try:
        values = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise InvalidParameter(f"cannot read parameter file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InvalidParameter(f"parameter file {path} is not valid YAML: {exc}") from None
    if not isinstance(values, dict):
        raise InvalidParameter(f"parameter file {path} must hold a mapping of name: value")
    return values


@contextmanager
def kernel_for_this_interpreter() -> Iterator[str]:
    """A temporary Jupyter kernel spec running `sys.executable`; yields its name."""
    from ipykernel.kernelspec import write_kernel_spec

    saved = os.environ.get("JUPYTER_PATH")
    with tempfile.TemporaryDirectory(prefix="nogilbench-kernel-") as directory:
        write_kernel_spec(
            Path(directory) / "kernels" / KERNEL_NAME,
            overrides={"display_name": f"nogilbench ({sys.executable})"},
        )
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [directory, saved]))
        try:
            yield KERNEL_NAME
        finally:
            if saved is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = saved


def execute(
    notebook: Path, output: Path, parameters: dict[str, Any], progress: TextIO | None = None
) -> Path:
    """Run `notebook` with papermill into `output`; cell output streams to `progress`."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    output.parent.mkdir(parents=True, exist_ok=True)
    with kernel_for_this_interpreter() as kernel_name:
        try:
            papermill.execute_notebook(
                str(notebook), str(output), parameters=parameters, kernel_name=kernel_name,
                cwd=str(NOTEBOOKS_DIR), progress_bar=False, stdout_file=progress,
                stderr_file=progress,
            )  # fmt: skip
        except PapermillExecutionError as exc:
            raise NotebookFailed(
                f"{notebook.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
                f"(executed notebook: {output})"
            ) from None
    return output


def render_html(notebook: Path, html: Path) -> Path:
    """The executed notebook as standalone HTML: no code, no prompts, figures embedded,
    a table of contents, readable on a phone and in print (see `page`)."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    from nogilbench.report.page import TEMPLATE_NAME, TEMPLATES_DIR, add_contents

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = {HIDE_TAG}
    exporter = HTMLExporter(
        config=config, exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
        template_name=TEMPLATE_NAME, extra_template_basedirs=[str(TEMPLATES_DIR)],
    )  # fmt: skip
    body, _resources = exporter.from_filename(str(notebook))
    html.parent.mkdir(parents=True, exist_ok=True)
    partial = html.with_name(html.name + ".part")
    partial.write_text(add_contents(body), encoding="utf-8")
    partial.replace(html)
    return html


@dataclass(frozen=True)
class ReportPaths:
    html: Path
    report_notebook: Path
    matrix_notebook: Path | None


def build_report(
    database_url: str,
    sweeps: Sequence[str],
    *,
    matrix_parameters: dict[str, Any] | None = None,
    output_dir: Path = REPORTS_DIR,
    html: Path | None = None,
    workers: int | None = None,
    progress: TextIO | None = None,
) -> ReportPaths:
    """Run the sweep (if `matrix_parameters`) then the report notebook, and render the HTML.

    `matrix_parameters` are matrix.ipynb's parameters (SweepConfig fields and more); the
    sweep is `sweeps[0]`, resumed if it exists. Figures, results.csv and the executed
    notebooks go to `output_dir` (the folder of `html` when that is given).
    """
    if html is not None:  # the report's folder holds its figures, CSV and notebooks
        html = project_path(html)
        output_dir = html.parent
    else:
        output_dir = project_path(output_dir)
        html = output_dir / "report.html"
    matrix_notebook = None
    if matrix_parameters is not None:
        if len(sweeps) != 1:
            raise InvalidParameter("running a sweep needs exactly one sweep name")
        parameters = {**matrix_parameters, "sweep_name": sweeps[0], "database_url": database_url}
        matrix_notebook = execute(
            NOTEBOOKS_DIR / "matrix.ipynb", output_dir / "matrix.ipynb", parameters, progress
        )
    report_notebook = execute(
        NOTEBOOKS_DIR / "report.ipynb",
        output_dir / "report.ipynb",
        {
            "database_url": database_url,
            "sweeps": list(sweeps),
            "workers": workers,
            "output_dir": str(output_dir),
        },
        progress,
    )
    render_html(report_notebook, html)
    return ReportPaths(html, report_notebook, matrix_notebook)


def matrix_parameters_for(
    name: str, params_file: Path | None, stored: dict[str, Any] | None
) -> dict[str, Any]:
    """matrix.ipynb parameters: a given file, else a stored sweep's own (resume), else full."""
    if params_file is not None:
        values = read_parameters(params_file)
    elif stored is not None:
        values = dict(stored)
    else:
        values = read_parameters(FULL_PARAMS)
    values.pop("sweep_name", None)
    values.pop("database_url", None)
    return values
