"""Conclusions computed from the measurements, each one decided by `results.decisions` on
the question it answers (`results.questions`), and printed with its interval's level.

Each function takes one sweep's results frame (`report.data.results_frame`) and returns
Markdown sentences; an empty list means the data holds nothing to say on that point.
"""

from nogilbench.report.conclusions.findings import build_cost_frame, build_costs, conclusions
from nogilbench.report.conclusions.guide import which_model_when
from nogilbench.report.conclusions.quality import (
    as_markdown,
    contention_notes,
    measurement_quality,
    oversubscription_notes,
    unavailable_notes,
    unstable_notes,
)

__all__ = [
    "as_markdown",
    "build_cost_frame",
    "build_costs",
    "conclusions",
    "contention_notes",
    "measurement_quality",
    "oversubscription_notes",
    "unavailable_notes",
    "unstable_notes",
    "which_model_when",
]
