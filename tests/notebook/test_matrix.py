"""nogilbench.notebook.matrix: a sweep's configuration from the notebooks' parameter files."""

from __future__ import annotations

import pytest

from nogilbench.concurrency.runners import MATRIX_METHODS
from nogilbench.concurrency.runners import METHODS as ALL_METHODS
from nogilbench.errors import InvalidParameter
from nogilbench.notebook import matrix
from nogilbench.report.render import matrix_parameters_for, read_parameters
from nogilbench.sweep.parameters import SWEEP_PARAMETERS
from tests.support import ROOT


def test_sweep_config_from_notebook_parameters() -> None:
    params = read_parameters(ROOT / "notebooks" / "params" / "full.yaml")
    config = matrix.sweep_config(
        "x", **{k: params[k] for k in SWEEP_PARAMETERS if k in params}
    )  # fmt: skip
    assert config.image_size == (960, 640)
    matrix_methods = [m for m in config.methods if m in MATRIX_METHODS]
    assert len(config.images) * len(config.workers) * len(matrix_methods) == 48
    assert set(config.methods) == set(ALL_METHODS) and config.past_cores == "same-binary"
    weak = read_parameters(ROOT / "notebooks" / "params" / "weak.yaml")
    weak_config = matrix.sweep_config(
        "w", **{k: weak[k] for k in SWEEP_PARAMETERS if k in weak}
    )  # fmt: skip
    assert weak_config.scaling == "weak" and weak_config.image_counts() == [10, 20, 40, 80]
    assert matrix.sweep_config("x", ["pillow"], [2], [1], ["sync"], 1, [64, 48]).image_size == (
        64,
        48,
    )
    with pytest.raises(InvalidParameter):
        matrix.sweep_config("x", ["nope"], [2], [1], ["sync"], 1, "64x48")
    stored = config.parameters()
    assert matrix_parameters_for("x", None, stored) == stored  # resume: the sweep's own
