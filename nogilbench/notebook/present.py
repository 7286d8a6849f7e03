"""Display helpers for the notebooks: a figure is saved as PNG and shown once, Markdown
sentences are shown as a list. Kept here so the notebooks hold no logic."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from nogilbench.report.conclusions import as_markdown
from nogilbench.report.figures import save_figure


def figure_name(name: str, sweep: str, several: bool) -> str:
    """`speedup`, or `<sweep>-speedup` when the report covers several sweeps."""
    return f"{sweep}-{name}" if several else name


def show_figure(
    fig: Figure | None, name: str, directory: Path | None, missing: str = "Nothing to plot."
) -> Path | None:
    """Save `fig` as `<directory>/<name>.png` (if a directory), display it once, close it;
    say `missing` instead if there is no figure."""
    from IPython.display import Markdown, display

    if fig is None:
        display(Markdown(f"_{missing}_"))
        return None
    path = save_figure(fig, name, directory) if directory is not None else None
    display(fig)
    plt.close(fig)
    return path


def show_markdown(lines: Iterable[str], empty: str = "Nothing to note.") -> None:
    from IPython.display import Markdown, display

    display(Markdown(as_markdown(lines, empty)))


def heading(text: str, level: int = 3) -> None:
    from IPython.display import Markdown, display

    display(Markdown(f"{'#' * level} {text}"))
