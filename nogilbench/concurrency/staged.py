"""Work split in two stages, so a runner can choose where each stage runs.

`Staged(prepare, kernel)` computes `kernel(*prepare(data))`. Runners that share one
interpreter simply call it. The `subinterpreters` runner runs `prepare` in the main
interpreter and only `kernel` inside a sub-interpreter: the pure-Python workload decodes with
Pillow, which cannot load in a sub-interpreter, and hands the pixel bytes over.

A kernel must be a module-level function of a module that imports nothing a
sub-interpreter cannot load (nogilbench.imaging.kernels is stdlib-only). Stdlib only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Staged:
    """compute(data) == kernel(*prepare(data)); picklable (both stages by reference)."""

    prepare: Callable[[Any], tuple[Any, ...]]
    kernel: Callable[..., Any]

    def __call__(self, data: Any) -> Any:
        return self.kernel(*self.prepare(data))
