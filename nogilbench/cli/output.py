"""How the commands print: a rich console sized for pipes and CI logs, and optional numbers."""

from __future__ import annotations

from typing import Any


def console(stderr: bool = False) -> Any:
    """A rich console; wide enough for the tables when output is piped to a file or CI log."""
    from rich.console import Console

    made = Console(stderr=stderr)
    return made if made.is_terminal else Console(stderr=stderr, width=160)


def fmt(value: Any, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)
