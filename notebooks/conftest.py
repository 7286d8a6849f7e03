"""nbval settings for the notebooks (`pytest --nbval notebooks/`).

- matrix.ipynb runs first: it writes the tiny sweep that report.ipynb and explore.ipynb read
  (report.ipynb's defaults point to it; explore.ipynb's point to the user's own store, so its
  parameters cell gets the tiny store's added here, as papermill would inject them), so a
  fresh clone validates in one run;
- the kernel is the Python running pytest (--nbval-current-env) unless a kernel is named;
- nbval_sanitize.cfg applies unless another sanitize file is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

HERE = Path(__file__).resolve().parent
ORDER = ("matrix.ipynb", "race_condition.ipynb", "report.ipynb", "explore.ipynb")


def _tiny_store() -> dict[str, Any]:
    """explore.ipynb's parameters for the tiny sweep matrix.ipynb writes (params/tiny.yaml)."""
    tiny = yaml.safe_load((HERE / "params" / "tiny.yaml").read_text())
    return {
        "database_url": tiny["database_url"],
        "sweep_name": tiny["sweep_name"],
        "images": max(tiny["images"]),
    }


def pytest_configure(config: pytest.Config) -> None:
    option = config.option
    if not (getattr(option, "nbval", False) or getattr(option, "nbval_lax", False)):
        return
    if not option.nbval_kernel_name and not option.nbval_current_env:
        option.nbval_current_env = True
    if not option.nbval_sanitize_with:
        option.nbval_sanitize_with = str(HERE / "nbval_sanitize.cfg")


def _rank(item: pytest.Item) -> tuple[int, int]:
    path = Path(str(item.path))
    if path.suffix != ".ipynb" or path.parent != HERE:
        return (0, 0)
    return (1, ORDER.index(path.name) if path.name in ORDER else len(ORDER))


def _inject(cell: Any, parameters: dict[str, Any]) -> None:
    lines = [f"{name} = {value!r}" for name, value in parameters.items()]
    cell.source += "\n# nbval: the tiny store (notebooks/conftest.py)\n" + "\n".join(lines)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: cells keep their order inside each notebook
    for item in items:
        cell = getattr(item, "cell", None)  # an nbval cell item
        if cell is None or Path(str(item.path)) != HERE / "explore.ipynb":
            continue
        if "parameters" in cell.metadata.get("tags", []):
            _inject(cell, _tiny_store())
