"""Image operations: each one defined once, with the bounds of its parameters.

The CLI, the benchmark workloads and the API all apply operations through this registry
(via `nogilbench.imaging.pipeline`), so an operation and its limits exist in one place only.
Pillow's C code releases the GIL for the heavy parts (decode, resample, filters, encode).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from nogilbench.errors import InvalidOperation
from nogilbench.imaging.kernels import KERNELS, convolve3x3

ParamValue = int | float | str | bool
Size = tuple[int, int]


@dataclass(frozen=True)
class ParamSpec:
    """One operation parameter: its type, bounds or choices, and default (None = required)."""

    kind: type
    default: ParamValue | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    max_length: int | None = None
    description: str = ""

    def validate(self, op: str, name: str, value: Any) -> ParamValue:
        field = f"{op}.{name}"
        # bool is an int subclass: reject it where a number is expected, accept ints for floats.
        if self.kind is bool:
            if not isinstance(value, bool):
                raise InvalidOperation(f"{field} must be true or false", field)
            return value
        if self.kind in (int, float):
            # Checked without float() of arbitrary ints (10**400 would overflow).
            if isinstance(value, bool) or not isinstance(value, int | float):
                kind = "an integer" if self.kind is int else "a number"
                raise InvalidOperation(f"{field} must be {kind}", field)
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidOperation(f"{field} must be a finite number", field)
            if self.kind is int and isinstance(value, float) and not value.is_integer():
                raise InvalidOperation(f"{field} must be an integer", field)
            # Range first, on the value as given: float(10**400) would overflow.
            if (self.minimum is not None and value < self.minimum) or (
                self.maximum is not None and value > self.maximum
            ):
                shown = (
                    f"{value:g}"
                    if isinstance(value, float)
                    else str(value)
                    if value.bit_length() < 64
                    else "a huge integer"
                )
                raise InvalidOperation(
                    f"{field} must be between {self.minimum:g} and {self.maximum:g}, got {shown}",
                    field,
                )
            return self.kind(value)
        if not isinstance(value, str):
            raise InvalidOperation(f"{field} must be a string", field)
        if self.choices is not None and value not in self.choices:
            raise InvalidOperation(f"{field} must be one of {', '.join(self.choices)}", field)
        if self.max_length is not None and not 1 <= len(value) <= self.max_length:
            raise InvalidOperation(f"{field} must have 1 to {self.max_length} characters", field)
        return value

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": {bool: "boolean", int: "integer", float: "number", str: "string"}[self.kind]
        }
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.choices is not None:
            schema["enum"] = list(self.choices)
        if self.max_length is not None:
            schema["minLength"], schema["maxLength"] = 1, self.max_length
        if self.default is not None:
            schema["default"] = self.default
        if self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class Operation:
    name: str
    summary: str
    params: Mapping[str, ParamSpec]
    apply: Callable[..., Image.Image]
    # (width, height) of the output from the input's size and the parameters, computed the
    # way Pillow does, so a pipeline's sizes are known before any pixel is allocated.
    output_size: Callable[..., Size]


MAX_SIDE = 8192
POSITIONS = ("top-left", "top-right", "bottom-left", "bottom-right", "center")


def _resize(image: Image.Image, width: int, height: int, keep_aspect: bool) -> Image.Image:
    if keep_aspect:
        scale = min(width / image.width, height / image.height)
        width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _same_size(size: Size, /, **_params: ParamValue) -> Size:  # "/": watermark has a `size`
    return size


def _resize_size(size: Size, width: int, height: int, keep_aspect: bool) -> Size:
    if keep_aspect:
        scale = min(width / size[0], height / size[1])
        return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
    return width, height


def _fit_size(size: Size, box: Size) -> Size:
    """The size `Image.thumbnail(box)` produces (Pillow's preserve_aspect_ratio)."""
    width, height = size
    x, y = box
    if x >= width and y >= height:
        return size
    aspect = width / height

    def round_aspect(number: float, key: Callable[[int], float]) -> int:
        return max(min(math.floor(number), math.ceil(number), key=key), 1)

    if x / y >= aspect:
        x = round_aspect(y * aspect, key=lambda n: abs(aspect - n / y))
    else:
        y = round_aspect(x / aspect, key=lambda n: 0 if n == 0 else abs(aspect - x / n))
    return x, y


def _thumbnail_size(size: Size, max_size: int) -> Size:
    return _fit_size(size, (max_size, max_size))


def _rotate_size(size: Size, angle: float, expand: bool) -> Size:
    """The size `Image.rotate(angle, expand=expand)` produces (Pillow's own arithmetic)."""
    width, height = size
    angle = angle % 360.0
    if not expand or angle in (0, 180):
        return size
    if angle in (90, 270):
        return height, width
    radians = -math.radians(angle)
    cos, sin = round(math.cos(radians), 15), round(math.sin(radians), 15)
    # The four corners, rotated about the centre (the offset cancels in max - min).
    xs = [cos * x + sin * y for x, y in ((0, 0), (width, 0), (width, height), (0, height))]
    ys = [-sin * x + cos * y for x, y in ((0, 0), (width, 0), (width, height), (0, height))]
    cx, cy = width / 2.0, height / 2.0
    shift_x, shift_y = -(cos * cx + sin * cy) + cx, -(-sin * cx + cos * cy) + cy
    xs = [x + shift_x for x in xs]
    ys = [y + shift_y for y in ys]
    return (
        math.ceil(max(xs)) - math.floor(min(xs)),
        math.ceil(max(ys)) - math.floor(min(ys)),
    )


def _python_convolve_size(size: Size, kernel: str, passes: int, max_side: int) -> Size:
    return _fit_size(size, (max_side, max_side)) if max(size) > max_side else size


def _thumbnail(image: Image.Image, max_size: int) -> Image.Image:
    copy = image.copy()
    copy.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
    return copy


def _blur(image: Image.Image, radius: float) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(radius))


def _sharpen(image: Image.Image, radius: float, percent: int, threshold: int) -> Image.Image:
    return image.filter(
        ImageFilter.UnsharpMask(radius=radius, percent=percent, threshold=threshold)
    )


def _grayscale(image: Image.Image) -> Image.Image:
    return ImageOps.grayscale(image)


def _rotate(image: Image.Image, angle: float, expand: bool) -> Image.Image:
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=expand)


def _python_convolve(image: Image.Image, kernel: str, passes: int, max_side: int) -> Image.Image:
    # Pure-Python work on purpose: the operation the GIL serialises (see imaging.kernels).
    grey = ImageOps.grayscale(image)
    if max(grey.size) > max_side:
        grey = grey.copy()
        grey.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    pixels: bytes | bytearray = grey.tobytes()
    for _ in range(passes):
        pixels = convolve3x3(pixels, grey.width, grey.height, KERNELS[kernel])
    return Image.frombytes("L", grey.size, bytes(pixels))


_fonts_of_this_thread = threading.local()


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A font per thread and size: a FreeType face must not be used by two threads at once
    (with the GIL off that crashed; Pillow >= 12.2 also locks it, python-pillow/Pillow#9498)."""
    cache: dict[int, ImageFont.FreeTypeFont | ImageFont.ImageFont] = (
        getattr(_fonts_of_this_thread, "by_size", None) or {}
    )
    _fonts_of_this_thread.by_size = cache
    if size not in cache:
        # Pillow's bundled default font scales when FreeType is available (Pillow >= 10.1).
        cache[size] = ImageFont.load_default(size=size)
    return cache[size]


def _watermark(
    image: Image.Image, text: str, size: int, opacity: float, position: str
) -> Image.Image:
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = _font(size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    text_w, text_h = right - left, bottom - top
    margin = max(4, size // 2)
    x = {"left": margin, "right": base.width - text_w - margin}.get(
        position.split("-")[-1], (base.width - text_w) // 2
    )
    y = {"top": margin, "bottom": base.height - text_h - margin}.get(
        position.split("-")[0], (base.height - text_h) // 2
    )
    alpha = round(255 * opacity)
    draw.text((x - left + 1, y - top + 1), text, font=font, fill=(0, 0, 0, alpha))
    draw.text((x - left, y - top), text, font=font, fill=(255, 255, 255, alpha))
    composed = Image.alpha_composite(base, layer)
    return composed if image.mode == "RGBA" else composed.convert(image.mode)


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation(
            "resize",
            "Resize to width x height (Lanczos); keep_aspect fits inside that box.",
            {
                "width": ParamSpec(int, None, 1, MAX_SIDE, description="target width in pixels"),
                "height": ParamSpec(int, None, 1, MAX_SIDE, description="target height in pixels"),
                "keep_aspect": ParamSpec(bool, True, description="fit inside width x height"),
            },
            _resize,
            _resize_size,
        ),
        Operation(
            "thumbnail",
            "Shrink so the longer side is at most max_size (never enlarges).",
            {"max_size": ParamSpec(int, 256, 16, 2048, description="longest side in pixels")},
            _thumbnail,
            _thumbnail_size,
        ),
        Operation(
            "blur",
            "Gaussian blur.",
            {"radius": ParamSpec(float, 2.0, 0.1, 50, description="blur radius in pixels")},
            _blur,
            _same_size,
        ),
        Operation(
            "sharpen",
            "Unsharp-mask sharpening.",
            {
                "radius": ParamSpec(float, 2.0, 0.1, 10),
                "percent": ParamSpec(int, 150, 1, 500),
                "threshold": ParamSpec(int, 3, 0, 255),
            },
            _sharpen,
            _same_size,
        ),
        Operation("grayscale", "Convert to 8-bit grayscale.", {}, _grayscale, _same_size),
        Operation(
            "rotate",
            "Rotate counter-clockwise by angle degrees.",
            {
                "angle": ParamSpec(float, 90.0, -360, 360),
                "expand": ParamSpec(bool, True, description="grow the canvas to fit"),
            },
            _rotate,
            _rotate_size,
        ),
        Operation(
            "python_convolve",
            "3x3 convolution in pure Python on a grey copy, at most max_side pixels a side "
            "(CPU-bound interpreter work: the GIL serialises it, free-threading does not).",
            {
                "kernel": ParamSpec(str, "sharpen", choices=tuple(KERNELS)),
                "passes": ParamSpec(int, 1, 1, 4),
                "max_side": ParamSpec(int, 256, 16, 512, description="longest side processed"),
            },
            _python_convolve,
            _python_convolve_size,
        ),
        Operation(
            "watermark",
            "Draw a semi-transparent text watermark.",
            {
                "text": ParamSpec(str, "nogilbench", max_length=100),
                "size": ParamSpec(int, 32, 8, 200, description="font size in pixels"),
                "opacity": ParamSpec(float, 0.5, 0.0, 1.0),
                "position": ParamSpec(str, "bottom-right", choices=POSITIONS),
            },
            _watermark,
            _same_size,
        ),
    )
}


def validate_params(op_name: str, raw: Mapping[str, Any]) -> dict[str, ParamValue]:
    """Check an operation's parameters; fill defaults. Raises InvalidOperation."""
    operation = OPERATIONS.get(op_name)
    if operation is None:
        raise InvalidOperation(
            f"unknown operation {op_name!r}; choose from {', '.join(OPERATIONS)}", "op"
        )
    unknown = set(raw) - set(operation.params)
    if unknown:
        raise InvalidOperation(
            f"{op_name} has no parameter {sorted(unknown)[0]!r}; "
            f"it takes {', '.join(operation.params) or 'no parameters'}",
            f"{op_name}.{sorted(unknown)[0]}",
        )
    checked: dict[str, ParamValue] = {}
    for name, spec in operation.params.items():
        if name in raw:
            checked[name] = spec.validate(op_name, name, raw[name])
        elif spec.default is None:
            raise InvalidOperation(f"{op_name}.{name} is required", f"{op_name}.{name}")
        else:
            checked[name] = spec.default
    return checked


def output_size(op_name: str, size: Size, params: Mapping[str, ParamValue]) -> Size:
    """(width, height) an already-validated operation turns `size` into; nothing allocated."""
    return OPERATIONS[op_name].output_size(size, **params)


def apply_operation(
    image: Image.Image, op_name: str, params: Mapping[str, ParamValue]
) -> Image.Image:
    """Apply one already-validated operation."""
    return OPERATIONS[op_name].apply(image, **params)
