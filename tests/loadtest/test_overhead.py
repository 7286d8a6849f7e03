"""loadtest.overhead on a real server: every call answered 200 (raise_for_status), one CPU
and one wall figure per batch. Speed is not checked: that is `make performance`'s."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from loadtest.overhead import measure_overhead


@pytest.mark.slow
def test_batches_of_sequential_calls_give_cpu_per_request(tmp_path: Path) -> None:
    result = measure_overhead(sys.executable, None, tmp_path, requests=20, repeats=2)
    assert result["requests"] == 20
    assert len(result["cpu_ms_per_request"]) == len(result["wall_ms_per_request"]) == 2
    assert all(v > 0 for v in result["wall_ms_per_request"])
    assert all(v >= 0 for v in result["cpu_ms_per_request"])
