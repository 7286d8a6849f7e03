"""Work bounded by what it produces: every step's output size is known before it runs."""

from __future__ import annotations

import itertools

import pytest
from PIL import Image

from nogilbench.errors import InvalidOperation
from nogilbench.imaging.operations import OPERATIONS, output_size, validate_params
from nogilbench.imaging.pipeline import parse_pipeline

SIZES = [(1, 1), (4, 4), (37, 5), (64, 48), (48, 640), (333, 211)]
PARAMS = {
    "resize": [
        {"width": 100, "height": 30},
        {"width": 7, "height": 900, "keep_aspect": False},
        {"width": 501, "height": 77, "keep_aspect": True},
    ],
    "thumbnail": [{"max_size": 16}, {"max_size": 50}, {"max_size": 2048}],
    "rotate": [
        {"angle": angle, "expand": expand}
        for angle, expand in itertools.product(
            (0, 1.5, 30, 45, 90, -90, 180, 270, 359.9), (True, False)
        )
    ],
    "python_convolve": [{"max_side": 16}, {"max_side": 40}],
    "blur": [{}],
    "sharpen": [{}],
    "grayscale": [{}],
    "watermark": [{"size": 8}],
}


def test_every_operation_has_its_sizes_covered():
    assert set(PARAMS) == set(OPERATIONS)


@pytest.mark.parametrize("op", sorted(PARAMS))
def test_computed_size_is_the_size_pillow_makes(op):
    for size, raw in itertools.product(SIZES, PARAMS[op]):
        params = validate_params(op, raw)
        made = OPERATIONS[op].apply(Image.new("RGB", size, (10, 20, 30)), **params).size
        assert output_size(op, size, params) == made, (op, size, raw)


def test_growing_pipeline_is_refused_naming_the_step():
    # The attack: 4x4 -> 8192x8192 (67 MP) -> rotate 45 with expand (~134 MP).
    pipeline = parse_pipeline(
        {
            "operations": [
                {"op": "grayscale"},
                {"op": "resize", "width": 8192, "height": 8192},
                {"op": "rotate", "angle": 45},
            ]
        }
    )
    assert pipeline.output_sizes((4, 4))[-1] == (11586, 11586)
    with pytest.raises(InvalidOperation) as refused:
        pipeline.check_size((4, 4), 40_000_000)
    assert refused.value.field == "operations[1]"
    assert "resize" in refused.value.message and "67,108,864" in refused.value.message
    # Under a larger limit the intermediate passes and the rotation is the step refused.
    with pytest.raises(InvalidOperation) as refused:
        pipeline.check_size((4, 4), 100_000_000)
    assert refused.value.field == "operations[2]"


def test_each_rotation_is_counted_not_only_the_input():
    steps = [{"op": "resize", "width": 3000, "height": 3000}] + [{"op": "rotate", "angle": 45}] * 3
    pipeline = parse_pipeline({"operations": steps})
    sizes = pipeline.output_sizes((10, 10))
    pixels = [width * height for width, height in sizes]
    assert pixels[0] == 9_000_000 and pixels[1] > 17_000_000 and pixels[2] > 35_000_000
    with pytest.raises(InvalidOperation) as refused:
        pipeline.check_size((10, 10), 40_000_000)
    assert refused.value.field == "operations[3]"


def test_apply_checks_before_the_first_step(monkeypatch):
    pipeline = parse_pipeline({"operations": [{"op": "resize", "width": 2000, "height": 2000}]})
    calls = []
    real = OPERATIONS["resize"].apply
    monkeypatch.setitem(
        OPERATIONS,
        "resize",
        OPERATIONS["resize"].__class__(
            "resize",
            OPERATIONS["resize"].summary,
            OPERATIONS["resize"].params,
            lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs),
            OPERATIONS["resize"].output_size,
        ),
    )
    with pytest.raises(InvalidOperation):
        pipeline.apply(Image.new("RGB", (4, 4)), max_pixels=1_000_000)
    assert calls == []  # refused from the numbers: the resize never ran
    assert pipeline.apply(Image.new("RGB", (4, 4)), max_pixels=4_000_000).size == (2000, 2000)
    assert calls == [1]
