"""A validated pipeline: ordered operations plus the output encoding.

The wire form (JSON, CLI, API) is
    {"operations": [{"op": "resize", "width": 640, "height": 480}, {"op": "blur"}],
     "format": "webp", "quality": 80}
`parse_pipeline` checks every bound and returns an immutable `Pipeline`; `Pipeline.run`
decodes, applies and encodes. The API uses these unchanged.

Work is bounded by what it produces, not only by what it reads: `Pipeline.check_size`
computes every step's output size from the input's and refuses a pipeline whose
intermediate or output passes the pixel limit (a 4x4 image resized to 8192x8192, then
rotated, is refused from its numbers before any pixel exists).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from nogilbench.errors import InvalidOperation
from nogilbench.imaging.codec import DEFAULT_MAX_PIXELS, OUTPUT_FORMATS, decode_image, encode_image
from nogilbench.imaging.operations import (
    OPERATIONS,
    ParamValue,
    Size,
    apply_operation,
    output_size,
    validate_params,
)

MAX_STEPS = 20
QUALITY_RANGE = (1, 95)


@dataclass(frozen=True)
class Step:
    op: str
    params: Mapping[str, ParamValue] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, **self.params}


@dataclass(frozen=True)
class Rendered:
    """An encoded output and the size of the image it encodes."""

    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class Pipeline:
    steps: tuple[Step, ...]
    format: str = "jpeg"
    quality: int = 85

    def to_dict(self) -> dict[str, Any]:
        return {
            "operations": [step.to_dict() for step in self.steps],
            "format": self.format,
            "quality": self.quality,
        }

    def output_sizes(self, size: Size) -> list[Size]:
        """The size after each step, from the input's size alone."""
        sizes = []
        for step in self.steps:
            size = output_size(step.op, size, step.params)
            sizes.append(size)
        return sizes

    def check_size(self, size: Size, max_pixels: int) -> Size:
        """The output size; InvalidOperation naming the first step that passes `max_pixels`."""
        for index, step in enumerate(self.steps):
            size = output_size(step.op, size, step.params)
            width, height = size
            if width * height > max_pixels:
                raise InvalidOperation(
                    f"operations[{index}] ({step.op}) would make a {width}x{height} image "
                    f"({width * height:,} pixels), over the limit of {max_pixels:,} pixels",
                    f"operations[{index}]",
                )
        return size

    def apply(
        self,
        image: Image.Image,
        max_pixels: int | None = None,
        checkpoint: Callable[[], None] | None = None,
    ) -> Image.Image:
        """Apply every step; with `max_pixels`, the sizes are checked before the first step.
        `checkpoint` runs before each step: it may raise to stop the work there (a caller
        that no longer wants the result)."""
        if max_pixels is not None:
            self.check_size(image.size, max_pixels)
        for step in self.steps:
            if checkpoint is not None:
                checkpoint()
            image = apply_operation(image, step.op, step.params)
        return image

    def render(
        self,
        data: bytes,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        checkpoint: Callable[[], None] | None = None,
    ) -> Rendered:
        """Decode untrusted bytes, apply every step, encode without metadata: the one
        decode -> operations -> encode of the library, the service and its jobs.

        `max_pixels` bounds the decoded image and every step's output; `checkpoint` runs
        before each step and before encoding (it may raise: a caller gone away)."""
        decoded = decode_image(data, max_pixels)
        image = self.apply(decoded.image, max_pixels, checkpoint)
        if checkpoint is not None:
            checkpoint()
        return Rendered(encode_image(image, self.format, self.quality), *image.size)

    def run(self, data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
        """The encoded output of `render`."""
        return self.render(data, max_pixels).data


def parse_pipeline(raw: Any) -> Pipeline:
    """Validate the wire form; raise InvalidOperation naming the offending field."""
    if not isinstance(raw, Mapping):
        raise InvalidOperation("a pipeline must be an object with an 'operations' list", "pipeline")
    unknown = set(raw) - {"operations", "format", "quality"}
    if unknown:
        raise InvalidOperation(f"unknown pipeline field {sorted(unknown)[0]!r}", sorted(unknown)[0])
    operations = raw.get("operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidOperation("'operations' must be a non-empty list", "operations")
    if len(operations) > MAX_STEPS:
        raise InvalidOperation(f"at most {MAX_STEPS} operations per pipeline", "operations")
    steps = []
    for index, entry in enumerate(operations):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("op"), str):
            raise InvalidOperation(
                f"operations[{index}] must be an object with an 'op' name", f"operations[{index}]"
            )
        params = {key: value for key, value in entry.items() if key != "op"}
        steps.append(Step(entry["op"], validate_params(entry["op"], params)))
    fmt = raw.get("format", "jpeg")
    if not isinstance(fmt, str) or fmt not in OUTPUT_FORMATS:
        raise InvalidOperation(f"format must be one of {', '.join(OUTPUT_FORMATS)}", "format")
    quality = raw.get("quality", 85)
    if isinstance(quality, float) and quality.is_integer():  # 80.0 is an integer in JSON Schema
        quality = int(quality)
    low, high = QUALITY_RANGE
    if isinstance(quality, bool) or not isinstance(quality, int) or not low <= quality <= high:
        raise InvalidOperation(f"quality must be an integer between {low} and {high}", "quality")
    return Pipeline(tuple(steps), fmt, quality)


def pipeline_json_schema() -> dict[str, Any]:
    """JSON Schema of the wire form, for OpenAPI documentation."""
    variants = []
    for op in OPERATIONS.values():
        properties: dict[str, Any] = {"op": {"const": op.name}}
        properties.update({name: spec.json_schema() for name, spec in op.params.items()})
        required = ["op"] + [name for name, spec in op.params.items() if spec.default is None]
        variants.append(
            {
                "title": op.name,
                "description": op.summary,
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            }
        )
    return {
        "type": "object",
        "properties": {
            "operations": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_STEPS,
                "items": {"oneOf": variants},
            },
            "format": {"type": "string", "enum": list(OUTPUT_FORMATS), "default": "jpeg"},
            "quality": {
                "type": "integer",
                "minimum": QUALITY_RANGE[0],
                "maximum": QUALITY_RANGE[1],
                "default": 85,
            },
        },
        "required": ["operations"],
        "additionalProperties": False,
    }


# The benchmark's Pillow workload: a typical web-service pipeline.
BENCHMARK_PIPELINE = parse_pipeline(
    {
        "operations": [
            {"op": "thumbnail", "max_size": 640},
            {"op": "blur", "radius": 1.0},
            {"op": "sharpen", "radius": 1.0},
            {"op": "watermark", "text": "nogilbench", "size": 24},
        ],
        "format": "jpeg",
        "quality": 85,
    }
)
