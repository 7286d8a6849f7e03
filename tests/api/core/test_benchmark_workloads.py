"""The benchmark request takes every built-in workload and method, never a user's module."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.core.schemas import BenchmarkRequest
from nogilbench.concurrency.runners import ALL_METHODS
from nogilbench.concurrency.workloads import BUILTIN_NAMES


def test_every_builtin_workload_and_method_is_accepted() -> None:
    request = BenchmarkRequest.model_validate(
        {"workloads": list(BUILTIN_NAMES), "methods": list(ALL_METHODS)}
    )
    assert request.workloads == list(BUILTIN_NAMES)
    assert "asyncio-loop" in request.methods


@pytest.mark.parametrize("name", ["gpu", "mymod.bench:make_workload", "os:system"])
def test_unknown_workloads_and_user_code_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        BenchmarkRequest.model_validate({"workloads": [name]})
