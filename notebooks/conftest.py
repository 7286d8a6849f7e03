"""nbval settings for the notebooks (`pytest --nbval notebooks/`).

- matrix.ipynb runs first: it writes the tiny sweep that report.ipynb and explore.ipynb read
  (their default parameters point to it), so a fresh clone validates in one run;
- the kernel is the Python running pytest (--nbval-current-env) unless a kernel is named;
- nbval_sanitize.cfg applies unless another sanitize file is given.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ORDER = ("matrix.ipynb", "race_condition.ipynb", "report.ipynb", "explore.ipynb")


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: cells keep their order inside each notebook
