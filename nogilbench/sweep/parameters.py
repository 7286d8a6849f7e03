"""The one door into a sweep: raw parameters from the CLI, a notebook's YAML or an API body
turned into a validated `SweepConfig`.

Every face hands over what its user wrote (lists or comma-separated text, `workers="auto"`,
an image size as "1280x853" or [w, h], `max_rounds=None`), and this module alone parses,
defaults and validates it, so a parameter means the same thing wherever it was given and
is checked once (`SweepConfig.validate`). Bad values raise InvalidParameter with one line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any

from nogilbench.errors import InvalidParameter
from nogilbench.host.interpreters import usable_cores
from nogilbench.imaging.samples import parse_size
from nogilbench.sweep.config import SweepConfig
from nogilbench.sweep.scaling import resolve_worker_counts

# The parameters that define a sweep (SweepConfig's fields but its name), so a stored
# sweep's `parameters` can be handed back through this door to resume it.
SWEEP_PARAMETERS = tuple(field.name for field in fields(SweepConfig) if field.name != "name")


def _texts(what: str, value: str | Sequence[str]) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(part) for part in value]


def _integers(what: str, value: str | int | Sequence[int | str]) -> list[int]:
    parts = _texts(what, value) if isinstance(value, str) else value
    if isinstance(parts, int):
        parts = [parts]
    try:
        return [int(part) for part in parts]
    except (TypeError, ValueError):
        raise InvalidParameter(f"{what} must be integers, got {value!r}") from None


def worker_counts(value: str | int | Sequence[int | str], cores: int | None = None) -> list[int]:
    """'auto' (1, 2, 4, ... up to the usable cores, then 2x cores), '1,2,4' or [1, 2, 4]."""
    if isinstance(value, str):
        return resolve_worker_counts(value, cores or usable_cores())
    return _integers("workers", value)


def image_size(value: str | Sequence[int | str]) -> tuple[int, int]:
    if isinstance(value, str):
        return parse_size(value)
    try:
        width, height = (int(side) for side in value)
    except (TypeError, ValueError):
        raise InvalidParameter(f"image size must be WIDTHxHEIGHT, got {value!r}") from None
    return width, height


def _number(what: str, value: Any, kind: type) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise InvalidParameter(f"{what} must be a number, got {value!r}") from None


def sweep_config(name: str, parameters: Mapping[str, Any], cores: int | None = None) -> SweepConfig:
    """A validated SweepConfig named `name` from raw `parameters` (absent ones: defaults)."""
    unknown = sorted(set(parameters) - set(SWEEP_PARAMETERS))
    if unknown:
        raise InvalidParameter(f"unknown sweep parameter(s): {', '.join(unknown)}")
    values: dict[str, Any] = {"name": str(name)}
    given = {key: value for key, value in parameters.items() if value is not None}
    for key in ("workloads", "methods"):
        if key in given:
            values[key] = _texts(key, given[key])
    if "images" in given:
        values["images"] = _integers("images", given["images"])
    if "workers" in given:
        values["workers"] = worker_counts(given["workers"], cores)
    if "image_size" in given:
        values["image_size"] = image_size(given["image_size"])
    for key in ("repeats", "seed", "max_rounds", "images_per_worker"):
        if key in given:
            values[key] = _number(key.replace("_", " "), given[key], int)
    for key in ("target",):
        if key in given:
            values[key] = _number(key, given[key], float)
    if "budget_s" in parameters:  # None is meaningful here: no budget
        budget = parameters["budget_s"]
        values["budget_s"] = None if budget is None else _number("budget", budget, float)
    for key in ("baseline", "pin"):
        if key in given:
            values[key] = bool(given[key])
    for key in ("past_cores", "scaling"):
        if key in given:
            values[key] = str(given[key])
    if "start_method" in given:
        values["start_method"] = str(given["start_method"]) or None
    return SweepConfig(**values).validate()
