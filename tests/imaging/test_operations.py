"""Operations and pipeline validation: results, bounds, clear errors."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from nogilbench.errors import InvalidOperation
from nogilbench.imaging.operations import OPERATIONS, validate_params
from nogilbench.imaging.pipeline import BENCHMARK_PIPELINE, parse_pipeline, pipeline_json_schema

SOURCE = Image.new("RGB", (200, 100), (200, 40, 40))


def run(spec: dict) -> Image.Image:
    return parse_pipeline(spec).apply(SOURCE)


def test_resize_keeps_aspect_inside_box() -> None:
    assert run({"operations": [{"op": "resize", "width": 50, "height": 50}]}).size == (50, 25)


def test_resize_exact_without_aspect() -> None:
    spec = {"operations": [{"op": "resize", "width": 30, "height": 40, "keep_aspect": False}]}
    assert run(spec).size == (30, 40)


def test_thumbnail_never_enlarges() -> None:
    assert run({"operations": [{"op": "thumbnail", "max_size": 1000}]}).size == (200, 100)
    assert run({"operations": [{"op": "thumbnail", "max_size": 40}]}).size == (40, 20)


def test_grayscale_mode_and_rotate_expands() -> None:
    assert run({"operations": [{"op": "grayscale"}]}).mode == "L"
    assert run({"operations": [{"op": "rotate", "angle": 90}]}).size == (100, 200)


def test_blur_sharpen_watermark_change_pixels_keep_size() -> None:
    for op in ("blur", "sharpen", "watermark"):
        out = run({"operations": [{"op": op}]})
        assert out.size == SOURCE.size and out.mode == "RGB"
    marked = run({"operations": [{"op": "watermark", "text": "hi", "size": 40, "opacity": 1.0}]})
    assert marked.tobytes() != SOURCE.tobytes()


@pytest.mark.parametrize(
    "fmt,magic", [("jpeg", b"\xff\xd8"), ("png", b"\x89PNG"), ("webp", b"RIFF")]
)
def test_output_formats(fmt: str, magic: bytes) -> None:
    buffer = io.BytesIO()
    SOURCE.save(buffer, format="PNG")
    out = parse_pipeline({"operations": [{"op": "grayscale"}], "format": fmt}).run(
        buffer.getvalue()
    )
    assert out.startswith(magic)
    assert Image.open(io.BytesIO(out)).size == SOURCE.size


@pytest.mark.parametrize(
    "spec,field",
    [
        ({"operations": [{"op": "explode"}]}, "op"),
        ({"operations": [{"op": "blur", "radius": 0}]}, "blur.radius"),
        ({"operations": [{"op": "blur", "radius": 51}]}, "blur.radius"),
        ({"operations": [{"op": "blur", "radius": "big"}]}, "blur.radius"),
        ({"operations": [{"op": "blur", "radius": float("nan")}]}, "blur.radius"),
        ({"operations": [{"op": "resize", "width": 10}]}, "resize.height"),
        ({"operations": [{"op": "resize", "width": 10.5, "height": 3}]}, "resize.width"),
        ({"operations": [{"op": "resize", "width": True, "height": 3}]}, "resize.width"),
        ({"operations": [{"op": "resize", "width": 9000, "height": 3}]}, "resize.width"),
        ({"operations": [{"op": "grayscale", "level": 3}]}, "grayscale.level"),
        ({"operations": [{"op": "watermark", "text": ""}]}, "watermark.text"),
        ({"operations": [{"op": "watermark", "position": "moon"}]}, "watermark.position"),
        ({"operations": []}, "operations"),
        ({"operations": [{"op": "blur"}] * 21}, "operations"),
        ({"operations": ["blur"]}, "operations[0]"),
        ({"operations": [{"op": "blur"}], "format": "gif"}, "format"),
        ({"operations": [{"op": "blur"}], "format": ["jpeg"]}, "format"),
        ({"operations": [{"op": "blur"}], "format": {"a": 1}}, "format"),
        ({"operations": [{"op": "watermark", "position": ["center"]}]}, "watermark.position"),
        ({"operations": [{"op": "blur"}], "quality": 0}, "quality"),
        ({"operations": [{"op": "blur"}], "extra": 1}, "extra"),
        ([], "pipeline"),
    ],
)
def test_bad_pipelines_name_the_field(spec: object, field: str) -> None:
    with pytest.raises(InvalidOperation) as caught:
        parse_pipeline(spec)
    assert caught.value.field == field
    assert caught.value.error_code == "INVALID_OPERATION"
    assert caught.value.message


def test_defaults_filled_and_round_trip() -> None:
    assert validate_params("blur", {}) == {"radius": 2.0}
    pipeline = parse_pipeline({"operations": [{"op": "blur"}]})
    assert parse_pipeline(pipeline.to_dict()) == pipeline
    assert parse_pipeline(BENCHMARK_PIPELINE.to_dict()) == BENCHMARK_PIPELINE


def test_json_schema_lists_every_operation() -> None:
    variants = pipeline_json_schema()["properties"]["operations"]["items"]["oneOf"]
    assert {variant["title"] for variant in variants} == set(OPERATIONS)
    resize = next(v for v in variants if v["title"] == "resize")
    assert resize["required"] == ["op", "width", "height"]
    assert resize["properties"]["width"]["maximum"] == 8192


def test_python_convolve_is_bounded_and_matches_kernel() -> None:
    out = run({"operations": [{"op": "python_convolve", "max_side": 64}]})
    assert out.mode == "L" and out.size == (64, 32)
    flat = parse_pipeline({"operations": [{"op": "python_convolve", "kernel": "edge"}]})
    edges = flat.apply(Image.new("RGB", (40, 30), (90, 90, 90)))
    assert set(edges.tobytes()[41:79]) == {0}  # a flat image has no edges inside the border
    with pytest.raises(InvalidOperation):
        parse_pipeline({"operations": [{"op": "python_convolve", "max_side": 4096}]})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
op_names = st.sampled_from([*OPERATIONS, "nope"])
steps = st.dictionaries(st.text(max_size=10), json_values, max_size=4).flatmap(
    lambda params: op_names.map(lambda name: {"op": name, **params})
)


@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"operations": st.lists(steps | json_values, max_size=3)},
            optional={"format": json_values, "quality": json_values},
        ),
    )
)
@settings(max_examples=300, deadline=None)
def test_any_json_is_a_pipeline_or_invalid_operation(raw: object) -> None:
    """Whatever a client sends, the parser answers with a Pipeline or INVALID_OPERATION."""
    try:
        parse_pipeline(raw)
    except InvalidOperation as exc:
        assert exc.message


def test_huge_integers_are_out_of_range_not_overflow() -> None:
    with pytest.raises(InvalidOperation, match="between"):
        parse_pipeline({"operations": [{"op": "blur", "radius": 10**400}]})
