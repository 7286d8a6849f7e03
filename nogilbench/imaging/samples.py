"""Deterministic, seeded sample images that look roughly like photographs.

Each image layers a colour gradient, soft shapes, a text label and fine noise, then is
saved as JPEG: the encoder and decoder get realistic work, and the same seed always gives
the same bytes, so sweeps on different days read identical inputs.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from nogilbench.errors import InvalidParameter, SweepCancelled

# ~40 ms of Pillow work per image: the default sweep fits its 15 minutes on 2 cores
DEFAULT_SIZE = (960, 640)
MIN_SIDE, MAX_SIDE = 32, 8192


def parse_size(text: str) -> tuple[int, int]:
    """'1280x853' -> (1280, 853), bounded; raise InvalidParameter otherwise."""
    try:
        width_text, height_text = text.lower().split("x")
        width, height = int(width_text), int(height_text)
    except ValueError:
        raise InvalidParameter(f"image size must look like 1280x853, got {text!r}") from None
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise InvalidParameter(
            f"image size sides must be between {MIN_SIDE} and {MAX_SIDE} pixels, got {text}"
        )
    return width, height


def render_image(seed: int, size: tuple[int, int] = DEFAULT_SIZE) -> Image.Image:
    rng = random.Random(seed)
    width, height = size
    top = tuple(rng.randrange(40, 220) for _ in range(3))
    bottom = tuple(rng.randrange(20, 200) for _ in range(3))
    column = Image.new("RGB", (1, 256))
    column.putdata(
        [
            tuple(t + (b - t) * y // 255 for t, b in zip(top, bottom, strict=True))
            for y in range(256)
        ]
    )
    image = column.resize(size, Image.Resampling.BILINEAR)

    shapes = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(shapes)
    for _ in range(12):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1 = x0 + rng.randrange(width // 10 + 1, width // 2 + 2)
        y1 = y0 + rng.randrange(height // 10 + 1, height // 2 + 2)
        colour = (*(rng.randrange(256) for _ in range(3)), rng.randrange(60, 180))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    shapes = shapes.filter(ImageFilter.GaussianBlur(max(1, width // 200)))
    image = Image.alpha_composite(image.convert("RGBA"), shapes).convert("RGB")

    label = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(10, height // 14))
    label.text((width // 20, height // 20), f"nogilbench #{seed}", font=font, fill=(250, 250, 250))

    # Fine sensor-like noise from the seeded generator (Image.effect_noise is not seedable).
    noise_side = 128
    noise = Image.frombytes("L", (noise_side, noise_side), rng.randbytes(noise_side * noise_side))
    noise = noise.resize(size, Image.Resampling.NEAREST).convert("RGB")
    return Image.blend(image, noise, 0.08)


def generate_images(
    directory: Path,
    count: int,
    size: tuple[int, int] = DEFAULT_SIZE,
    seed: int = 0,
    stop_event: threading.Event | None = None,
) -> list[Path]:
    """Write `count` JPEGs under `directory` (reusing ones already there) and return their paths.

    With `stop_event`, it is checked between images (large images take seconds each) and
    SweepCancelled raised once it is set."""
    if count < 1:
        raise InvalidParameter(f"image count must be at least 1, got {count}")
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = directory / f"sample_{seed + index:05d}_{size[0]}x{size[1]}.jpg"
        if not path.exists():
            if stop_event is not None and stop_event.is_set():
                raise SweepCancelled("the sweep was cancelled while its images were generated")
            partial = path.with_suffix(".part")
            render_image(seed + index, size).save(partial, format="JPEG", quality=90)
            partial.replace(path)  # never leave a half-written image a later sweep would read
        paths.append(path)
    return paths
