"""The library's pipeline parser, with the request body's types checked first."""

from __future__ import annotations

from typing import Any

from nogilbench.codec import OUTPUT_FORMATS
from nogilbench.errors import InvalidOperation
from nogilbench.pipeline import Pipeline, parse_pipeline


def checked_pipeline(raw: Any) -> Pipeline:
    """`parse_pipeline`, but a wrongly typed field is an INVALID_OPERATION, never a crash."""
    if isinstance(raw, dict) and "format" in raw and not isinstance(raw["format"], str):
        raise InvalidOperation(f"format must be one of {', '.join(OUTPUT_FORMATS)}", "format")
    try:
        return parse_pipeline(raw)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidOperation(f"invalid pipeline: {exc}", "pipeline") from None
