"""Markdown pieces the performance page's sections share."""

from __future__ import annotations

import statistics
from typing import Any


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def median(values: list[float]) -> float:
    """The median, 0 for no values (a section with nothing recorded)."""
    return statistics.median(values) if values else 0.0
